/**
 * The fidelity suite's live half, for the storage-host suite's one guest boot: the scenes run
 * in the guest (`fidelity.guest.ts`, cases `fidelity:<scene>`), and here each real record is
 * compared with the simulator running the same scene, and with the recorded fixture (a
 * recording that no longer matches this host must be re-recorded:
 * `npx tsx scripts/record-fidelity.ts`).
 *
 * ```ts
 * cases: [...CASES, ...FIDELITY_CASES]
 * entry: ['test/storage-host/cases.guest.ts', FIDELITY_ENTRY]
 * fidelitySuite((name) => result(name));      // inside the suite's describe
 * ```
 */
import { expect, it } from 'vitest';
import { compareScene, renderDifferences, summary, type SceneComparison } from '../../src/sim/fidelity/compare.ts';
import { EXPLAINED } from '../../src/sim/fidelity/explained.ts';
import { fixtureExists, sceneFixture } from '../../src/sim/fidelity/fixtures.ts';
import { runScene, SCENES, type SceneRecord } from '../../src/sim/fidelity/scenes.ts';
import { simWorld } from '../../src/sim/fidelity/sim-world.ts';
import type { GuestCaseResult, GuestCaseSpec } from '../../src/test-support/storage-host/guest.ts';

export const FIDELITY_ENTRY = 'test/storage-host/fidelity.guest.ts';

/**
 * The scenes CI runs live, in the storage-host suite's boot: the node records (duplicates, exit
 * 15, discovery replacing a record), an attach and detach (every command, sysfs file, link and
 * map on the way), `add path` before udev (`fail`) and `find_multipaths strict` (`ok`, no map).
 * ≈ 2.5 min of guest time on 2 cores; every scene (≈ 7 min) is held to its recording in the unit
 * suite (`src/sim/fidelity/fidelity.test.ts`) and recorded again with scripts/record-fidelity.ts.
 */
export const LIVE_SCENES: readonly string[] = ['node-records', 'attach-detach', 'udev-race', 'map-strict'];
export const FIDELITY_CASES: readonly GuestCaseSpec[] = LIVE_SCENES.map((n) => ({ name: `fidelity:${n}` }));

const CASE_MS = 3_600_000;

export function fidelitySuite(result: (name: string) => Promise<GuestCaseResult>, log: (s: string) => void = console.log): void {
  const comparisons: SceneComparison[] = [];
  for (const name of LIVE_SCENES) {
    const scene = SCENES[name];
    if (!scene) throw new Error(`no fidelity scene ${name}`);
    it(`fidelity ${name}: the simulator answers every state as this real host did, and the fixture is current`, async () => {
      const r = await result(`fidelity:${name}`);
      if (!r.ok) throw new Error(`fidelity scene ${name} failed in the guest:\n${r.error ?? ''}`);
      const real = r.data as SceneRecord;
      expect(real.error, 'the scene broke on the real host').toBeUndefined();
      const sim = await runScene(name, simWorld(scene.setup));
      const c = compareScene(real, sim, EXPLAINED);
      comparisons.push(c);
      const unexplained = c.differences.filter((d) => d.explained === undefined);
      expect(unexplained, renderDifferences(unexplained)).toEqual([]);
      // The recording the unit suite uses says what this host says now.
      expect(fixtureExists(name), `no fixture for ${name}`).toBe(true);
      const drift = compareScene(real, sceneFixture(name), EXPLAINED.filter((e) => e.sometimes)).differences.filter((d) => d.explained === undefined);
      expect(drift, `the recorded fixture of ${name} no longer matches the real host: re-record (npx tsx scripts/record-fidelity.ts ${name})\n${renderDifferences(drift)}`).toEqual([]);
    }, CASE_MS);
  }
  it('fidelity: N states compared on the real host, 0 unexplained differences', () => {
    expect(comparisons).toHaveLength(LIVE_SCENES.length);
    log(summary(comparisons));
    expect(comparisons.flatMap((c) => c.differences).filter((d) => d.explained === undefined)).toEqual([]);
  });
}
