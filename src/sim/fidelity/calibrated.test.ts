import { describe, expect, it } from 'vitest';
import { IscsiConnector } from '../../brick/connectors/iscsi.ts';
import { createSimHost } from '../sim-host.ts';
import { Trace } from '../../trace/span.ts';
import { leftovers } from '../inspect.ts';
import { latencyModel } from '../latency.ts';
import { builtinScenarioNames, loadScenario } from '../scenario.ts';
import { calibratedScenario, calibrationFromFixtures } from './calibrated.ts';
import { P1, P2, TGT_IQN } from './scenes.ts';

describe('the calibrated scenario', () => {
  it('is built in, and is what the recorded calibration gives (npx tsx scripts/calibrate-sim.ts rewrites it)', () => {
    expect(builtinScenarioNames()).toContain('calibrated');
    expect(loadScenario('calibrated')).toEqual(calibratedScenario());
  });

  it('keeps the guest\'s proportions: one factor divides every primitive; Debian\'s login timeouts are not scaled', () => {
    const c = calibrationFromFixtures();
    expect(c.runs).toBeGreaterThanOrEqual(2);
    expect(c.factor).toBeGreaterThanOrEqual(1);
    for (const k of ['commandMs', 'lunScanMs', 'udevDelayMs', 'multipathMapBuildMs', 'mapFlushMs', 'iscsidServiceMs'] as const) {
      expect(Math.abs(c.scaled[k] - c.guest[k] / c.factor), k).toBeLessThanOrEqual(0.5);
    }
    // A guest is slower than nothing at all: every measured primitive of the path costs time.
    for (const k of ['commandMs', 'lunScanMs', 'udevDelayMs', 'multipathMapDelayMs'] as const) expect(c.scaled[k], k).toBeGreaterThan(0);
    const m = latencyModel(loadScenario('calibrated').latency);
    expect(m.loginRetries * m.loginRetryTimeoutMs).toBe(120_000);
  });

  it('Hitch attaches on it: the map with both paths, no sooner than the floor; the disconnect leaves nothing', async () => {
    const host = createSimHost('calibrated');
    const floor = host.sim.floor({ multipath: true });
    const conn = new IscsiConnector({ host, multipath: true });
    const trace = new Trace(host.clock);
    const ci = { target_portals: [P1, P2], target_iqns: [TGT_IQN, TGT_IQN], target_luns: [1, 1] };
    const t0 = host.clock.now();
    const dev = await conn.connectVolume(trace.root(), ci);
    const ms = host.clock.now() - t0;
    expect(dev.path).toMatch(/^\/dev\/dm-\d+$/);
    expect(ms).toBeGreaterThanOrEqual(floor.pathMs);
    await conn.settled();
    expect(await host.readdir(`/sys/block/${dev.path.split('/').pop() ?? ''}/slaves`)).toHaveLength(2);
    await conn.disconnectVolume(trace.root(), ci);
    expect(leftovers(host.model)).toEqual([]);
  });
});
