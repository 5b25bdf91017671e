/**
 * `hitch scenario run NAME`: the whole cloud in this process on a simulated scenario (virtual
 * time: the seed's 120 s login costs milliseconds), one volume, one server, one attach through
 * the real HTTP APIs on loopback — then the trace's waterfall and diagnosis.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { HitchError } from '../../errors.ts';
import { createCloud } from '../../server/cloud.ts';
import { resolveConfig } from '../../server/config.ts';
import { freePort } from '../../server/serve.ts';
import { builtinScenarioNames, loadScenario } from '../../sim/scenario.ts';
import { explain, renderExplain } from '../../trace/explain.ts';
import { HitchClient } from '../client.ts';
import type { CliContext } from '../context.ts';
import { json, table } from '../format.ts';
import { getOperation, toSpanRecords, type ApiOperation } from '../resources.ts';
import { operationError } from './attach.ts';

const PASSWORD = 'scenario-run-only';

export interface ScenarioRun {
  readonly scenario: string;
  readonly seed: number;
  readonly operation: ApiOperation;
}

/** Run one attach on `scenario` in memory and return its operation (with spans). */
export async function runScenario(scenario: string, seed: number, debug?: (line: string) => void): Promise<ScenarioRun> {
  loadScenario(scenario); // fail fast, with the list of known names
  const dir = mkdtempSync(join(tmpdir(), 'hitch-scenario-'));
  try {
    const port = await freePort('127.0.0.1');
    const config = resolveConfig({ dataDir: dir, bind: '127.0.0.1', port, scenario, seed, logLevel: 'silent' }, {});
    const cloud = await createCloud({ config, credentials: { adminPassword: PASSWORD, demoPassword: PASSWORD } });
    try {
      await cloud.app.listen({ host: '127.0.0.1', port });
      const url = config.publicUrl;
      const c = new HitchClient(
        { authUrl: `${url}/identity/v3`, username: 'demo', password: PASSWORD, projectName: 'demo', userDomain: 'Default', projectDomain: 'Default', source: 'scenario run' },
        debug ? { debug } : {},
      );
      const vol = (await c.call<{ volume: { id: string } }>('volume', 'POST', '/volumes', { volume: { name: 'vol', size: 1 } })).body.volume;
      const srv = (await c.call<{ server: { id: string } }>('compute', 'POST', '/servers', { server: { name: 'vm', flavorRef: '1', imageRef: 'hitch-tiny', networks: 'none' } })).body.server;
      await cloud.settle();
      const r = await c.call('compute', 'POST', `/servers/${srv.id}/os-volume_attachments`, { volumeAttachment: { volumeId: vol.id } });
      await cloud.settle();
      const operation = await getOperation(c, r.headers.get('x-hitch-operation-id') ?? '');
      return { scenario, seed, operation };
    } finally {
      await cloud.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function registerScenarioCommands(program: Command, ctx: CliContext): void {
  const sc = program.command('scenario').description('simulated scenarios, run in this process on virtual time');
  sc.command('list')
    .description('list the built-in scenarios')
    .option('--json', 'print JSON')
    .action((o: { json?: boolean }) => {
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
