/**
 * The reaper on the simulator: what a cleanup could not remove (a logout that hangs until its
 * timeout, a disk that appears after the connect gave up on it) is removed by a later pass once
 * the host answers again — and a pass never touches a target an attachment needs, nor one this
 * connector never made.
 */
import { describe, expect, it } from 'vitest';
import { isHitchError } from '../../errors.ts';
import { createSimHost } from '../../sim/sim-host.ts';
import { RecordingHost } from '../../host/recording-host.ts';
import { leftovers } from '../../sim/inspect.ts';
import { Trace } from '../../trace/span.ts';
import { parseIscsiVolume } from '../connection-info.ts';
import { IscsiConnector } from './iscsi.ts';
import { SEED } from './iscsi.test-helpers.ts';

const IQN = 'iqn.2010-10.org.openstack:volume-0001';
const PORTAL = '192.0.2.10:3260';
const CI = { target_portal: PORTAL, target_iqn: IQN, target_lun: 1 };

function simRig(scenario: string) {
  const sim = createSimHost(scenario);
  const host = new RecordingHost(sim);
  const conn = new IscsiConnector({ host, multipath: true });
  return { sim, host, conn, trace: new Trace(host.clock) };
}

const nothingNeeded = { keep: async () => [] };

describe('a map multipathd re-creates behind our back', () => {
  it('is flushed again once the paths are gone, by a disconnect', async () => {
    const r = simRig('healthy-single');
    const dev = await r.conn.connectVolume(r.trace.root(), CI);
    expect(dev.multipath_id).toBeDefined();
    // multipathd handling a path's uevent it had queued before our `multipath -f`: the map comes
    // back — and multipathd then goes (restarted), so it does not remove the map itself when the
    // paths go, as a running one does (fidelity: node-records end/state): the disconnect must.
    const model = r.sim.model;
    const off = r.host.onExec((e) => {
      if (e.cmd !== 'multipath' || e.args[0] !== '-f') return;
      for (const d of model.diskList()) model.multipath.addPath(d);
      r.sim.sim.injectFault({ fault: 'multipathd-down', at: r.host.clock.now(), until: r.host.clock.now() + 60_000 });
    });
    await r.conn.disconnectVolume(r.trace.root(), CI);
    off();
    expect(r.host.commands().filter((c) => c.startsWith('multipath -f'))).toHaveLength(2);
    expect(leftovers(model)).toEqual([]);
  });
});

describe('the reaper', () => {
  it('removes the session, node record and late disk a hung logout left, once iscsiadm answers again', async () => {
    const r = simRig('healthy-single');
    // The disk shows up 20 s after the scan (the connect gives up at 15 s); every logout hangs
    // until its 30 s timeout for the first 100 s.
    r.sim.sim.injectFault({ fault: 'device-appears-late', host: 'compute-1', delayMs: 20_000 });
    r.sim.sim.injectFault({ fault: 'command-hangs', host: 'compute-1', command: 'iscsiadm', match: '--logout', until: 100_000 });
    const err = await r.conn.connectVolume(r.trace.root(), CI).catch((e: unknown) => e);
    expect(isHitchError(err, 'HITCH_DEVICE_NOT_FOUND')).toBe(true);
    const left = r.sim.sim.inspectHost('compute-1');
    expect([left.nodes.length, left.sessions.length, left.disks.length]).toEqual([1, 1, 1]);

    // Still hanging: the pass fails, and leaves the target for the next one.
    const first = await r.conn.reap(r.trace.root(), nothingNeeded);
    expect(first.reaped).toEqual([]);
    expect(first.failures.join(' ')).toMatch(/logout .*timed out/);
    expect(leftovers(r.sim.model)).not.toEqual([]);

    await r.host.clock.sleep(100_000);
    const second = await r.conn.reap(r.trace.root(), nothingNeeded);
    expect(second).toEqual({ reaped: [`${PORTAL},${IQN}`], failures: [], kept: [] });
    expect(leftovers(r.sim.model)).toEqual([]);

    // Idempotent, and free when there is nothing left: no command at all.
    r.host.clear();
    expect(await r.conn.reap(r.trace.root(), nothingNeeded)).toEqual({ reaped: [], failures: [], kept: [] });
    expect(r.host.commands()).toEqual([]);
  });

  it('flushes by name a map whose flush hung during the disconnect, though its paths and session are gone', async () => {
    const r = simRig('healthy-single');
    await r.conn.connectVolume(r.trace.root(), CI);
    // The disconnect's `multipath -f` and the first pass's both hang until their 30 s timeout;
    // multipathd is down meanwhile (a running one removes a map when its last path goes).
    r.sim.sim.injectFault({ fault: 'command-hangs', host: 'compute-1', command: 'multipath', match: '-f', nth: 1, times: 2, hangMs: 100_000 });
    r.sim.sim.injectFault({ fault: 'multipathd-down', host: 'compute-1', at: r.host.clock.now() });
    const err = await r.conn.disconnectVolume(r.trace.root(), CI).catch((e: unknown) => e);
    expect(isHitchError(err, 'HITCH_DISCONNECT_FAILED')).toBe(true);
    const left = r.sim.sim.inspectHost('compute-1');
    // Paths deleted and logged out anyway; only the map (with no path) is left.
    expect([left.sessions.length, left.disks.length]).toEqual([0, 0]);
    expect(leftovers(r.sim.model)).not.toEqual([]);

    const first = await r.conn.reap(r.trace.root(), nothingNeeded);
    expect(first.reaped).toEqual([]);
    expect(first.failures.join(' ')).toMatch(/multipath -f .*timed out/);
    // Once multipath answers again, the next pass flushes it by name.
    const second = await r.conn.reap(r.trace.root(), nothingNeeded);
    expect(second).toEqual({ reaped: [`${PORTAL},${IQN}`], failures: [], kept: [] });
    expect(leftovers(r.sim.model)).toEqual([]);
  });

  it('never touches a target an attachment needs, nor sessions it did not make', async () => {
    const r = simRig('seed-with-other-sessions');
    const before = r.sim.sim.inspectHost('newton');
    await r.conn.connectVolume(r.trace.root(), SEED);
    await r.conn.settled();
    const attached = r.sim.sim.inspectHost('newton');

    // Same process: the attach's claim protects it even when the caller forgets it.
    expect((await r.conn.reap(r.trace.root(), nothingNeeded)).reaped).toEqual([]);
    // A new process (after a crash) adopting the volume's targets from the journal: the mapping
    // still needs them, so they stay.
    const restarted = new IscsiConnector({ host: r.host, multipath: true });
    const targets = parseIscsiVolume(SEED).targets;
    r.host.clear();
    const kept = await restarted.reap(r.trace.root(), { keep: async () => targets, adopt: targets });
    expect(kept.reaped).toEqual([]);
    expect(kept.kept).toHaveLength(2);
    expect(r.host.commands()).toEqual([]);
    expect(r.sim.sim.inspectHost('newton')).toEqual(attached);

    // Once no mapping needs them they go — and only they: the sessions the host had before stay.
    const done = await restarted.reap(r.trace.root(), nothingNeeded);
    expect(done.failures).toEqual([]);
    expect(done.reaped).toHaveLength(2);
    expect(r.sim.sim.inspectHost('newton')).toEqual(before);
  });
});
