/**
 * Figure — scale-out: attaches per second with 1, 2 and 3 agents on PostgreSQL (zero-latency
 * simulator, so only Hitch's own work and the queue hop count), and the latency the queue hop
 * adds to one attach compared with the all-in-one's direct dispatch on the same database.
 *
 * In one process (API and agents share the CPU, as on this 2-core machine), one simulated world
 * with three compute hosts. "Attach" is from the POST until the volume is in-use, measured in
 * wall time over the HTTP API; the figure is attaches completed per wall second with 30 in flight.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCloud, type Cloud } from '../src/server/cloud.ts';
import { resolveConfig, type HitchConfig } from '../src/server/config.ts';
import { createDataPlane } from '../src/server/data-plane.ts';
import { startAgent, startApi, type RunningAgent } from '../src/server/scale-out.ts';
import { freePort } from '../src/server/serve.ts';
import { loadScenario } from '../src/sim/scenario.ts';
import { startPostgres, type PgCluster } from '../src/test-support/postgres.ts';
import { ZERO_LATENCY } from './zero-latency.ts';

export interface ScaleOutResult {
  readonly agents: number;
  readonly attaches: number;
  readonly wallMs: number;
  readonly attachesPerSecond: number;
  readonly failures: number;
}

export interface QueueHopResult {
  /** Median wall ms from POST to in-use, direct dispatch (all-in-one on PostgreSQL). */
  readonly directMs: number;
  /** The same through the queue to an agent. */
  readonly queuedMs: number;
  readonly addedMs: number;
}

const PASSWORDS = { adminPassword: 'bench-admin-Secret1', demoPassword: 'bench-demo-Secret2' };

function zeroLatencyThreeHosts(dir: string): string {
  const base = loadScenario('three-hosts');
  const path = join(dir, 'three-hosts-zero.json');
  writeFileSync(path, JSON.stringify({ ...base, name: 'three-hosts-zero', latency: ZERO_LATENCY }, null, 2));
  return path;
}

interface Session {
  readonly url: string;
  readonly token: string;
  readonly projectId: string;
}

async function login(url: string): Promise<Session> {
  const r = await fetch(`${url}/identity/v3/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: 'demo', domain: { id: 'default' }, password: PASSWORDS.demoPassword } } }, scope: { project: { name: 'demo', domain: { id: 'default' } } } } }),
  });
  const body = (await r.json()) as { token: { project: { id: string } } };
  return { url, token: r.headers.get('x-subject-token') as string, projectId: body.token.project.id };
}

/** The few fields of the API's answers this figure reads. */
type Answer = { volume?: { id: string; status: string }; server?: { id: string; status: string } } | null;

async function call(s: Session, method: string, path: string, body?: unknown): Promise<{ status: number; body: Answer }> {
  const r = await fetch(`${s.url}${path}`, { method, headers: { 'x-auth-token': s.token, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
  const text = await r.text();
  return { status: r.status, body: text ? (JSON.parse(text) as Answer) : null };
}

async function waitStatus(s: Session, volumeId: string, want: string): Promise<boolean> {
  for (let i = 0; i < 2000; i++) {
    const st = (await call(s, 'GET', `/volume/v3/${s.projectId}/volumes/${volumeId}`)).body?.volume?.status;
    if (st === want) return true;
    if (st === 'available' && want === 'in-use' && i > 200) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return false;
}

/** Servers (one per slot, spread over the live hosts) and volumes, ready to attach. */
async function prepare(s: Session, n: number): Promise<Array<[string, string]>> {
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i < n; i++) {
    const server = (await call(s, 'POST', '/compute/v2.1/servers', { server: { name: `b${i}`, imageRef: 'hitch-tiny', flavorRef: '1' } })).body?.server?.id as string;
    const volume = (await call(s, 'POST', `/volume/v3/${s.projectId}/volumes`, { volume: { size: 1 } })).body?.volume?.id as string;
    pairs.push([server, volume]);
  }
  for (const [server] of pairs) {
    for (let i = 0; i < 2000; i++) {
      if ((await call(s, 'GET', `/compute/v2.1/servers/${server}`)).body?.server?.status === 'ACTIVE') break;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  return pairs;
}

async function attachAll(s: Session, pairs: ReadonlyArray<[string, string]>, inflight: number): Promise<{ wallMs: number; failures: number; perAttachMs: number[] }> {
  let next = 0;
  let failures = 0;
  const perAttachMs: number[] = [];
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (next < pairs.length) {
      const [server, volume] = pairs[next++] as [string, string];
      const a = performance.now();
      const r = await call(s, 'POST', `/compute/v2.1/servers/${server}/os-volume_attachments`, { volumeAttachment: { volumeId: volume } });
      if (r.status !== 200 || !(await waitStatus(s, volume, 'in-use'))) failures++;
      else perAttachMs.push(performance.now() - a);
    }
  };
  await Promise.all(Array.from({ length: inflight }, worker));
  return { wallMs: performance.now() - t0, failures, perAttachMs };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.floor(s.length / 2)] as number) : 0;
};

async function scaleOutRun(pg: PgCluster, agentsN: number, attaches: number): Promise<ScaleOutResult & { perAttachMs: number[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'hitch-bench-scale-'));
  const port = await freePort('127.0.0.1');
  const config: HitchConfig = resolveConfig({ dataDir: dir, port, databaseUrl: await pg.createDatabase(), scenario: zeroLatencyThreeHosts(dir) }, {});
  const plane = await createDataPlane(config);
  const api = await startApi({ config, credentials: PASSWORDS, dataPlane: plane });
  await api.app.listen({ host: '127.0.0.1', port });
  const agents: RunningAgent[] = [];
  try {
    for (const host of ['compute-1', 'compute-2', 'compute-3'].slice(0, agentsN)) agents.push(await startAgent({ config, host, dataPlane: plane }));
    const s = await login(config.publicUrl);
    const pairs = await prepare(s, attaches);
    const r = await attachAll(s, pairs, 30);
    return { agents: agentsN, attaches, wallMs: r.wallMs, attachesPerSecond: ((attaches - r.failures) * 1000) / r.wallMs, failures: r.failures, perAttachMs: r.perAttachMs };
  } finally {
    for (const a of agents) await a.stop();
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function directRun(pg: PgCluster, attaches: number): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'hitch-bench-direct-'));
  const port = await freePort('127.0.0.1');
  const config = resolveConfig({ dataDir: dir, port, databaseUrl: await pg.createDatabase(), scenario: zeroLatencyThreeHosts(dir) }, {});
  const cloud: Cloud = await createCloud({ config, credentials: PASSWORDS });
  await cloud.app.listen({ host: '127.0.0.1', port });
  try {
    const s = await login(config.publicUrl);
    const pairs = await prepare(s, attaches);
    return (await attachAll(s, pairs, 1)).perAttachMs;
  } finally {
    await cloud.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The scale-out figure: 1, 2, 3 agents, and the queue hop against direct dispatch. */
export async function scaleOutFigure(opts: { attaches?: number } = {}): Promise<{ runs: ScaleOutResult[]; hop: QueueHopResult }> {
  const pg = await startPostgres();
  try {
    const n = opts.attaches ?? 60;
    const runs: ScaleOutResult[] = [];
    for (const agentsN of [1, 2, 3]) {
      const { perAttachMs: _p, ...r } = await scaleOutRun(pg, agentsN, n);
      runs.push(r);
    }
    // One at a time, so the hop is not hidden behind concurrency.
    const direct = median(await directRun(pg, 20));
    const queued = median((await scaleOutRunSerial(pg, 20)).perAttachMs);
    return { runs, hop: { directMs: direct, queuedMs: queued, addedMs: queued - direct } };
  } finally {
    await pg.stop();
  }
}

async function scaleOutRunSerial(pg: PgCluster, attaches: number): Promise<{ perAttachMs: number[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'hitch-bench-serial-'));
  const port = await freePort('127.0.0.1');
  const config = resolveConfig({ dataDir: dir, port, databaseUrl: await pg.createDatabase(), scenario: zeroLatencyThreeHosts(dir) }, {});
  const plane = await createDataPlane(config);
  const api = await startApi({ config, credentials: PASSWORDS, dataPlane: plane });
  await api.app.listen({ host: '127.0.0.1', port });
  const agents: RunningAgent[] = [];
  try {
    for (const host of ['compute-1', 'compute-2', 'compute-3']) agents.push(await startAgent({ config, host, dataPlane: plane }));
    const s = await login(config.publicUrl);
    const pairs = await prepare(s, attaches);
    return { perAttachMs: (await attachAll(s, pairs, 1)).perAttachMs };
  } finally {
    for (const a of agents) await a.stop();
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Text table of the figure. */
export function renderScaleOut(f: { runs: ScaleOutResult[]; hop: QueueHopResult }): string {
  const lines = ['Scale-out (PostgreSQL queue, zero-latency simulator, 30 in flight; API and agents in one process on this machine)', '', '| agents | attaches | attaches/s | failures |', '|---|---|---|---|'];
  for (const r of f.runs) lines.push(`| ${r.agents} | ${r.attaches} | ${r.attachesPerSecond.toFixed(1)} | ${r.failures} |`);
  lines.push('', `queue hop: one attach, POST to in-use, median ${f.hop.queuedMs.toFixed(1)} ms through the queue vs ${f.hop.directMs.toFixed(1)} ms direct: +${f.hop.addedMs.toFixed(1)} ms`);
  return lines.join('\n');
}

// `npx tsx bench/scale-out.ts` runs this figure alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  const f = await scaleOutFigure();
  console.log(renderScaleOut(f));
}
