/**
 * The storage side of the block storage service: what a driver must do to create a volume and
 * export it to one host. `sim` provisions LUNs on the simulator's arrays; `tgt` drives a real
 * iSCSI target (tgtd). The service owns status and attachments; a backend owns only
 * the storage objects and is told the connector of the host that will log in.
 */
import type { ConnectionInfo, ConnectorProperties } from './attach.ts';

/** The volume as a backend sees it. */
export interface BackendVolume {
  readonly id: string;
  readonly size: number;
  /** What `createVolume` returned for this volume (backend-private), or null. */
  readonly providerLocation: string | null;
}

/** A snapshot as a backend sees it (what `createSnapshot` returned is its provider location). */
export interface BackendSnapshot {
  readonly id: string;
  readonly size: number;
  readonly volumeId: string;
  readonly providerLocation: string | null;
}

/** What a backend reports of its one pool (scheduler-stats). `null`: it cannot tell. */
export interface BackendCapacity {
  readonly totalGiB: number | null;
  readonly freeGiB: number | null;
}

export interface VolumeBackend {
  /** Driver name: `sim`, `tgt`, `fake`. */
  readonly name: string;
  /** Cinder's `host@backend#pool`, shown as `os-vol-host-attr:host`. */
  readonly host: string;
  /** What the `volume_backend_name` extra spec of a type must say to land here. */
  readonly backendName: string;
  /** `vendor_name` and `storage_protocol` as the pool's capabilities show them. */
  readonly vendorName: string;
  /** Create the storage for a new volume; the result is stored as `provider_location`. */
  createVolume(volume: { id: string; size: number }): Promise<{ providerLocation: string | null }>;
  /** Remove the storage (and any export left behind). Idempotent. */
  deleteVolume(volume: BackendVolume): Promise<void>;
  /**
   * Grow the volume to `newSizeGiB` (larger than its size). Exports stay: a host logged in
   * sees the new size after a rescan. Re-running converges.
   */
  extendVolume(volume: BackendVolume, newSizeGiB: number): Promise<void>;
  /** A copy of the volume's data now, never exported; the result is the snapshot's provider location. */
  createSnapshot(snapshot: { id: string; size: number }, volume: BackendVolume): Promise<{ providerLocation: string | null }>;
  /** Remove a snapshot's storage. Idempotent. */
  deleteSnapshot(snapshot: BackendSnapshot): Promise<void>;
  /** A new volume of `size` (≥ the snapshot's) holding the snapshot's data. */
  createVolumeFromSnapshot(volume: { id: string; size: number }, snapshot: BackendSnapshot): Promise<{ providerLocation: string | null }>;
  /** A new volume of `size` (≥ the source's) holding a copy of the source volume's data. */
  createClonedVolume(volume: { id: string; size: number }, source: BackendVolume): Promise<{ providerLocation: string | null }>;
  /** The pool's size and free space; `allocatedGiB` is what the service has provisioned on it. */
  capacity(allocatedGiB: number): Promise<BackendCapacity>;
  /** Export the volume to the connector's initiator and describe how to reach it. */
  initializeConnection(volume: BackendVolume, connector: ConnectorProperties): Promise<ConnectionInfo>;
  /** Revoke the connector's access (null: every host). Idempotent. */
  terminateConnection(volume: BackendVolume, connector: ConnectorProperties | null): Promise<void>;
}
