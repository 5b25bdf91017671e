/**
 * What one attach costs the host in calls, however many volumes the host has already. Sysfs
 * reads cost no virtual time, but on a real host each is a syscall and through the simulator's
 * daemon a round trip: a lookup that walked every session would make the control plane's CPU
 * per attach grow with the host's volume count (issue 9). Before the lookups were made direct,
 * one multipath connect made 97 calls on an empty host and 903 with 50 other volumes.
 */
import { describe, expect, it } from 'vitest';
import { createSimHost } from '../../sim/sim-host.ts';
import { RecordingHost, type RecordedCall } from '../../host/recording-host.ts';
import { leftovers } from '../../sim/inspect.ts';
import { validateScenario } from '../../sim/scenario.ts';
import { Trace } from '../../trace/span.ts';
import { IscsiConnector } from './iscsi.ts';

const INITIATOR = 'iqn.1993-08.org.debian:01:compute1';
const PORTALS = ['192.0.2.10:3260', '192.0.2.11:3260'];
const iqn = (i: number): string => `iqn.2010-10.org.openstack:volume-${String(i).padStart(4, '0')}`;

/** A host and an array exporting `n` volumes (one target each, LUN 1) through two portals. */
function crowdedHost(n: number): { host: RecordingHost; sim: ReturnType<typeof createSimHost> } {
  const scenario = validateScenario({
    name: `volumes-${n}`,
    seed: 3,
    portals: Object.fromEntries(PORTALS.map((p) => [p, { state: 'healthy' }])),
    arrays: [{ name: 'array1', portals: PORTALS, targets: Array.from({ length: n }, (_, i) => ({ iqn: iqn(i), portals: PORTALS, luns: [{ lun: 1 }], acl: [{ initiator: INITIATOR }] })) }],
    hosts: [{ name: 'compute-1', initiator: INITIATOR, multipathd: true, findMultipaths: 'no' }],
  });
  const sim = createSimHost(scenario);
  return { host: new RecordingHost(sim), sim };
}

function ci(i: number, multipath: boolean): Record<string, unknown> {
  const portals = multipath ? PORTALS : PORTALS.slice(0, 1);
  return { target_portals: portals, target_iqns: portals.map(() => iqn(i)), target_luns: portals.map(() => 1) };
}

/** Calls per Host operation, and in all. */
function tally(calls: readonly RecordedCall[]): Record<string, number> {
  const out: Record<string, number> = { total: calls.length };
  for (const c of calls) out[c.op] = (out[c.op] ?? 0) + 1;
  return out;
}

interface Cost {
  readonly connect: Record<string, number>;
  readonly disconnect: Record<string, number>;
}

/**
 * Host calls of one connect (with its background portals) and of its disconnect, after `others`
 * volumes were attached; with `restart`, the disconnect is by a new connector that remembers
 * no session (the compute service restarted in between). The connector is warm, as the
 * compute service's long-lived one is: one volume was attached and detached before (the first
 * attach also checks that the nodes directory exists and reads iscsid.conf, once).
 */
async function measure(others: number, multipath: boolean, restart = false): Promise<Cost> {
  const { host, sim } = crowdedHost(others + 2);
  const trace = new Trace(host.clock);
  let conn = new IscsiConnector({ host, multipath });
  await conn.connectVolume(trace.root(), ci(others + 1, multipath));
  await conn.settled();
  await conn.disconnectVolume(trace.root(), ci(others + 1, multipath));
  for (let i = 1; i <= others; i++) await conn.connectVolume(trace.root(), ci(i, multipath));
  await conn.settled();
  // The others' maps made too (multipathd maps single paths as well with find_multipaths no).
  await host.clock.sleep(5_000);
  expect(sim.sim.inspectHost('compute-1').sessions).toHaveLength(others * (multipath ? 2 : 1));
  host.clear();
  const dev = await conn.connectVolume(trace.root(), ci(0, multipath));
  await conn.settled();
  expect(dev.path).toMatch(multipath ? /^\/dev\/dm-\d+$/ : /^\/dev\/sd[a-z]+$/);
  const connect = tally(host.calls);
  if (restart) conn = new IscsiConnector({ host, multipath });
  host.clear();
  await conn.disconnectVolume(trace.root(), ci(0, multipath));
  const disconnect = tally(host.calls);
  const left = sim.sim.inspectHost('compute-1');
  expect(left.sessions).toHaveLength(others * (multipath ? 2 : 1));
  expect(left.sessions.some((s) => s.target === iqn(0))).toBe(false);
  if (others === 0) expect(leftovers(sim.model)).toEqual([]);
  return { connect, disconnect };
}

describe('host calls per attach do not grow with the volumes already on the host', () => {
  it('single path: the same calls with 50 other volumes as with one, and few', async () => {
    // With one other volume, not none: the disconnect's last look for a map multipathd may have
    // re-created reads the maps' names in sysfs — one read more when there is any map at all.
    const alone = await measure(0, false);
    expect(await measure(50, false)).toEqual(await measure(1, false));
    // Node record 2, login 1, session 2, scan 1, the disk 4 (wait, link, WWN, ro) — and 2 more
    // since the simulator's sysfs is the kernel's: a session has no SCSI target before its first
    // scan (fidelity scene attach-detach), so the scan's host comes from where the session sits
    // (1 realpath) and the disk from a second look at the session's targets.
    expect(alone.connect['total']).toBeLessThanOrEqual(12);
    expect(alone.disconnect['total']).toBeLessThanOrEqual(10);
  });

  it('multipath (two portals): the same calls with 50 other volumes (100 sessions) as with one', async () => {
    const alone = await measure(0, true);
    expect(await measure(50, true)).toEqual(await measure(1, true));
    // 23 before brick waited for multipathd to build the map from udev's event: the disk's
    // holders are looked at (one readdir, with backoff) while udev's map link is awaited.
    // And 2 × 2 for the sessions' targets made at the first scan (above). And 2 TCP probes, one
    // per portal: the return waits for the paths of the portals that answer. And 1 look at the
    // winner's own holders link: the map found by WWN may have been built from the other disk.
    expect(alone.connect['total']).toBeLessThanOrEqual(38);
    // 20, and one `multipath -f` more since the later path scans after the first's WWID is
    // recorded: multipathd re-creates the map from that path's event after the first flush, and
    // the leftover flush removes it (flushLeftoverMaps).
    expect(alone.disconnect['total']).toBeLessThanOrEqual(21);
  });

  it('a disconnect after a restart finds the session from its disk, not by looking at every session', async () => {
    expect(await measure(50, true, true)).toEqual(await measure(1, true, true));
  });
});

describe('a session that is already there when the connector logs in (iscsiadm exit 15)', () => {
  it('connect returns the device on the existing session; no second session', async () => {
    const { host, sim } = crowdedHost(3);
    const trace = new Trace(host.clock);
    const single = ci(0, false);
    const first = await new IscsiConnector({ host, multipath: false }).connectVolume(trace.root(), single);
    // What iscsiadm answers a second login to the same record.
    const again = await sim.exec('iscsiadm', ['-m', 'node', '-T', iqn(0), '-p', PORTALS[0] ?? '', '--login'], { okCodes: 'any' });
    expect(again).toEqual({ code: 15, stdout: '', stderr: 'iscsiadm: default: 1 session requested, but 1 already present.\niscsiadm: Could not log into all portals\n' });

    // A connector that does not know the session (the compute service restarted).
    const logs: string[] = [];
    const conn = new IscsiConnector({ host, multipath: false, logger: (l) => logs.push(l.message) });
    host.clear();
    const dev = await conn.connectVolume(trace.root(), single);
    expect(dev).toEqual(first);
    const logins = host.calls.filter((c) => c.op === 'exec' && c.args.includes('--login'));
    expect(logins).toMatchObject([{ code: 15 }]);
    expect(sim.sim.inspectHost('compute-1').sessions.filter((s) => s.target === iqn(0))).toHaveLength(1);
    expect(logs.some((l) => /^Reusing iSCSI session \d+ to 192\.0\.2\.10:3260 .*already logged in/.test(l))).toBe(true);

    await conn.disconnectVolume(trace.root(), single);
    expect(leftovers(sim.model)).toEqual([]);
  });
});
