/**
 * `npm run fuzz -- --seeds N [--from S]` or `npm run fuzz -- --seed S`: deterministic simulation
 * testing of attach and detach (see src/fuzz/run-seed.ts). Prints a line per failing seed with
 * the command that replays it, and ends with the summary.
 */
import { Command } from 'commander';
import { runSeed, type SeedResult } from '../src/fuzz/run-seed.ts';

const program = new Command()
  .name('fuzz')
  .option('--seeds <n>', 'how many seeds to run', '200')
  .option('--from <s>', 'first seed', '1')
  .option('--seed <s>', 'run this one seed and print its violations')
  .option('--verbose', 'a line per seed')
  .parse(process.argv);
const o = program.opts<{ seeds: string; from: string; seed?: string; verbose?: boolean }>();

const seeds = o.seed !== undefined ? [Number(o.seed)] : Array.from({ length: Number(o.seeds) }, (_, i) => Number(o.from) + i);
if (seeds.some((s) => !Number.isInteger(s) || s < 0)) {
  console.error('fuzz: seeds must be non-negative integers');
  process.exit(2);
}
let runs = 0;
let faults = 0;
let dbFaults = 0;
let crashes = 0;
let violations = 0;
const started = Date.now();
for (const seed of seeds) {
  let r: SeedResult;
  try {
    r = await runSeed(seed);
  } catch (e) {
    r = { seed, scenario: '?', flow: '?', operations: 0, faults: 0, dbFaults: 0, crashed: null, violations: [`harness error: ${(e as Error).stack ?? String(e)}`] };
  }
  runs++;
  faults += r.faults;
  dbFaults += r.dbFaults;
  if (r.crashed) crashes++;
  if (r.violations.length > 0) {
    violations += r.violations.length;
    console.log(`seed ${seed} (${r.scenario}, ${r.flow}${r.crashed ? `, crash ${r.crashed}` : ''}): ${r.violations.length} violation(s) — replay: npm run fuzz -- --seed ${seed}`);
    if (o.seed !== undefined || o.verbose) for (const v of r.violations) console.log(`  ${v}`);
  } else if (o.verbose) {
    console.log(`seed ${seed} ok (${r.scenario}, ${r.flow}, ${r.operations} ops, ${r.faults} faults (${r.dbFaults} database)${r.crashed ? `, crash ${r.crashed}` : ''})`);
  }
}
console.log(
  `fuzz: ${runs} runs, ${faults} faults injected (${dbFaults} of them database faults), ${crashes} crashes survived, ${violations} invariant violations (${((Date.now() - started) / 1000).toFixed(1)} s)`,
);
process.exit(violations > 0 ? 1 : 0);
