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

export interface VolumeBackend {
  /** Driver name: `sim`, `tgt`, `fake`. */
  readonly name: string;
  /** Cinder's `host@backend#pool`, shown as `os-vol-host-attr:host`. */
  readonly host: string;
  /** Create the storage for a new volume; the result is stored as `provider_location`. */
  createVolume(volume: { id: string; size: number }): Promise<{ providerLocation: string | null }>;
  /** Remove the storage (and any export left behind). Idempotent. */
  deleteVolume(volume: BackendVolume): Promise<void>;
  /** Export the volume to the connector's initiator and describe how to reach it. */
  initializeConnection(volume: BackendVolume, connector: ConnectorProperties): Promise<ConnectionInfo>;
  /** Revoke the connector's access (null: every host). Idempotent. */
  terminateConnection(volume: BackendVolume, connector: ConnectorProperties | null): Promise<void>;
}
