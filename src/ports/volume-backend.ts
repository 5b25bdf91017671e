/**
 * The storage side of the block storage service: what a driver must do to create a volume and
 * export it to one host. `sim` provisions LUNs on the simulator's arrays; `tgt` (its own issue)
 * will drive a real iSCSI target. The service owns status and attachments; a backend owns only
 * the storage objects and is told the connector of the host that will log in.
 */

/** os-brick's connector properties, as compute hosts send them (`multipath` may be a string). */
export interface ConnectorProperties {
  readonly initiator?: string;
  readonly ip?: string | null;
  readonly host?: string | null;
  readonly multipath?: boolean | string | null;
  readonly enforce_multipath?: boolean | string | null;
  readonly platform?: string | null;
  readonly os_type?: string | null;
  readonly do_local_attach?: boolean;
  readonly wwpns?: readonly string[];
  readonly wwnns?: readonly string[];
  readonly nqn?: string;
  readonly mountpoint?: string | null;
  readonly [key: string]: unknown;
}

/** What `initialize_connection` returns: the data os-brick's connector needs to connect. */
export interface ConnectionInfo {
  readonly driver_volume_type: string;
  readonly data: Readonly<Record<string, unknown>>;
}

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

/** `multipath` arrives as a boolean or as the strings `"True"`/`"False"` (cinderclient). */
export function connectorWantsMultipath(c: ConnectorProperties): boolean {
  const m = c.multipath;
  return m === true || (typeof m === 'string' && ['true', '1', 'yes', 'on'].includes(m.toLowerCase()));
}

/** The IQN Cinder's iSCSI targets give a volume. */
export function volumeIqn(volumeId: string, prefix = 'iqn.2010-10.org.openstack:'): string {
  return `${prefix}volume-${volumeId}`;
}

/**
 * The iSCSI `connection_info` Cinder's iSCSI targets answer with: one primary portal, and every
 * portal (`target_portals/iqns/luns`) when the connector asked for multipath; per-volume CHAP.
 */
export function iscsiConnectionInfo(
  v: { volumeId: string; iqn: string; lun: number; portals: readonly string[]; chapUser: string; chapPassword: string },
  connector: ConnectorProperties,
): ConnectionInfo {
  const data: Record<string, unknown> = {
    target_discovered: false,
    target_portal: v.portals[0],
    target_iqn: v.iqn,
    target_lun: v.lun,
    volume_id: v.volumeId,
    auth_method: 'CHAP',
    auth_username: v.chapUser,
    auth_password: v.chapPassword,
    encrypted: false,
    qos_specs: null,
    access_mode: 'rw',
    cacheable: false,
  };
  if (connectorWantsMultipath(connector)) {
    data['target_portals'] = [...v.portals];
    data['target_iqns'] = v.portals.map(() => v.iqn);
    data['target_luns'] = v.portals.map(() => v.lun);
  }
  return { driver_volume_type: 'iscsi', data };
}
