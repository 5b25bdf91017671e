/**
 * `hitch scenario list` and `hitch scenario run NAME`: the whole cloud in this process on a
 * simulated scenario, one attach, then the trace's waterfall and diagnosis (`scenario-run.ts`,
 * loaded when the command runs).
 */
import type { Command } from 'commander';
import { HitchError } from '../../errors.ts';
import { explain, renderExplain } from '../../trace/explain.ts';
import type { CliContext } from '../context.ts';
import { json, table } from '../format.ts';
import { toSpanRecords } from '../resources.ts';
import { operationError } from './attach.ts';

export function registerScenarioCommands(program: Command, ctx: CliContext): void {
  const sc = program.command('scenario').description('simulated scenarios, run in this process on virtual time');
  sc.command('list')
    .description('list the built-in scenarios')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const { builtinScenarioNames, loadScenario } = await import('../../sim/scenario.ts');
      const rows = builtinScenarioNames().map((n) => ({ name: n, description: loadScenario(n).description ?? '' }));
      ctx.io.out(o.json ? json(rows) : table(['Name', 'Description'], rows.map((r) => [r.name, r.description.length > 100 ? `${r.description.slice(0, 99)}…` : r.description])));
    });
  sc.command('run')
    .description('attach a volume on a scenario and print the trace waterfall and diagnosis')
    .argument('<name>', 'built-in scenario name (hitch scenario list) or a scenario file')
    .option('--seed <n>', 'random seed (same seed, same trace)', '1')
    .option('--depth <n>', 'deepest level of sub-steps shown (0 = steps only)', '2')
    .option('--json', 'print the report as JSON')
    .action(async (name: string, o: { seed: string; depth: string; json?: boolean }) => {
      const seed = /^\d+$/.test(o.seed) ? Number(o.seed) : NaN;
      if (!Number.isSafeInteger(seed)) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: `--seed must be a whole number (got ${o.seed})` });
      const { runScenario } = await import('../scenario-run.ts');
      const run = await runScenario(name, seed, ctx.globals.debug ? (l) => ctx.io.err(l) : undefined);
      const op = run.operation;
      const report = explain(toSpanRecords(op.spans));
      if (o.json) {
        const { spans: _s, ...meta } = op;
        ctx.io.out(json({ scenario: name, seed, operation: meta, report }));
      } else {
        ctx.io.out(`scenario ${name}, seed ${seed}: attach ${op.state}${op.error ? ` (${op.error.code})` : ''}`);
        ctx.io.out(renderExplain(report, { maxDepth: Number(o.depth) || 0, width: 40, labelWidth: 56 }));
      }
      if (op.state !== 'done') throw operationError(op);
    });
}
