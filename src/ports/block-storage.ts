/**
 * What the compute service needs from the layers below it, as small interfaces: the flows in
 * `attach-flow.ts` and `detach-flow.ts` see only these, so they run the same over Hitch's own
 * block storage service or a real Cinder, a kernel or QEMU-native initiator, libvirt or the
 * simulated hypervisor.
 */
import type { Span } from '../trace/span.ts';
import type { DiskSource } from './hypervisor.ts';

/** `initialize_connection`'s answer: `{"driver_volume_type": "iscsi", "data": {…}}`. Holds secrets. */
export interface ConnectionInfo {
  readonly driver_volume_type: string;
  readonly data: Readonly<Record<string, unknown>>;
}

/** The host's connector properties (os-brick's `get_connector_properties`). */
export type ConnectorProperties = Readonly<Record<string, unknown>> & { readonly host: string; readonly initiator?: string };

/** What connecting the volume on the host produced, enough to plug it and later to undo it. */
export interface AttachedDevice {
  /** The disk source for the hypervisor: a host block device, or QEMU's own iSCSI session. */
  readonly source: DiskSource;
  /** os-brick's `device_info` (`{type, path, scsi_wwn, multipath_id}`), kept for disconnect. */
  readonly deviceInfo: Readonly<Record<string, unknown>>;
  /** CHAP password to store as a hypervisor secret (QEMU-native mode); never logged. */
  readonly secretValue?: string;
}

/** The host side (seed steps 4 and 6): the initiator library behind the compute host. */
export interface HostVolumeConnector {
  connectorProperties(span: Span): Promise<ConnectorProperties>;
  connect(info: ConnectionInfo, span: Span): Promise<AttachedDevice>;
  /** Undo `connect`. `deviceInfo` may be null when the connect never returned (recovery). */
  disconnect(info: ConnectionInfo, deviceInfo: Readonly<Record<string, unknown>> | null, span: Span, opts: { force: boolean }): Promise<void>;
  /**
   * Remove what earlier connects and disconnects left on the host (node records, sessions,
   * disks, maps) for targets that no mapping in `keep` needs; take ownership of `adopt`'s
   * targets first. Optional: initiators that leave nothing on the host need not have it.
   */
  reap?(span: Span, opts: { keep: () => Promise<readonly ConnectionInfo[]>; adopt?: readonly ConnectionInfo[] }): Promise<ReapOutcome>;
}

/**
 * What a reap pass did; `failures` non-empty means leftovers remain and another pass is due, and
 * so does `pending`: logins iscsid may still complete (the caller gave up on them), watched
 * until their window has passed.
 */
export interface ReapOutcome {
  readonly reaped: readonly string[];
  readonly failures: readonly string[];
  readonly pending?: readonly string[];
}

export interface VolumeSummary {
  readonly id: string;
  /** The owning project: the compute API checks it against the server's. */
  readonly projectId: string;
  readonly status: string;
  readonly multiattach: boolean;
  readonly size: number;
}

/** Everything the storage side needs to know about one attachment of one volume. */
export interface AttachmentRef {
  readonly volumeId: string;
  readonly instanceUuid: string;
  /** The Cinder attachment (attachments flow); null in the legacy flow. */
  readonly attachmentId: string | null;
  readonly mountpoint: string;
}

/**
 * The storage side of attach and detach (seed steps 1, 3, 5, 8 and their undo), one
 * implementation per Cinder flow: the attachments API (3.44+) or the legacy actions.
 */
export interface VolumeAttachProtocol {
  readonly flow: 'attachments' | 'legacy';
  getVolume(volumeId: string, span: Span): Promise<VolumeSummary>;
  /** Reserve the volume for the instance (volume → `reserved`). */
  reserve(volumeId: string, instanceUuid: string, span: Span): Promise<{ attachmentId: string | null }>;
  /** Export the volume to this host and return how to reach it (volume → `attaching`). */
  initialize(ref: AttachmentRef, connector: ConnectorProperties, span: Span): Promise<ConnectionInfo>;
  /** Mark the attachment complete (volume → `in-use`). */
  complete(ref: AttachmentRef, span: Span): Promise<void>;
  /**
   * Undo `reserve`, and `initialize` when `connector` is given: the export goes and the volume
   * returns to `available` (attachment delete, or terminate + unreserve).
   */
  release(ref: AttachmentRef, connector: ConnectorProperties | null, span: Span): Promise<void>;
  /**
   * Reservations this instance holds on the volume (for recovery): attachment ids, or `[null]`
   * in the legacy flow when the volume is reserved and not yet attached (legacy reservations
   * name no instance).
   */
  attachmentsOf(volumeId: string, instanceUuid: string, span: Span): Promise<Array<string | null>>;
  /** Detach: volume → `detaching`; `rollDetaching` puts it back to `in-use`. */
  beginDetaching(volumeId: string, span: Span): Promise<void>;
  rollDetaching(volumeId: string, span: Span): Promise<void>;
  /** The end of a detach: export removed, attachment gone, volume `available` (or still in-use by others). */
  finishDetach(ref: AttachmentRef, connector: ConnectorProperties, span: Span): Promise<void>;
}
