/**
 * Device names on the virtio bus, as Nova picks them: the root disk is `vda`, volumes take the
 * next free letter (`vdb`, `vdc`, … `vdz`, `vdaa`, …). A requested name is honoured when it is
 * well formed and free; Nova accepts it with or without `/dev/`.
 */
import { HitchError } from '../errors.ts';

const NAME = /^(?:\/dev\/)?(vd[a-z]{1,2})$/;

/** `vdb` → 1, `vdz` → 25, `vdaa` → 26: the order Nova hands names out in. */
function index(suffix: string): number {
  if (suffix.length === 1) return suffix.charCodeAt(0) - 97;
  return 26 + (suffix.charCodeAt(0) - 97) * 26 + (suffix.charCodeAt(1) - 97);
}

function nameAt(i: number): string {
  if (i < 26) return `vd${String.fromCharCode(97 + i)}`;
  const j = i - 26;
  return `vd${String.fromCharCode(97 + Math.floor(j / 26))}${String.fromCharCode(97 + (j % 26))}`;
}

/** Normalise a device the user asked for to `/dev/vdX`, or throw HITCH_INVALID_DEVICE_NAME. */
export function normaliseDevice(requested: string): string {
  const m = NAME.exec(requested);
  if (!m?.[1] || m[1] === 'vda') throw new HitchError('HITCH_INVALID_DEVICE_NAME', { device: JSON.stringify(requested).slice(0, 80) });
  return `/dev/${m[1]}`;
}

/**
 * Pick the device for a new volume: the requested one if free, else the lowest free name after
 * the root disk. `used` holds the server's current mappings (`/dev/vdb`, …).
 */
export function pickDeviceName(used: readonly string[], requested?: string | null): string {
  const taken = new Set(used.map((u) => u.replace(/^\/dev\//, '')));
  if (requested !== undefined && requested !== null && requested !== '' && requested !== 'auto') {
    const dev = normaliseDevice(requested);
    if (taken.has(dev.slice(5))) throw new HitchError('HITCH_DEVICE_IN_USE', { device: dev, volume: '-' }, {
      message: `The supplied device path (${dev}) is in use.`,
    });
    return dev;
  }
  for (let i = 1; i < 26 + 26 * 26; i++) {
    const n = nameAt(i);
    if (!taken.has(n)) return `/dev/${n}`;
  }
  throw new HitchError('HITCH_NO_FREE_DEVICE', { prefix: 'vd' });
}

export { index as deviceIndex };
