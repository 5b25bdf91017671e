/**
 * Figure 4 — API throughput: autocannon against the Block Storage API on loopback with 10 000
 * volumes in the database: GET …/volumes/detail (the whole list, and one page) and POST
 * …/volumes. Requests per second and p99 latency, each run bounded in time.
 */
import autocannon from 'autocannon';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBenchCloud, type BenchCloud } from './lib/cloud.ts';
import { writeZeroLatencyScenario } from './zero-latency.ts';

export interface ThroughputRow {
  readonly database: 'sqlite' | 'postgresql';
  readonly request: string;
  readonly volumes: number;
  readonly requestsPerSecond: number;
  readonly p99Ms: number;
  readonly non2xx: number;
  readonly errors: number;
  /** Requests still unanswered after autocannon's 60 s timeout. */
  readonly timeouts: number;
  readonly completed: number;
  readonly durationS: number;
  /** One request alone, before the run (ms wall). */
  readonly singleMs: number;
}

async function seedVolumes(c: BenchCloud, n: number): Promise<void> {
  const batch = 50;
  for (let i = 0; i < n; i += batch) {
    await Promise.all(
      Array.from({ length: Math.min(batch, n - i) }, (_, k) => c.api('POST', `/volume/v3/${c.projectId}/volumes`, { volume: { size: 1, name: `seed-${i + k}` } })),
    );
  }
  await c.cloud.settle();
}

function cannon(c: BenchCloud, opts: { method: 'GET' | 'POST'; path: string; body?: string; durationS: number; connections: number }): Promise<autocannon.Result> {
  return autocannon({
    url: `${c.url}${opts.path}`,
    method: opts.method,
    connections: opts.connections,
    duration: opts.durationS,
    timeout: 60,
    headers: { 'x-auth-token': c.token, accept: 'application/json', ...(opts.body ? { 'content-type': 'application/json' } : {}) },
    ...(opts.body ? { body: opts.body } : {}),
  });
}

export async function measureThroughput(database: string, opts: { volumes: number; durationS: number; connections: number }): Promise<ThroughputRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'hitch-bench-api-'));
  const c = await startBenchCloud({ scenario: writeZeroLatencyScenario(dir), database });
  const rows: ThroughputRow[] = [];
  const db = database === 'sqlite' ? 'sqlite' : 'postgresql';
  try {
    await seedVolumes(c, opts.volumes);
    const base = `/volume/v3/${c.projectId}/volumes`;
    // Cheapest first: a slow request keeps the one-threaded server busy after its run ends.
    const runs = [
      { request: 'POST volumes', method: 'POST' as const, path: base, body: JSON.stringify({ volume: { size: 1, name: 'cannon' } }) },
      { request: 'GET volumes/detail?limit=100', method: 'GET' as const, path: `${base}/detail?limit=100` },
      { request: 'GET volumes/detail (all)', method: 'GET' as const, path: `${base}/detail` },
    ];
    for (const r of runs) {
      const t0 = performance.now();
      const one = await c.api(r.method, r.path, r.body ? (JSON.parse(r.body) as unknown) : undefined);
      const singleMs = performance.now() - t0;
      if (one.status >= 300) throw new Error(`${r.request}: ${one.status}`);
      const res = await cannon(c, { ...r, durationS: opts.durationS, connections: opts.connections });
      rows.push({
        database: db,
        request: r.request,
        volumes: opts.volumes,
        requestsPerSecond: res.requests.average,
        p99Ms: res.latency.p99,
        non2xx: res.non2xx,
        errors: res.errors,
        timeouts: res.timeouts,
        completed: res.requests.total,
        durationS: res.duration,
        singleMs,
      });
    }
    return rows;
  } finally {
    await c.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
