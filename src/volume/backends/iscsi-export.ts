/**
 * What an iSCSI backend tells the host that will log in: the IQN Cinder's targets give a volume,
 * and the `connection_info` they answer `initialize_connection` with.
 */
import { HitchError } from '../../errors.ts';
import type { ConnectorProperties, IscsiConnectionData, IscsiConnectionInfo } from '../../ports/attach.ts';
import type { BackendVolume } from '../../ports/volume-backend.ts';

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
): IscsiConnectionInfo {
  const data: IscsiConnectionData = {
    target_discovered: false,
    target_portal: v.portals[0] ?? '',
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
    ...(connector.multipath
      ? { target_portals: [...v.portals], target_iqns: v.portals.map(() => v.iqn), target_luns: v.portals.map(() => v.lun) }
      : {}),
  };
  return { driver_volume_type: 'iscsi', data };
}

/**
 * A backend's own `provider_location` (JSON it wrote at create time), read back as a plain
 * record for the backend to take its fields from; `HITCH_NOT_FOUND` when the volume has none.
 */
export function providerFields(v: BackendVolume): Record<string, unknown> {
  if (!v.providerLocation) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Backend volume', id: v.id });
  const raw: unknown = JSON.parse(v.providerLocation);
  return typeof raw === 'object' && raw !== null ? { ...raw } : {};
}
