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

/** Each protocol's connection, by its `driver_volume_type`. */
export interface ConnectionInfos {
  readonly iscsi: IscsiConnectionInfo;
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

/** A LUN that QEMU opens itself (QEMU-native iSCSI): nothing on the host. */
export interface NetworkDeviceInfo {
  readonly type: 'network';
  /** `IQN/LUN`. */
  readonly name: string;
  /** `host:port` of the portal QEMU logs in to (comma-separated when several). */
  readonly hosts: string;
}

/** What connecting a volume left, kept with the mapping until the disconnect. */
export type DeviceInfo = BlockDeviceInfo | NetworkDeviceInfo;
