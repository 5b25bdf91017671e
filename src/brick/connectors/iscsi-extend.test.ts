/**
 * Online extend on the simulator's host, which behaves as the kernel does: a grown LUN shows its
 * new size on a path only after that path re-reads its capacity (`…/device/rescan`), and on the
 * multipath map only after `multipathd resize map`, which refuses while the paths disagree.
 */
import { describe, expect, it } from 'vitest';
import { isHitchError } from '../../errors.ts';
import { RecordingHost } from '../../host/recording-host.ts';
import { leftovers } from '../../sim/inspect.ts';
import { createSimHost, type SimHost } from '../../sim/sim-host.ts';
import { Trace } from '../../trace/span.ts';
import { Brick, parseConnectionInfo } from '../index.ts';

const GiB = 1024 ** 3;
const IQN = 'iqn.2010-10.org.openstack:volume-0001';
const ci = parseConnectionInfo({
  driver_volume_type: 'iscsi',
  data: { target_portals: ['192.0.2.10:3260', '192.0.2.11:3260'], target_iqns: [IQN, IQN], target_luns: [1, 1], volume_id: '0b8fd5f5-5d68-4b5a-9d3f-6d1a3e7d9a01' },
});

async function sizeOf(sim: SimHost, dev: string): Promise<number> {
  return Number((await sim.readFile(`/sys/block/${dev}/size`)).trim()) * 512;
}

async function connected(multipath: boolean) {
  const sim = createSimHost('healthy-multipath');
  const host = new RecordingHost(sim);
  const brick = new Brick({ host, ip: '127.0.0.1', multipath });
  const trace = new Trace(host.clock);
  const { deviceInfo } = await brick.connect(ci, trace.root(), { instance: 'i-1' });
  await brick.settled();
  const paths = sim.model.diskList().map((d) => d.name);
  return { sim, host, brick, trace, deviceInfo, paths };
}

describe('Brick.extend on iSCSI (os-brick extend_volume)', () => {
  it('rescans each path, then resizes the map: the host sees the grown LUN, which it did not before', async () => {
    const r = await connected(true);
    expect(r.paths).toHaveLength(2);
    const dm = r.sim.model.multipath.mapList()[0];
    expect(dm).toBeDefined();
    r.sim.sim.array('array1').resizeLun(IQN, 1, 3 * GiB);
    // The kernel has not re-read anything yet: both paths and the map still say 1 GiB.
    for (const p of r.paths) expect(await sizeOf(r.sim, p)).toBe(GiB);
    expect(await sizeOf(r.sim, `dm-${dm?.index}`)).toBe(GiB);
    const before = r.host.commands().length;
    const out = await r.brick.extend(ci, r.trace.root());
    expect(out.sizeBytes).toBe(3 * GiB);
    for (const p of r.paths) expect(await sizeOf(r.sim, p)).toBe(3 * GiB);
    expect(await sizeOf(r.sim, `dm-${dm?.index}`)).toBe(3 * GiB);
    // One process: the map's resize; the rescans are sysfs writes.
    expect(r.host.commands().slice(before)).toEqual([`multipathd resize map ${dm?.name}`]);
    const spans = r.trace.spans.map((s) => s.name);
    expect(spans).toEqual(expect.arrayContaining(['extend_volume', 'find-paths', 'rescan-path', 'resize-map']));
    await r.brick.disconnect(ci, r.deviceInfo, r.trace.root(), { force: false });
    expect(leftovers(r.sim.model)).toEqual([]);
  });

  it('the simulated multipathd refuses to resize a map whose paths were not rescanned, as the kernel gives it nothing larger', async () => {
    const r = await connected(true);
    const dm = r.sim.model.multipath.mapList()[0];
    r.sim.sim.array('array1').resizeLun(IQN, 1, 2 * GiB);
    const first = r.paths[0] as string;
    await r.sim.writeFile(`/sys/block/${first}/device/rescan`, '1');
    // One path re-read, the other not: the paths disagree.
    const answer = await r.sim.exec('multipathd', ['resize', 'map', dm?.name ?? ''], { timeoutMs: 30_000 });
    expect(answer.stdout.trim()).toBe('fail');
    expect(await sizeOf(r.sim, `dm-${dm?.index}`)).toBe(GiB);
  });

  it('without multipath: the one path is rescanned and its size returned; no multipathd call', async () => {
    const r = await connected(false);
    r.sim.sim.array('array1').resizeLun(IQN, 1, 2 * GiB);
    const before = r.host.commands().length;
    const out = await r.brick.extend(ci, r.trace.root());
    expect(out.sizeBytes).toBe(2 * GiB);
    expect(r.host.commands().slice(before)).toEqual([]);
  });

  it('a volume with no path on the host is HITCH_VOLUME_EXTEND_FAILED at find-paths', async () => {
    const sim = createSimHost('healthy-multipath');
    const brick = new Brick({ host: sim, ip: '127.0.0.1', multipath: true });
    const e = await brick.extend(ci, new Trace(sim.clock).root()).catch((x: unknown) => x);
    expect(isHitchError(e) && e.code).toBe('HITCH_VOLUME_EXTEND_FAILED');
    expect(String((e as Error).message)).toContain('find-paths');
  });
});
