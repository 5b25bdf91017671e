/**
 * Multipath over several portals: the connect returns the map with every path whose portal is
 * alive (it answered a TCP probe by the time the volume was usable), bounded by `livePathsMs`;
 * a portal that did not answer (dropped) is not waited for. On the simulator, virtual time.
 */
import { describe, expect, it } from 'vitest';
import { createSimHost } from '../../sim/sim-host.ts';
import { RecordingHost } from '../../host/recording-host.ts';
import { leftovers } from '../../sim/inspect.ts';
import type { FaultSpec } from '../../sim/faults.ts';
import { Trace } from '../../trace/span.ts';
import { DEFAULT_ISCSI_TIMEOUTS, IscsiConnector } from './iscsi.ts';

const IQN = 'iqn.2010-10.org.openstack:volume-0001';
const P10 = '192.0.2.10:3260';
const P11 = '192.0.2.11:3260';
const ci = (portals: readonly string[]): Record<string, unknown> => ({ target_portals: portals, target_iqns: portals.map(() => IQN), target_luns: portals.map(() => 1) });

interface Outcome {
  readonly ms: number;
  readonly path: string;
  /** The map's paths (kernel names' portals) the moment connect returned. */
  readonly portalsAtReturn: string[];
  readonly portalsSettled: string[];
  readonly logs: string[];
}

/** One connect on a fresh healthy-multipath simulation, with `faults`; on a host with or without the TCP probe. */
async function connect(portals: readonly string[], opts: { faults?: readonly FaultSpec[]; tcpProbe?: boolean } = {}): Promise<Outcome> {
  const sim = createSimHost('healthy-multipath', { tcpProbe: opts.tcpProbe ?? true });
  for (const f of opts.faults ?? []) sim.sim.injectFault(f);
  const host = new RecordingHost(sim);
  const logs: string[] = [];
  const conn = new IscsiConnector({ host, multipath: true, logger: (l) => logs.push(`${l.level} ${l.message}`) });
  const trace = new Trace(host.clock);
  const dev = await conn.connectVolume(trace.root(), ci(portals));
  const ms = host.clock.now();
  const mapPortals = (): string[] => {
    const snap = sim.sim.inspectHost('compute-1');
    const map = snap.maps.find((m) => `/dev/${m.dm}` === dev.path);
    return (map?.paths ?? []).map((d) => snap.disks.find((x) => x.name === d)?.portal ?? d).sort();
  };
  const portalsAtReturn = mapPortals();
  await conn.settled();
  const portalsSettled = mapPortals();
  await conn.disconnectVolume(trace.root(), ci(portals));
  expect(leftovers(sim.model)).toEqual([]);
  return { ms, path: dev.path, portalsAtReturn, portalsSettled, logs };
}

describe('multipath connect: every live portal\'s path in the map at the return', () => {
  it('healthy two portals: the map comes back with both paths', async () => {
    const both = await connect([P10, P11]);
    expect(both.path).toMatch(/^\/dev\/dm-\d+$/);
    expect(both.portalsAtReturn).toEqual([P10, P11]);
    expect(both.logs.some((l) => l.includes('did not answer a TCP probe'))).toBe(false);
  });

  it('the map built from the other portal\'s disk first: the connect still returns it holding the winner\'s path too', async () => {
    // The guest, find_multipaths no (2026-12-06): brick's first disk was sda, multipathd read
    // sdb's event first and built the map on it alone, and added sda only once udev had handled
    // the map; brick found the map by its WWN and returned it with one path.
    // 400 ms: multipathd reads P10's disk once the map (built from P11's) is linked by udev, so
    // the map brick finds by its WWN holds P11's disk alone (before this fix: returned so).
    const late: FaultSpec = { fault: 'multipathd-event-late', portal: P10, delayMs: 400 };
    const both = await connect([P10, P11], { faults: [late] });
    expect(both.path).toMatch(/^\/dev\/dm-\d+$/);
    expect(both.portalsAtReturn).toEqual([P10, P11]);
    expect(both.logs.some((l) => l.includes('not in the map within'))).toBe(false);
  });

  it('a host without the TCP probe returns as before: once the map has one path, the other joining later', async () => {
    // The second portal's login 2 s behind the first (its iscsiadm held up): waited for with the probe, not without.
    const lag: FaultSpec = { fault: 'command-hangs', command: 'iscsiadm', match: `-p ${P11} --login`, hangMs: 2_000 };
    const single = await connect([P10]);
    const without = await connect([P10, P11], { faults: [lag], tcpProbe: false });
    expect(without.portalsAtReturn).toEqual([P10]);
    expect(without.ms).toBe(single.ms);
    expect(without.portalsSettled).toEqual([P10, P11]);
    const withProbe = await connect([P10, P11], { faults: [lag] });
    expect(withProbe.portalsAtReturn).toEqual([P10, P11]);
  });

  it('the seed (second portal dropped): the map on its one live path at the healthy path\'s time, not waiting for the dead login', async () => {
    const single = await connect([P10]);
    const seed = await connect([P10, P11], { faults: [{ fault: 'portal-dead', portal: P11 }] });
    expect(seed.path).toMatch(/^\/dev\/dm-\d+$/);
    expect(seed.portalsAtReturn).toEqual([P10]);
    // The same virtual time as the volume on its one live portal alone.
    expect(seed.ms).toBe(single.ms);
    expect(seed.logs).toContain(`info iSCSI portal(s) ${P11} did not answer a TCP probe: not waiting for their paths`);
  });

  it('a refusing portal is not waited for either', async () => {
    const single = await connect([P10]);
    const refused = await connect([P10, P11], { faults: [{ fault: 'portal-refusing', portal: P11 }] });
    expect(refused.portalsAtReturn).toEqual([P10]);
    expect(refused.ms).toBe(single.ms);
  });

  it('a live portal whose login is slow is waited for, up to livePathsMs; past it the map returns on one path and the other joins later', async () => {
    const healthy = await connect([P10, P11]);
    const slowLogin = (hangMs: number): FaultSpec => ({ fault: 'command-hangs', command: 'iscsiadm', match: `-p ${P11} --login`, hangMs });
    // 4 s slower login, within the 10 s limit: waited for.
    const slow = await connect([P10, P11], { faults: [slowLogin(4_000)] });
    expect(slow.portalsAtReturn).toEqual([P10, P11]);
    expect(slow.ms).toBeGreaterThanOrEqual(healthy.ms + 4_000 - 100);
    // A login slower than the limit: the return comes at the limit, with the path that is there.
    const single = await connect([P10]);
    const slower = await connect([P10, P11], { faults: [slowLogin(30_000)] });
    expect(slower.portalsAtReturn).toEqual([P10]);
    expect(slower.ms).toBe(single.ms + DEFAULT_ISCSI_TIMEOUTS.livePathsMs);
    expect(slower.logs.some((l) => l.startsWith(`warning Live portal(s) ${P11}: not in the map within ${DEFAULT_ISCSI_TIMEOUTS.livePathsMs} ms`))).toBe(true);
    expect(slower.portalsSettled).toEqual([P10, P11]);
  });
});
