/**
 * The built-in `calibrated` scenario's latency model, from the recorded fixtures: the
 * calibration runs (`fixtures/calibrate.json`) and the scenes' own states that time what the
 * calibration case does not (a dead login, SendTargets discovery, a refused connection).
 * `scripts/calibrate-sim.ts` writes `src/sim/scenarios/calibrated.json` from it; a unit test
 * holds the file to it.
 */
import { guestPrimitives, median, scalePrimitives, type GuestPrimitives, type SceneTimings } from './calibration.ts';
import { calibrationFixture, sceneFixture } from './fixtures.ts';
import { SCENES } from './scenes.ts';

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
