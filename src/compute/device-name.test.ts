import { describe, expect, it } from 'vitest';
import { isHitchError } from '../errors.ts';
import { deviceIndex, normaliseDevice, pickDeviceName } from './device-name.ts';

describe('device names', () => {
  it('hands out the next free name after the root disk', () => {
    expect(pickDeviceName([])).toBe('/dev/vdb');
    expect(pickDeviceName(['/dev/vdb'])).toBe('/dev/vdc');
    expect(pickDeviceName(['/dev/vdc'])).toBe('/dev/vdb');
  });

  it('goes past vdz to vdaa in Nova order', () => {
    const used = Array.from({ length: 25 }, (_, i) => `/dev/vd${String.fromCharCode(98 + i)}`);
    expect(pickDeviceName(used)).toBe('/dev/vdaa');
    expect(deviceIndex('aa')).toBe(26);
  });

  it('honours a free requested name, with or without /dev/', () => {
    expect(pickDeviceName(['/dev/vdb'], '/dev/vdd')).toBe('/dev/vdd');
    expect(pickDeviceName([], 'vdc')).toBe('/dev/vdc');
    expect(pickDeviceName([], 'auto')).toBe('/dev/vdb');
  });

  it('refuses a taken name with the in-use error', () => {
    let err: unknown;
    try {
      pickDeviceName(['/dev/vdb'], '/dev/vdb');
    } catch (e) {
      err = e;
    }
    expect(isHitchError(err, 'HITCH_DEVICE_IN_USE')).toBe(true);
    expect((err as Error).message).toBe('The supplied device path (/dev/vdb) is in use.');
  });

  it.each(['/dev/vda', '/dev/sdb', 'vdb; rm -rf /', '/dev/../vdb', 'vd1', '', 'x'.repeat(300)])('refuses the malformed name %j', (bad) => {
    expect(() => normaliseDevice(bad)).toThrow(/invalid/);
  });
});
