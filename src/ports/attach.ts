/**
 * The attach vocabulary, defined once: what a compute host tells block storage about itself
 * (connector properties), what block storage answers (connection info, one variant per
 * protocol), and what connecting left on the host (device info).
 *
 * The key names are os-brick's and Cinder's, so the same JSON crosses the REST API, sits in the
 * block storage and compute databases, and reaches the initiator. JSON becomes these types in
 * one place each: brick's `parseConnectionInfo` and `parseDeviceInfo` (where compute reads
 * block storage's answer or its own rows), and the block storage API's connector check. Past
 * that edge nothing casts.
 *
 * A new protocol is one more entry of `ConnectionInfos` here, one connector in `brick/`, and
 * one entry in brick's protocol table (`brick/protocols.ts`).
 */

/**
 * os-brick's `get_connector_properties`: who this host is to the storage, e.g.
 * `{"platform": "x86_64", "os_type": "linux", "ip": "172.16.1.11", "host": "newton",
 *   "multipath": true, "enforce_multipath": false, "initiator": "iqn.1993-08.org.debian:01:7cc8838d1c0",
 *   "do_local_attach": false}`.
 * Brick fills every field the host has; a client of the block storage API may send fewer
 * (Cinder requires none of them), so the storage side reads them as optional.
 */
export interface ConnectorProperties {
  readonly platform?: string;
  readonly os_type?: string;
  /** The address the storage exports to (Nova's `my_ip`). */
  readonly ip?: string;
  /** The compute host's name. */
  readonly host?: string;
  /** The host logs in to every portal: the storage lists them all. */
  readonly multipath: boolean;
  readonly enforce_multipath?: boolean;
  /** The iSCSI initiator name (`/etc/iscsi/initiatorname.iscsi`). */
  readonly initiator?: string;
  /** Fibre Channel ports that are online. */
  readonly wwpns?: readonly string[];
  readonly wwnns?: readonly string[];
  /** The NVMe host NQN (`/etc/nvme/hostnqn`). */
  readonly nqn?: string;
  /** The NVMe host identifier (`/etc/nvme/hostid`), os-brick's `uuid` key. */
  readonly uuid?: string;
  /** The kernel's native NVMe multipath is on (`/sys/module/nvme_core/parameters/multipath` is `Y`). */
  readonly nvme_native_multipath?: boolean;
  readonly do_local_attach?: boolean;
  /** The guest device, which Nova adds to an attachment update's connector. */
  readonly mountpoint?: string;
}

/**
 * The `data` of an iSCSI connection, with Cinder's keys: one path (`target_portal`,
 * `target_iqn`, `target_lun`) or several (`target_portals`, `target_iqns`, `target_luns`, for a
 * multipath connector), and per-volume CHAP. Holds a secret (`auth_password`).
 */
export interface IscsiConnectionData {
  readonly target_discovered?: boolean;
  /** `ip:port`, `[ipv6]:port` or `host:port`; 3260 when the port is left out. */
  readonly target_portal?: string;
  readonly target_iqn?: string;
  readonly target_lun?: number;
  readonly target_portals?: readonly string[];
  readonly target_iqns?: readonly string[];
  readonly target_luns?: readonly number[];
  readonly volume_id?: string;
  /** `CHAP`, or `None`/absent for no authentication. */
  readonly auth_method?: string;
  readonly auth_username?: string;
  readonly auth_password?: string;
  readonly encrypted?: boolean;
  readonly qos_specs?: Readonly<Record<string, string | number | boolean | null>> | null;
  readonly access_mode?: 'rw' | 'ro';
  readonly cacheable?: boolean;
  readonly discard?: boolean;
}

/** `initialize_connection`'s answer for an iSCSI volume: `{"driver_volume_type": "iscsi", "data": {…}}`. */
export interface IscsiConnectionInfo {
  readonly driver_volume_type: 'iscsi';
  readonly data: IscsiConnectionData;
}

/**
 * One way to an NVMe-oF subsystem, os-brick's `[address, port, transport]`: port as Cinder's
 * drivers send it (a string, or a number), transport `tcp` (`rdma`/`RoCEv2` are os-brick's, not
 * Hitch's).
 */
export type NvmeofPortal = readonly [address: string, port: string | number, transport: string];

/**
 * The `data` of an NVMe-oF connection, in os-brick's (new) shape: the subsystem's NQN, every
 * portal, and the namespace by its UUID (`vol_uuid`), NGUID (`volume_nguid`) or id (`ns_id`).
 */
export interface NvmeofConnectionData {
  readonly target_nqn: string;
  readonly portals: readonly NvmeofPortal[];
  readonly vol_uuid?: string;
  readonly volume_nguid?: string;
  readonly ns_id?: string | number;
  /** The host NQN the storage exported to (default: this host's `/etc/nvme/hostnqn`). */
  readonly host_nqn?: string;
  readonly volume_id?: string;
  readonly access_mode?: 'rw' | 'ro';
  readonly discard?: boolean;
  readonly encrypted?: boolean;
  readonly cacheable?: boolean;
  readonly qos_specs?: Readonly<Record<string, string | number | boolean | null>> | null;
}

/** `initialize_connection`'s answer for an NVMe-oF volume: `{"driver_volume_type": "nvmeof", "data": {…}}`. */
export interface NvmeofConnectionInfo {
  readonly driver_volume_type: 'nvmeof';
  readonly data: NvmeofConnectionData;
}

/** Each protocol's connection, by its `driver_volume_type`. */
export interface ConnectionInfos {
  readonly iscsi: IscsiConnectionInfo;
  readonly nvmeof: NvmeofConnectionInfo;
}

/** The protocols Hitch speaks (`driver_volume_type`). */
export type Protocol = keyof ConnectionInfos;

/** How a host reaches a volume: one variant per protocol, tagged by `driver_volume_type`. */
export type ConnectionInfo = ConnectionInfos[Protocol];

/**
 * A block device the host's kernel made (os-brick's `device_info`): the SCSI disk of a single
 * path (`/dev/sdX`) or the multipath map over all of them (`/dev/dm-N`, with the map's WWID).
 */
export interface BlockDeviceInfo {
  readonly type: 'block';
  readonly path: string;
  readonly scsi_wwn: string;
  readonly multipath_id?: string;
}

/**
 * An NVMe namespace's block device: the native multipath head (`/dev/nvmeXnY`, one over every
 * controller) or, without native multipath, the first live path's namespace device.
 */
export interface NvmeDeviceInfo {
  readonly type: 'block';
  readonly path: string;
  /** The namespace's UUID (or `nguid:…` / `nsid:…` when the volume was named that way). */
  readonly nvme_ns: string;
}

/** A LUN that QEMU opens itself (QEMU-native iSCSI): nothing on the host. */
export interface NetworkDeviceInfo {
  readonly type: 'network';
  /** `IQN/LUN`. */
  readonly name: string;
  /** `host:port` of the portal QEMU logs in to (comma-separated when several). */
  readonly hosts: string;
}

/** What connecting a volume left, kept with the mapping until the disconnect. */
export type DeviceInfo = BlockDeviceInfo | NvmeDeviceInfo | NetworkDeviceInfo;
