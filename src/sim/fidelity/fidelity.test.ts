/**
 * The simulator held to the real host, fast: every scene of `scenes.ts` runs on the simulator
 * and is compared, state by state, with what the storage host guest answered when the fixtures
 * were recorded (`fixtures/`, `scripts/record-fidelity.ts`). The same comparison runs live in the
 * storage-host suite's guest boot (`test/storage-host/fidelity.ts`), so neither the simulator
 * nor the recording can drift from the real host unnoticed.
 */
import { describe, expect, it } from 'vitest';
import { compareScene, renderDifferences, summary, unusedExplanations, type SceneComparison } from './compare.ts';
import { EXPLAINED } from './explained.ts';
import { fixtureExists, sceneFixture } from './fixtures.ts';
import { runScene, SCENES } from './scenes.ts';
import { simWorld } from './sim-world.ts';

describe('the simulator answers every state as the real host did (fixtures from the storage host guest)', () => {
  const comparisons: SceneComparison[] = [];
  for (const [name, scene] of Object.entries(SCENES)) {
    it(`${name}`, async () => {
      expect(fixtureExists(name), `no fixture for scene ${name}: record it (npx tsx scripts/record-fidelity.ts ${name})`).toBe(true);
      const real = sceneFixture(name);
      expect(real.error, 'the recording itself failed').toBeUndefined();
      const sim = await runScene(name, simWorld(scene.setup));
      const c = compareScene(real, sim, EXPLAINED);
      comparisons.push(c);
      const unexplained = c.differences.filter((d) => d.explained === undefined);
      expect(unexplained, renderDifferences(unexplained)).toEqual([]);
    });
  }

  it('N states compared, 0 unexplained differences; every explanation still used', () => {
    expect(comparisons).toHaveLength(Object.keys(SCENES).length);
    console.log(summary(comparisons));
    const states = comparisons.reduce((n, c) => n + c.states, 0);
    expect(states).toBeGreaterThan(200);
    expect(comparisons.flatMap((c) => c.differences).filter((d) => d.explained === undefined)).toEqual([]);
    expect(unusedExplanations(comparisons, EXPLAINED)).toEqual([]);
  });
});
