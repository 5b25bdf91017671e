/**
 * Where an attach's PostgreSQL statements come from (issue 24): `npx tsx bench/scale-out-trace.ts`.
 *
 * One cloud per mode (the all-in-one `hitch serve`, and `hitch api` + one `hitch agent`), the
 * same testbed as the scale-out figure; PostgreSQL logs every statement (`log_statement = all`)
 * with the application name each process gives its connections; `n` attaches run one at a time
 * after a warm-up, and the log between the first and the last is counted per process and per
 * statement shape. Statements per attach, transactions per attach (a statement outside
 * BEGIN … COMMIT is one), and the shapes, most frequent first. Not a timing: counts only.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { startPostgres } from '../src/test-support/postgres.ts';
import { closeTestbed, manyHostsScenario, openTestbed, throughputBatch } from './scale-out.ts';

interface Shape {
  statements: number;
}

/** A statement's shape: literals and parameters out, whitespace folded, cut to a readable length. */
export function shapeOf(text: string): string {
  return text
    .replace(/\s+/g, ' ')
    .replace(/'[^']*'/g, "'…'")
    .replace(/\$\d+/g, '$')
    .replace(/\b\d+\b/g, 'N')
    .slice(0, 150);
}

/** Per application: statements, transactions and shapes in the log text `log`. */
export function countLog(log: string): Map<string, { statements: number; transactions: number; shapes: Map<string, Shape> }> {
  const byApp = new Map<string, { statements: number; transactions: number; shapes: Map<string, Shape> }>();
  const inTx = new Set<string>();
  for (const line of log.split('\n')) {
    // prefix: app|session|
    const m = /^([^|]*)\|([^|]*)\|\S* ?LOG: {2}(?:statement|execute [^:]*): (.*)$/.exec(line);
    if (!m) continue;
    const [, app = '', session = '', text = ''] = m;
    if (!app.startsWith('hitch-') || app.startsWith('hitch-bench')) continue;
    const a = byApp.get(app) ?? { statements: 0, transactions: 0, shapes: new Map<string, Shape>() };
    byApp.set(app, a);
    a.statements++;
    const verb = text.trim().toUpperCase();
    if (verb.startsWith('BEGIN')) {
      inTx.add(session);
      a.transactions++;
    } else if (verb.startsWith('COMMIT') || verb.startsWith('ROLLBACK')) inTx.delete(session);
    else if (!inTx.has(session)) a.transactions++;
    const shape = shapeOf(text);
    const s = a.shapes.get(shape) ?? { statements: 0 };
    s.statements++;
    a.shapes.set(shape, s);
  }
  return byApp;
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 20);
  const hosts = Number(process.argv[3] ?? 1000);
  const inflight = Number(process.argv[4] ?? 1);
  const pgc = await startPostgres();
  const dir = mkdtempSync(join(tmpdir(), 'hitch-trace-'));
  try {
    const admin = new pg.Client({ connectionString: pgc.url });
    await admin.connect();
    const data = (await admin.query<{ d: string }>("select current_setting('data_directory') as d")).rows[0]!.d;
    const logFile = join(dirname(data), 'log');
    await admin.query(`alter system set log_line_prefix = '%a|%c|'`);
    await admin.query('select pg_reload_conf()');
    const scenario = manyHostsScenario(dir, hosts);
    for (const agents of [0, 1]) {
      const tb = await openTestbed(pgc, scenario, agents, hosts, n + 10);
      try {
        await throughputBatch(tb, 10, inflight);
        await admin.query(`alter system set log_statement = 'all'`);
        await admin.query('select pg_reload_conf()');
        await new Promise((r) => setTimeout(r, 300));
        const from = statSync(logFile).size;
        const run = await throughputBatch(tb, n, inflight);
        await new Promise((r) => setTimeout(r, 300));
        await admin.query(`alter system set log_statement = 'none'`);
        await admin.query('select pg_reload_conf()');
        const log = readFileSync(logFile, 'utf8').slice(from);
        const counted = countLog(log);
        console.log(`\n${agents === 0 ? 'all-in-one' : `${agents} agent`}: ${n} attaches, ${inflight} in flight, ${run.transactionsPerAttach.toFixed(1)} transactions per attach (pg_stat_database), failures ${run.failures}`);
        for (const [app, a] of [...counted].sort()) {
          console.log(`  ${app}: ${(a.statements / n).toFixed(1)} statements, ${(a.transactions / n).toFixed(1)} transactions per attach`);
          for (const [shape, s] of [...a.shapes].sort((x, y) => y[1].statements - x[1].statements)) console.log(`    ${(s.statements / n).toFixed(2).padStart(6)}  ${shape}`);
        }
      } finally {
        await closeTestbed(tb);
      }
    }
    await admin.end();
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await pgc.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
