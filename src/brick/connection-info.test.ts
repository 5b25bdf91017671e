import { describe, expect, it } from 'vitest';
import type { Host } from '../ports/host.ts';
import { isHitchError } from '../errors.ts';
import { Trace } from '../trace/span.ts';
import { parseIscsiVolume } from './connection-info.ts';
import { parseConnectionInfo } from './protocols.ts';
import { Brick } from './index.ts';

const GOOD = {
  target_portal: '192.168.1.60:3260',
  target_iqn: 'iqn.1992-04.com.emc:cx.apm00150602415.b0',
  target_lun: 192,
  target_portals: ['192.168.1.59:3260', '192.168.1.60:3260'],
  target_iqns: ['iqn.1992-04.com.emc:cx.apm00150602415.a0', 'iqn.1992-04.com.emc:cx.apm00150602415.b0'],
  target_luns: [192, 192],
  target_discovered: true,
  encrypted: false,
  qos_specs: null,
  access_mode: 'rw',
  volume_id: 'e8f58c95-3f8a-40dc-861d-163ce68fcdaf',
};

/** A Host on which any call is a test failure: validation must reject before touching it. */
function untouchableHost(calls: string[]): Host {
  const no = (what: string) => (): never => {
    calls.push(what);
    throw new Error(`host.${what} called`);
  };
  return {
    name: 'newton',
    clock: { now: () => 0, sleep: () => Promise.resolve() },
    capabilities: { atomicWrite: true, tcpProbe: true },
    exec: no('exec'),
    readFile: no('readFile'),
    readFiles: no('readFiles'),
    writeFileAtomic: no('writeFileAtomic'),
    writeFile: no('writeFile'),
    exists: no('exists'),
    readlink: no('readlink'),
    realpath: no('realpath'),
    readdir: no('readdir'),
    glob: no('glob'),
    waitForPath: no('waitForPath'),
    probeTcp: no('probeTcp'),
    onExec: () => () => undefined,
  };
}

describe('parseIscsiVolume', () => {
  it('types the seed connection_info; multipath keys win, order kept', () => {
    const ci = parseIscsiVolume(GOOD);
    expect(ci.targets).toEqual([
      { portal: '192.168.1.59:3260', iqn: 'iqn.1992-04.com.emc:cx.apm00150602415.a0', lun: 192 },
      { portal: '192.168.1.60:3260', iqn: 'iqn.1992-04.com.emc:cx.apm00150602415.b0', lun: 192 },
    ]);
    expect(ci).toMatchObject({ accessMode: 'rw', encrypted: false, discard: false, targetDiscovered: true, auth: null, qosSpecs: null });
  });

  it('single keys only; missing port defaults to 3260; IPv6 and hostnames', () => {
    const ci = parseIscsiVolume({ target_portal: '[fd00::1]', target_iqn: 'iqn.2010-10.org.openstack:volume-1', target_lun: 0 });
    expect(ci.targets).toEqual([{ portal: '[fd00::1]:3260', iqn: 'iqn.2010-10.org.openstack:volume-1', lun: 0 }]);
    expect(parseIscsiVolume({ target_portal: 'array-a.example.com:3261', target_iqn: 'eui.0123456789ABCDEF', target_lun: 5 }).targets[0]?.portal).toBe(
      'array-a.example.com:3261',
    );
  });

  it('CHAP credentials', () => {
    const ci = parseIscsiVolume({ ...GOOD, auth_method: 'CHAP', auth_username: 'u-1', auth_password: 'p4ss+word/=' });
    expect(ci.auth).toEqual({ method: 'CHAP', username: 'u-1', password: 'p4ss+word/=' });
  });

  const single = { target_portal: '10.0.0.1:3260', target_iqn: 'iqn.2010-10.org.openstack:volume-1', target_lun: 1 };
  const huge = 'a'.repeat(5000);
  const cases: Array<[string, Record<string, unknown> | unknown, string]> = [
    ['not an object', 'iqn', 'data'],
    ['array', [single], 'data'],
    ['missing portal', { target_iqn: single.target_iqn, target_lun: 1 }, 'target_portal'],
    ['missing iqn', { target_portal: single.target_portal, target_lun: 1 }, 'target_iqn'],
    ['missing lun', { target_portal: single.target_portal, target_iqn: single.target_iqn }, 'target_lun'],
    ['malformed IQN', { ...single, target_iqn: 'iqn.bad' }, 'target_iqn'],
    ['IQN with bad month', { ...single, target_iqn: 'iqn.2010-13.org.openstack:v' }, 'target_iqn'],
    ['IQN with shell metacharacter', { ...single, target_iqn: 'iqn.2010-10.org.openstack:v;reboot' }, 'target_iqn'],
    ['IQN with $()', { ...single, target_iqn: 'iqn.2010-10.org.openstack:$(id)' }, 'target_iqn'],
    ['IQN with NUL', { ...single, target_iqn: 'iqn.2010-10.org.openstack:v\0x' }, 'target_iqn'],
    ['IQN with path traversal', { ...single, target_iqn: 'iqn.2010-10.org.openstack:../../etc' }, 'target_iqn'],
    ['IQN with slash', { ...single, target_iqn: 'iqn.2010-10.org.openstack:a/b' }, 'target_iqn'],
    ['IQN too long', { ...single, target_iqn: `iqn.2010-10.org.openstack:${huge}` }, 'target_iqn'],
    ['IQN as number', { ...single, target_iqn: 42 }, 'target_iqn'],
    ['portal without address', { ...single, target_portal: ':3260' }, 'target_portal'],
    ['portal with bad IPv4', { ...single, target_portal: '300.1.1.1:3260' }, 'target_portal'],
    ['portal with port 0', { ...single, target_portal: '10.0.0.1:0' }, 'target_portal'],
    ['portal with port 70000', { ...single, target_portal: '10.0.0.1:70000' }, 'target_portal'],
    ['portal with whitespace', { ...single, target_portal: '10.0.0.1:3260 --login' }, 'target_portal'],
    ['portal with backquote', { ...single, target_portal: '`id`:3260' }, 'target_portal'],
    ['portal with pipe', { ...single, target_portal: '10.0.0.1|x:3260' }, 'target_portal'],
    ['portal with NUL', { ...single, target_portal: '10.0.0.1\0:3260' }, 'target_portal'],
    ['portal as object', { ...single, target_portal: { ip: '10.0.0.1' } }, 'target_portal'],
    ['portal list item bad', { ...single, target_portals: ['10.0.0.1:3260', '10.0.0.2:3260;x'] }, 'target_portals[1]'],
    ['portal list not a list', { ...single, target_portals: '10.0.0.1:3260' }, 'target_portals'],
    ['portal list empty', { ...single, target_portals: [] }, 'target_portals'],
    ['portal list huge', { ...single, target_portals: Array.from({ length: 1000 }, (_, i) => `10.0.${i % 250}.1:3260`) }, 'target_portals'],
    ['LUN negative', { ...single, target_lun: -1 }, 'target_lun'],
    ['LUN fractional', { ...single, target_lun: 1.5 }, 'target_lun'],
    ['LUN as string', { ...single, target_lun: '1' }, 'target_lun'],
    ['LUN huge', { ...single, target_lun: 2 ** 53 }, 'target_lun'],
    ['LUN NaN', { ...single, target_lun: Number.NaN }, 'target_lun'],
    ['LUN list item bad', { ...single, target_portals: ['10.0.0.1:3260'], target_luns: [true] }, 'target_luns[0]'],
    ['list lengths differ', { ...single, target_portals: ['10.0.0.1:3260', '10.0.0.2:3260'], target_luns: [1] }, 'target_luns'],
    ['iqns length differs', { ...single, target_portals: ['10.0.0.1:3260', '10.0.0.2:3260'], target_iqns: [single.target_iqn] }, 'target_iqns'],
    ['duplicate path', { ...single, target_portals: ['10.0.0.1:3260', '10.0.0.1:3260'] }, 'target_portals'],
    ['auth method unknown', { ...single, auth_method: 'KERBEROS' }, 'auth_method'],
    ['auth method wrong type', { ...single, auth_method: 1 }, 'auth_method'],
    ['CHAP without username', { ...single, auth_method: 'CHAP', auth_password: 'p' }, 'auth_username'],
    ['CHAP without password', { ...single, auth_method: 'CHAP', auth_username: 'u' }, 'auth_password'],
    ['CHAP username with ;', { ...single, auth_method: 'CHAP', auth_username: 'u;rm', auth_password: 'p' }, 'auth_username'],
    ['CHAP password with $', { ...single, auth_method: 'CHAP', auth_username: 'u', auth_password: 'p$(id)' }, 'auth_password'],
    ['CHAP password with NUL', { ...single, auth_method: 'CHAP', auth_username: 'u', auth_password: 'p\0' }, 'auth_password'],
    ['CHAP password too long', { ...single, auth_method: 'CHAP', auth_username: 'u', auth_password: huge }, 'auth_password'],
    ['access_mode bad', { ...single, access_mode: 'rwx' }, 'access_mode'],
    ['encrypted wrong type', { ...single, encrypted: 'false' }, 'encrypted'],
    ['discard wrong type', { ...single, discard: 1 }, 'discard'],
    ['target_discovered wrong type', { ...single, target_discovered: 'yes' }, 'target_discovered'],
    ['volume_id not a UUID', { ...single, volume_id: '../../etc/passwd' }, 'volume_id'],
    ['qos_specs wrong type', { ...single, qos_specs: 'fast' }, 'qos_specs'],
    ['qos_specs bad value', { ...single, qos_specs: { total_iops_sec: { nested: 1 } } }, 'qos_specs.total_iops_sec'],
  ];

  it.each(cases)('%s → HITCH_INVALID_CONNECTION_INFO naming the field, no command run', async (_name, data, field) => {
    let err: unknown;
    try {
      parseIscsiVolume(data);
    } catch (e) {
      err = e;
    }
    expect(isHitchError(err, 'HITCH_INVALID_CONNECTION_INFO')).toBe(true);
    if (isHitchError(err)) expect(err.details['field']).toBe(field);

    // Where JSON enters (block storage's answer, a stored mapping): the same rejection.
    expect(() => parseConnectionInfo({ driver_volume_type: 'iscsi', data })).toThrow(expect.objectContaining({ code: 'HITCH_INVALID_CONNECTION_INFO', details: expect.objectContaining({ field }) }));
  });

  it('never echoes the CHAP secret in the error', () => {
    try {
      parseIscsiVolume({ ...single, auth_method: 'CHAP', auth_username: 'u', auth_password: 'sekrit$' });
    } catch (e) {
      expect(String(e)).not.toContain('sekrit');
    }
  });

  it('rejects other protocols with HITCH_UNSUPPORTED_PROTOCOL, and a connection that is not an object', () => {
    expect(() => parseConnectionInfo({ driver_volume_type: 'rbd', data: {} })).toThrow(expect.objectContaining({ code: 'HITCH_UNSUPPORTED_PROTOCOL' }));
    expect(() => parseConnectionInfo('iscsi')).toThrow(expect.objectContaining({ code: 'HITCH_INVALID_CONNECTION_INFO' }));
  });

  it('typed data built in code is checked by the connector before the host is touched', async () => {
    const calls: string[] = [];
    const host = untouchableHost(calls);
    const brick = new Brick({ host, ip: '172.16.1.11', multipath: true });
    const span = new Trace(host.clock).root();
    const info = { driver_volume_type: 'iscsi' as const, data: { ...single, target_iqn: 'iqn.2010-10.org.openstack;rm -rf' } };
    await expect(brick.connect(info, span, { instance: 'i-1' })).rejects.toMatchObject({ code: 'HITCH_INVALID_CONNECTION_INFO' });
    await expect(brick.disconnect(info, null, span, { force: false })).rejects.toMatchObject({ code: 'HITCH_INVALID_CONNECTION_INFO' });
    expect(calls).toEqual([]);
  });

  it('keeps the sender\'s keys in order (the mapping stores them as they came), without keys it does not read', () => {
    const raw = { volume_id: '5ed0cc5c-158c-4857-9bd5-3556884a23f0', target_lun: 1, target_iqn: 'iqn.2010-10.org.openstack:volume-1', target_portal: '10.0.0.1', qos_specs: null, vendor_extra: { x: 1 } };
    expect(JSON.stringify(parseConnectionInfo({ driver_volume_type: 'iscsi', data: raw }).data)).toBe(
      JSON.stringify({ volume_id: raw.volume_id, target_lun: 1, target_iqn: raw.target_iqn, target_portal: '10.0.0.1', qos_specs: null }),
    );
  });
});
