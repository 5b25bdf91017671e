/**
 * The host side of an attach (seed steps 4 and 6): the contract the compute service calls and
 * brick implements (`Brick`), for every protocol and attach mode behind one port. Compute
 * neither looks at the host nor builds a disk: it gets a `DiskSource` the hypervisor can plug.
 */
import type { ConnectionInfo, ConnectorProperties, DeviceInfo } from './attach.ts';
import type { DiskSource } from './hypervisor.ts';
import type { Span } from './span.ts';

export interface ConnectOptions {
  /** The instance the volume is for: a hypervisor secret is named per instance and volume. */
  readonly instance: string;
}

/** What connecting produced: the disk for the hypervisor, and what undoing it will need. */
export interface AttachedVolume {
  /**
   * Validated and stable: a multipath map's or a path's udev link (never a `/dev/sdX` name,
   * which can change across rescans), or QEMU's own iSCSI session.
   */
  readonly source: DiskSource;
  /** os-brick's `device_info`, kept on the mapping for the disconnect. */
  readonly deviceInfo: DeviceInfo;
  /**
   * A hypervisor secret to define before plugging (QEMU-native CHAP): `source.auth` refers to
   * it by this usage. The value is a password; it is never logged.
   */
  readonly secret?: { readonly usage: string; readonly value: string };
}

export interface DisconnectOptions {
  /** Keep going past failures (flush errors, a logout that hangs) and report them in the trace. */
  readonly force: boolean;
}

/**
 * What a reap pass did; `failures` non-empty means leftovers remain and another pass is due, and
 * so does `pending`: logins iscsid may still complete (the caller gave up on them), watched
 * until their window has passed.
 */
export interface ReapOutcome {
  readonly reaped: readonly string[];
  readonly failures: readonly string[];
  readonly pending: readonly string[];
}

export interface ReapOptions {
  /** The connections every mapping on this host still needs (asked only when something is to reap). */
  readonly keep: () => Promise<readonly ConnectionInfo[]>;
  /** Connections a previous process made (crash recovery's journal): take them over first. */
  readonly adopt?: readonly ConnectionInfo[];
}

/** What the host saw after the storage grew an attached volume. */
export interface HostExtendOutcome {
  /**
   * The size, in bytes, of the disk the hypervisor plugged (the multipath map's, else the
   * path's), read from the kernel after the rescan; null when the host holds no device of its
   * own for the volume (QEMU-native: QEMU reads the LUN's new size when it is told to grow).
   */
  readonly sizeBytes: number | null;
}

export interface HostVolumeConnector {
  /** Seed step 4: what this host tells the storage about itself. */
  connectorProperties(span: Span): Promise<ConnectorProperties>;
  /** Seed step 6: make the volume usable on this host. */
  connect(info: ConnectionInfo, span: Span, opts: ConnectOptions): Promise<AttachedVolume>;
  /** Undo `connect`. `deviceInfo` is null when the connect never returned (recovery). */
  disconnect(info: ConnectionInfo, deviceInfo: DeviceInfo | null, span: Span, opts: DisconnectOptions): Promise<void>;
  /**
   * The usage of the hypervisor secret that holds this connection's CHAP password on
   * `instance` (what `connect` returns in `secret`), or null when the connection has no CHAP.
   */
  secretUsage(info: ConnectionInfo, instance: string): string | null;
  /**
   * The storage grew the attached volume: make this host see the new size (os-brick's
   * `extend_volume`: each path rescanned, the multipath map resized). Throws
   * `HITCH_VOLUME_EXTEND_FAILED` naming the step that failed.
   */
  extend(info: ConnectionInfo, span: Span): Promise<HostExtendOutcome>;
  /**
   * Remove what earlier connects and disconnects left on the host (node records, sessions,
   * disks, maps) for targets no mapping in `keep` needs. An initiator that leaves nothing on
   * the host answers with nothing reaped.
   */
  reap(span: Span, opts: ReapOptions): Promise<ReapOutcome>;
}
