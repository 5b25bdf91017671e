/**
 * Device info (os-brick's `device_info`) where JSON enters: the compute service keeps what a
 * connect returned on the mapping and hands it back to the disconnect.
 */
import { HitchError } from '../errors.ts';
import type { DeviceInfo } from '../ports/attach.ts';

function bad(reason: string): never {
  throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: `device_info: ${reason}` });
}

const str = (o: Record<string, unknown>, k: string): string => {
  const v = o[k];
  return typeof v === 'string' && v.length > 0 ? v : bad(`${k} must be a non-empty string`);
};

/** Check `raw` (a stored `device_info`) and type it; keys in the stored order, unknown keys dropped. */
export function parseDeviceInfo(raw: unknown): DeviceInfo {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) bad('must be an object');
  const o: Record<string, unknown> = { ...raw };
  if (o['type'] === 'block') {
    const mp = o['multipath_id'];
    if (mp !== undefined && typeof mp !== 'string') bad('multipath_id must be a string');
    // An NVMe namespace's device names its namespace, a SCSI one its WWN.
    if (o['nvme_ns'] !== undefined) return { type: 'block', path: devicePath(str(o, 'path')), nvme_ns: str(o, 'nvme_ns') };
    return { type: 'block', path: devicePath(str(o, 'path')), scsi_wwn: str(o, 'scsi_wwn'), ...(mp !== undefined ? { multipath_id: mp } : {}) };
  }
  if (o['type'] === 'network') return { type: 'network', name: str(o, 'name'), hosts: str(o, 'hosts') };
  return bad(`type ${JSON.stringify(o['type'])} is not block or network`);
}

/**
 * A device path the host reported, checked before it goes to the hypervisor: absolute, under
 * `/dev/`, normalised, in the characters udev uses.
 */
export function devicePath(path: string): string {
  const parts = path.slice(1).split('/');
  if (!path.startsWith('/dev/') || path.length > 4096 || parts.some((p) => p === '' || p === '.' || p === '..') || !/^[A-Za-z0-9._:@+,=\\/-]+$/.test(path)) {
    throw new HitchError('HITCH_INTERNAL', { detail: `the host reported device path ${JSON.stringify(path.slice(0, 200))}, which is not a normalised path under /dev/` });
  }
  return path;
}
