/**
 * Deterministic simulation testing in the suite: a few hundred seeds of random workloads,
 * faults and crashes (src/fuzz/run-seed.ts), each checked against the invariants. A failing seed
 * names the command that replays it. `npm run fuzz -- --seeds N` runs many more.
 */
import { describe, expect, it } from 'vitest';
import { runSeed } from '../../src/fuzz/run-seed.ts';

const SEEDS = Number(process.env['HITCH_FUZZ_SEEDS'] ?? 250);

describe('deterministic simulation testing', () => {
  it(`${SEEDS} seeds: no invariant violations`, async () => {
    const failures: string[] = [];
    let crashes = 0;
    let faults = 0;
    let dbFaults = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const r = await runSeed(seed);
      if (r.crashed) crashes++;
      faults += r.faults;
      dbFaults += r.dbFaults;
      if (r.violations.length > 0) failures.push(`seed ${seed}: ${r.violations.join('; ')} — replay: npm run fuzz -- --seed ${seed}`);
    }
    console.log(`fuzz in suite: ${SEEDS} runs, ${faults} faults injected (${dbFaults} database), ${crashes} crashes survived, ${failures.length} failing seeds`);
    // The harness really exercises the failure paths it claims to.
    expect(crashes).toBeGreaterThan(SEEDS / 10);
    expect(faults).toBeGreaterThan(SEEDS);
    // Database faults (a full disk, a lock, an I/O error) reach the flows and their undo.
    expect(dbFaults).toBeGreaterThan(SEEDS / 4);
    expect(failures).toEqual([]);
  }, 600_000);

  it('replays a seed identically', async () => {
    const a = await runSeed(42);
    const b = await runSeed(42);
    expect({ ...b }).toEqual({ ...a });
  });
});
