/**
 * Figure 6: how long the `hitch` command takes to start, as a ratio to bare Node's start-up
 * (`node -e 0`) measured in the same run, run by run in turn (node, hitch, node, hitch …) so a
 * machine whose speed drifts moves both alike. Each run is a whole process, from spawn to exit:
 *
 * - `hitch --version`: the launcher, the compiled CLI and its argument parser; nothing else.
 * - `hitch volume list`, start-up: from spawn until its first request (the Keystone token)
 *   reaches the server — the launcher, the CLI, the command's modules, the credentials read from
 *   the data directory. (The token request goes through a small proxy in this process that
 *   notes when it arrives; every other request goes straight to the server.)
 * - `hitch volume list`, whole: the same plus the token (the server checks the password with
 *   scrypt, tens of ms by design) and two API calls (volumes, servers) to an all-in-one server on
 *   loopback in this process — what a user waits for.
 *
 * The launcher runs dist/ (compiled JavaScript) when it is up to date with src/; the figure says
 * which it ran, and `npm run build` runs first when dist/ is stale, so the figure is the product's.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compiledEntry } from '../bin/compiled.js';
import { startServer } from '../src/server/serve.ts';
import { percentile } from './lib/stats.ts';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const BIN = join(ROOT, 'bin/hitch.js');

export interface StartupRow {
  readonly command: string;
  readonly runs: number;
  /** Median wall ms of the command and of `node -e 0`, and the median of the run-by-run ratios. */
  readonly medianMs: number;
  readonly nodeMedianMs: number;
  readonly ratio: number;
  readonly ratioMin: number;
  readonly ratioMax: number;
}

export interface StartupResult {
  readonly compiled: boolean;
  readonly rows: readonly StartupRow[];
}

/** When the last spawn started (hrtime ns): the proxy measures its first request from it. */
let spawnedAt = 0n;

/** Wall ms from spawn to exit. Not spawnSync: the server `volume list` talks to runs in this process. */
function wallMs(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((res, rej) => {
    const t0 = process.hrtime.bigint();
    spawnedAt = t0;
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += String(d)));
    child.once('error', rej);
    child.once('exit', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code === 0) res(ms);
      else rej(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err}`));
    });
  });
}

/**
 * Run node and the command in turn; `measure` picks the figure of a command run (its wall time
 * by default, or the time until its first request for the start-up row).
 */
async function paired(label: string, cmd: string, args: readonly string[], env: NodeJS.ProcessEnv, runs: number, measure: (wall: number) => number = (w) => w): Promise<StartupRow> {
  const node: number[] = [];
  const hitch: number[] = [];
  const ratios: number[] = [];
  // One warm-up of each (the page cache), not counted.
  await wallMs(process.execPath, ['-e', '0'], env);
  await wallMs(cmd, args, env);
  for (let i = 0; i < runs; i++) {
    const n = await wallMs(process.execPath, ['-e', '0'], env);
    const h = measure(await wallMs(cmd, args, env));
    node.push(n);
    hitch.push(h);
    ratios.push(h / n);
  }
  return {
    command: label,
    runs,
    medianMs: percentile(hitch, 50),
    nodeMedianMs: percentile(node, 50),
    ratio: percentile(ratios, 50),
    ratioMin: Math.min(...ratios),
    ratioMax: Math.max(...ratios),
  };
}

export async function measureCliStartup(runs = 15): Promise<StartupResult> {
  if (compiledEntry(ROOT) === null) {
    const b = spawnSync(process.execPath, [join(ROOT, 'scripts/build.mjs')], { stdio: 'inherit' });
    if (b.status !== 0) throw new Error('npm run build failed');
  }
  const compiled = compiledEntry(ROOT) !== null;
  const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/tmp' };
  const rows: StartupRow[] = [await paired('hitch --version', BIN, ['--version'], env, runs)];
  const dir = mkdtempSync(join(tmpdir(), 'hitch-bench-cli-'));
  const srv = await startServer({ dataDir: dir, port: 0, simSpeed: 0, logLevel: 'silent' }, {}, () => undefined);
  // The token request (the CLI's first) through a proxy that notes when it arrived.
  let firstAt = 0n;
  const proxy: Server = createServer((req, res) => {
    // The first request since the last spawn.
    if (firstAt < spawnedAt) firstAt = process.hrtime.bigint();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && !['host', 'connection', 'content-length'].includes(k)) headers[k] = v;
      void fetch(`${srv.url}${req.url ?? '/'}`, { method: req.method ?? 'GET', headers, ...(chunks.length ? { body: Buffer.concat(chunks) } : {}) }).then(async (r) => {
        const out: Record<string, string> = {};
        r.headers.forEach((v, k) => {
          if (!['content-length', 'content-encoding', 'transfer-encoding', 'connection'].includes(k)) out[k] = v;
        });
        res.writeHead(r.status, out);
        res.end(Buffer.from(await r.arrayBuffer()));
      });
    });
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const creds = JSON.parse(readFileSync(join(dir, 'credentials.json'), 'utf8')) as { url: string };
  writeFileSync(join(dir, 'credentials.json'), JSON.stringify({ ...creds, url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` }), { mode: 0o600 });
  const untilFirstRequest = (): number => {
    return Number(firstAt - spawnedAt) / 1e6;
  };
  try {
    const denv = { ...env, HITCH_DATA_DIR: dir };
    rows.push(await paired('hitch volume list: start-up (until its first request)', BIN, ['volume', 'list'], denv, runs, untilFirstRequest));
    rows.push(await paired('hitch volume list: whole command', BIN, ['volume', 'list'], denv, runs));
  } finally {
    await new Promise((r) => proxy.close(r));
    await srv.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return { compiled, rows };
}
