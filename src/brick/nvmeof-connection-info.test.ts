import { describe, expect, it } from 'vitest';
import { isHitchError } from '../errors.ts';
import type { Host } from '../ports/host.ts';
import { Trace } from '../trace/span.ts';
import { Brick } from './index.ts';
import { parseNvmeVolume } from './nvmeof-connection-info.ts';
import { parseConnectionInfo } from './protocols.ts';

/** What Cinder's NVMe-oF drivers return in os-brick's shape (portals as [address, port, transport]). */
const GOOD = {
  target_nqn: 'nqn.2014-08.org.hitch:volume-3d8f4c2a',
  vol_uuid: '3d8f4c2a-5b6e-4f70-8a91-b2c3d4e5f601',
  portals: [
    ['192.168.1.59', '4420', 'tcp'],
    ['192.168.1.60', 4420, 'tcp'],
  ],
  host_nqn: 'nqn.2014-08.org.nvmexpress:uuid:953bb2c0-fa23-49c7-8cc1-a085d72b6dfe',
  volume_id: 'e8f58c95-3f8a-40dc-861d-163ce68fcdaf',
  access_mode: 'rw',
  discard: true,
  qos_specs: null,
};

/** A Host on which any call is a failure: a malformed field must be refused before it is touched. */
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

/** [what, the data's change, the field the error must name]. */
const BAD: ReadonlyArray<readonly [string, Record<string, unknown>, string]> = [
  ['no subsystem', { target_nqn: undefined }, 'target_nqn'],
  ["os-brick's old flat shape", { target_nqn: undefined, nqn: 'nqn.2014-08.org.hitch:v', target_portal: '10.0.0.1', target_port: 4420, transport_type: 'tcp' }, 'target_nqn'],
  ['NQN not nqn.', { target_nqn: 'iqn.2010-10.org.openstack:volume-1' }, 'target_nqn'],
  ['NQN with a bad month', { target_nqn: 'nqn.2014-13.org.hitch:v' }, 'target_nqn'],
  ['NQN with a shell metacharacter', { target_nqn: 'nqn.2014-08.org.hitch:v;reboot' }, 'target_nqn'],
  ['NQN with whitespace', { target_nqn: 'nqn.2014-08.org.hitch: v' }, 'target_nqn'],
  ['NQN with a slash', { target_nqn: 'nqn.2014-08.org.hitch:a/b' }, 'target_nqn'],
  ['NQN too long', { target_nqn: `nqn.2014-08.org.hitch:${'x'.repeat(220)}` }, 'target_nqn'],
  ['NQN not a string', { target_nqn: 42 }, 'target_nqn'],
  ['no portals', { portals: undefined }, 'portals'],
  ['portals empty', { portals: [] }, 'portals'],
  ['portals not a list', { portals: '192.168.1.59:4420' }, 'portals'],
  ['portal not a triple', { portals: [['192.168.1.59', '4420']] }, 'portals[0]'],
  ['address not an IP', { portals: [['192.168.1.300', '4420', 'tcp']] }, 'portals[0][0]'],
  ['address with a metacharacter', { portals: [['$(reboot)', '4420', 'tcp']] }, 'portals[0][0]'],
  ['address empty', { portals: [['', '4420', 'tcp']] }, 'portals[0][0]'],
  ['port zero', { portals: [['192.168.1.59', 0, 'tcp']] }, 'portals[0][1]'],
  ['port too big', { portals: [['192.168.1.59', '65536', 'tcp']] }, 'portals[0][1]'],
  ['port not a number', { portals: [['192.168.1.59', '44x0', 'tcp']] }, 'portals[0][1]'],
  ['port null', { portals: [['192.168.1.59', null, 'tcp']] }, 'portals[0][1]'],
  ['transport rdma', { portals: [['192.168.1.59', '4420', 'rdma']] }, 'portals[0][2]'],
  ['transport RoCEv2', { portals: [['192.168.1.59', '4420', 'RoCEv2']] }, 'portals[0][2]'],
  ['transport garbage', { portals: [['192.168.1.59', '4420', 'tcp;x']] }, 'portals[0][2]'],
  ['the same portal twice', { portals: [['192.168.1.59', '4420', 'tcp'], ['192.168.1.59', 4420, 'tcp']] }, 'portals'],
  ['65 portals', { portals: Array.from({ length: 65 }, (_, i) => [`10.0.${i >> 8}.${i & 255}`, '4420', 'tcp']) }, 'portals'],
  ['nothing names the namespace', { vol_uuid: undefined }, 'vol_uuid'],
  ['vol_uuid not a UUID', { vol_uuid: '3d8f4c2a-zzzz' }, 'vol_uuid'],
  ['volume_nguid not 32 hex', { vol_uuid: undefined, volume_nguid: '1234' }, 'volume_nguid'],
  ['ns_id zero', { vol_uuid: undefined, ns_id: 0 }, 'ns_id'],
  ['ns_id not a number', { vol_uuid: undefined, ns_id: '1;2' }, 'ns_id'],
  ['ns_id reserved', { vol_uuid: undefined, ns_id: 0xffffffff }, 'ns_id'],
  ['host_nqn malformed', { host_nqn: 'hostnqn' }, 'host_nqn'],
  ['access_mode other', { access_mode: 'rwx' }, 'access_mode'],
  ['discard not a boolean', { discard: 'yes' }, 'discard'],
  ['volume_id not a UUID', { volume_id: '../../etc' }, 'volume_id'],
  ['qos_specs not an object', { qos_specs: 'fast' }, 'qos_specs'],
];

function withChange(change: Record<string, unknown>): Record<string, unknown> {
  const d: Record<string, unknown> = { ...GOOD };
  for (const [k, v] of Object.entries(change)) {
    if (v === undefined) delete d[k];
    else d[k] = v;
  }
  return d;
}

describe('nvmeof connection_info at the edge', () => {
  it("reads os-brick's shape: portals normalised, the namespace by UUID first", () => {
    const v = parseNvmeVolume({ ...GOOD, volume_nguid: 'ab'.repeat(16), ns_id: '7', vol_uuid: '3D8F4C2A5B6E4F708A91B2C3D4E5F601' });
    expect(v.nqn).toBe(GOOD.target_nqn);
    expect(v.portals).toEqual([
      { address: '192.168.1.59', port: '4420', transport: 'tcp' },
      { address: '192.168.1.60', port: '4420', transport: 'tcp' },
    ]);
    expect(v.namespace).toEqual({ kind: 'uuid', value: '3d8f4c2a-5b6e-4f70-8a91-b2c3d4e5f601' });
    expect(parseNvmeVolume({ ...withChange({ vol_uuid: undefined }), volume_nguid: 'AB'.repeat(16) }).namespace).toEqual({ kind: 'nguid', value: 'ab'.repeat(16) });
    expect(parseNvmeVolume({ ...withChange({ vol_uuid: undefined }), ns_id: '7' }).namespace).toEqual({ kind: 'nsid', value: 7 });
    expect(v.hostNqn).toBe(GOOD.host_nqn);
    const typed = parseConnectionInfo({ driver_volume_type: 'nvmeof', data: { ...GOOD, vendor_extra: 1 } });
    expect(typed.driver_volume_type).toBe('nvmeof');
    expect(Object.keys(typed.data)).toEqual(Object.keys(GOOD));
  });

  it.each(BAD)('%s: HITCH_INVALID_CONNECTION_INFO naming the field, and no host call', async (_what, change, field) => {
    const data = withChange(change);
    let err: unknown;
    try {
      parseConnectionInfo({ driver_volume_type: 'nvmeof', data });
    } catch (e) {
      err = e;
    }
    expect(isHitchError(err, 'HITCH_INVALID_CONNECTION_INFO')).toBe(true);
    if (isHitchError(err)) expect(err.details['field']).toBe(field);
    // Typed data built in code is checked again by the connector, before the host is touched.
    const calls: string[] = [];
    const host = untouchableHost(calls);
    const brick = new Brick({ host, ip: '172.16.1.11', multipath: true });
    const span = new Trace(host.clock).root();
    const info = { driver_volume_type: 'nvmeof' as const, data: { target_nqn: 'x', portals: [], ...data } };
    await expect(brick.connect(info, span, { instance: 'i-1' })).rejects.toMatchObject({ code: 'HITCH_INVALID_CONNECTION_INFO' });
    await expect(brick.disconnect(info, null, span, { force: false })).rejects.toMatchObject({ code: 'HITCH_INVALID_CONNECTION_INFO' });
    expect(calls).toEqual([]);
  });

  it('QEMU-native mode refuses NVMe/TCP by name, touching nothing', async () => {
    const calls: string[] = [];
    const host = untouchableHost(calls);
    const brick = new Brick({ host, ip: '172.16.1.11', multipath: true, mode: 'qemu-native' });
    const info = parseConnectionInfo({ driver_volume_type: 'nvmeof', data: GOOD });
    const err: unknown = await brick.connect(info, new Trace(host.clock).root(), { instance: 'i-1' }).catch((e: unknown) => e);
    expect(isHitchError(err, 'HITCH_NVME_QEMU_NATIVE')).toBe(true);
    expect(String(err)).toContain(GOOD.target_nqn);
    expect(calls).toEqual([]);
  });
});
