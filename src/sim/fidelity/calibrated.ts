/**
 * The built-in `calibrated` scenario's latency model, from the recorded fixtures: the
 * calibration runs (`fixtures/calibrate.json`) and the scenes' own states that time what the
 * calibration case does not (a dead login, SendTargets discovery, a refused connection).
 * `scripts/calibrate-sim.ts` writes `src/sim/scenarios/calibrated.json` from it; a unit test
 * holds the file to it.
 */
import { guestPrimitives, median, scalePrimitives, type GuestPrimitives, type SceneTimings } from './calibration.ts';
import type { Scenario } from '../scenario.ts';
import { calibrationFixture, sceneFixture } from './fixtures.ts';
import { SCENES } from './scenes.ts';
import { fidelityScenario } from './sim-world.ts';

export interface Calibration {
  /** What the guest measured (wall ms under TCG). */
  readonly guest: GuestPrimitives;
  /** Guest command start ÷ this machine's, over the runs (medians): the one scale. */
  readonly factor: number;
  /** The primitives divided by `factor`: the latency model the `calibrated` scenario ships. */
  readonly scaled: GuestPrimitives;
  readonly runs: number;
  readonly versions: Readonly<Record<string, string>>;
}

function msOf(scene: string, id: string): number {
  const o = sceneFixture(scene).observations.find((x) => x.id === id);
  if (!o) throw new Error(`fidelity fixture ${scene} has no state ${id}`);
  return o.ms;
}

export function calibrationFromFixtures(): Calibration {
  const { runs } = calibrationFixture();
  const login = SCENES['dead-login']?.setup.login ?? { loginTimeoutS: 3, retryMax: 2 };
  const scenes: SceneTimings[] = [
    {
      deadLogin: { ms: msOf('dead-login', 'timeout'), attempts: login.retryMax, loginTimeoutS: login.loginTimeoutS },
      discoveryMs: [msOf('node-records', 'discovery'), msOf('discovery-lio', 'discovery')],
      refusedDiscoveryMs: msOf('dead-login', 'refused/discovery'),
    },
  ];
  const guest = guestPrimitives(
    runs.map((r) => r.raw),
    scenes,
  );
  const factor = median(runs.filter((r) => r.recorded.machineTrueMs > 0).map((r) => median(r.raw.commands['true'] ?? []) / r.recorded.machineTrueMs));
  const scale = Math.round(Math.max(1, factor) * 100) / 100;
  return { guest, factor: scale, scaled: scalePrimitives(guest, scale), runs: runs.length, versions: runs.at(-1)?.raw.versions ?? {} };
}

/**
 * The built-in `calibrated` scenario (`src/sim/scenarios/calibrated.json`): the storage host
 * guest's world as the fidelity suite builds it (tgt's LUN on 127.0.0.1 and 127.0.0.2, multipathd
 * with `find_multipaths no`, Debian's login timeouts: 15 s × 8) with the guest's primitives scaled
 * to this machine (`Calibration.scaled`). What the calibration does not measure keeps the model's
 * default: the array's export (`arrayExportMs`, tgt's is a config write outside the host).
 */
export function calibratedScenario(c: Calibration = calibrationFromFixtures()): Scenario {
  const base = fidelityScenario({ findMultipaths: 'no', login: { loginTimeoutS: 15, retryMax: 8 } });
  const s = c.scaled;
  return {
    ...base,
    name: 'calibrated',
    description:
      `Healthy two-portal multipath on the storage host guest's world (tgt, find_multipaths no), every primitive as the guest measured it ` +
      `(${c.runs} calibration runs; ${Object.values(c.versions).join(', ')}) divided by one factor, ${c.factor}: the guest's process start over this machine's. ` +
      `Written by scripts/calibrate-sim.ts from src/sim/fidelity/fixtures/.`,
    latency: {
      ...base.latency,
      commandMs: s.commandMs,
      perCommandMs: s.perCommandMs,
      loginRttMs: s.loginRttMs,
      iscsidServiceMs: s.iscsidServiceMs,
      logoutRttMs: s.logoutRttMs,
      lunScanMs: s.lunScanMs,
      udevDelayMs: s.udevDelayMs,
      udevWorkers: s.udevWorkers,
      multipathMapDelayMs: s.multipathMapDelayMs,
      multipathMapBuildMs: s.multipathMapBuildMs,
      mapFlushMs: s.mapFlushMs,
      deviceDeleteMs: s.deviceDeleteMs,
      loginRetryGapMs: s.loginRetryGapMs,
      discoveryRttMs: s.discoveryRttMs,
      refusedRetryMs: s.refusedRetryMs,
    },
  };
}
