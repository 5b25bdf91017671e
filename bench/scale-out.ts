/**
 * Figure — scale-out at fleet size (issue 24), each line measured in this run:
 *
 * 1. attaches per second over 1 000 simulated compute hosts: the all-in-one `hitch serve` (every
 *    host's manager in one process, direct dispatch) against `hitch api` + 1, 2 and 4
 *    `hitch agent` processes (the hosts dealt round-robin between them), all on one PostgreSQL
 *    database and one simulator daemon (zero latency, so only the control plane's work counts),
 *    30 attaches in flight; and the scale-out / all-in-one ratio;
 * 2. idle queries per second with the 4 agent processes and the API process up and nothing to
 *    do (PostgreSQL's own count of transactions on the database, every statement being one);
 * 3. host-down detection: an agent process SIGKILLed, then the time until the API's liveness
 *    check (the statement every request runs) calls its host down, and a request refused with 409;
 * 4. list latency at a million volumes: GET /volumes/detail?limit=100 and a metadata-filtered
 *    list, p50 and p99, after the bulk loader (`lib/fleet-data.ts`) filled PostgreSQL with
 *    1 000 000 volumes, 100 000 servers and 200 000 attachments over 1 000 projects; and the same
 *    lists on SQLite at 100 000 volumes.
 *
 * Every process is a real `bin/hitch.js` child, as an operator runs them. The bench client learns
 * that an attach has finished from the operations table (one statement every 5 ms for all the
 * attaches in flight, the same for both modes), not by polling the APIs.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { HEARTBEAT_MS, HOST_DOWN_AFTER_MS, STALE_MS } from '../src/compute/agent.ts';
import { TaskQueue } from '../src/compute/queue.ts';
import { openDatabase } from '../src/db/open-database.ts';
import { freePort } from '../src/server/serve.ts';
import { loadScenario } from '../src/sim/scenario.ts';
import { startPostgres, type PgCluster } from '../src/test-support/postgres.ts';
import { login, startHitch, type Api, type Proc } from '../test/support/processes.ts';
import { FLEET_1M, loadFleet, type FleetSize } from './lib/fleet-data.ts';
import { procCpuMs } from './lib/server-process.ts';
import { ZERO_LATENCY } from './zero-latency.ts';
import { TINY_IMAGE_ID } from '../src/compute/images.ts';
import { UNLIMITED_SERVERS } from './lib/cloud.ts';

export interface ThroughputRun {
  /** 0: the all-in-one process; else the number of agent processes. */
  readonly agents: number;
  readonly attaches: number;
  readonly wallMs: number;
  readonly attachesPerSecond: number;
  readonly failures: number;
  /**
   * Where the CPU went, ms per attach (user + system from /proc, over the measured attaches):
   * the front process (all-in-one server, or API process), the agent processes together, the
   * simulator daemon (the hosts' kernels and tools: not Hitch), PostgreSQL (every backend), and
   * this client.
   */
  readonly cpuPerAttachMs: { readonly front: number; readonly agents: number; readonly simulator: number; readonly postgres: number; readonly client: number };
  /** PostgreSQL transactions on the database per attach (each statement outside a transaction is one), the client's own polls taken out. */
  readonly transactionsPerAttach: number;
}

export interface ListRow {
  readonly database: 'postgres' | 'sqlite';
  readonly volumes: number;
  readonly request: string;
  readonly n: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** PostgreSQL: transactions (round trips, none of these lists opens a transaction) per request. */
  readonly transactionsPerRequest?: number;
}

export interface ScaleOutFigure {
  readonly machine: { readonly cpus: number; readonly kernel: string; readonly loadavg: readonly number[]; readonly postgres: string };
  readonly hosts: number;
  readonly runs: readonly ThroughputRun[];
  /** Attaches per batch, rounds, and each mode's unmeasured warm-up attaches. */
  readonly batch: { readonly attaches: number; readonly rounds: number; readonly warmup: number; readonly inflight: number };
  /** Median attaches/s per mode over its batches (0 = all-in-one). */
  readonly means: Record<string, number>;
  /** Each round's scale-out / all-in-one ratio per mode, and their median (the figure). */
  readonly roundRatios: Record<string, number[]>;
  readonly ratios: Record<string, number>;
  /** The parts this run measured (`--scale-parts`); the others' fields are absent. */
  readonly parts: readonly ScaleOutPart[];
  /** The 1-, 5- and 15-minute load averages as each part ended: what the machine was doing meanwhile. */
  readonly loadavgAfter: Partial<Record<ScaleOutPart, readonly number[]>>;
  readonly idle?: { readonly seconds: number; readonly agentProcesses: number; readonly apiProcesses: number; readonly transactions: number; readonly queriesPerSecond: number };
  readonly hostDown?: { readonly heartbeatMs: number; readonly boundMs: number; readonly staleMs: number; readonly detectedAfterKillMs: number; readonly sinceLastHeartbeatMs: number; readonly refusedStatus: number };
  readonly lists: readonly ListRow[];
  /** The bulk loads; `kept`: the fleet was loaded by an earlier run into the kept cluster (`--keep-fleet`), its figures from then. */
  readonly load?: { readonly postgres: { readonly size: FleetSize; readonly ms: number; readonly byTable: Record<string, number>; readonly kept: boolean }; readonly sqlite: { readonly size: FleetSize; readonly ms: number } };
  /** On-disk size after the load, PostgreSQL, MB: each fleet table's rows (heap) and its indexes. */
  readonly tableSizesMb?: Record<string, { readonly heap: number; readonly indexes: number }>;
}

export type ScaleOutPart = 'throughput' | 'idle' | 'lists';
export const SCALE_OUT_PARTS: readonly ScaleOutPart[] = ['throughput', 'idle', 'lists'];

const pad = (i: number): string => String(i).padStart(4, '0');

/** How long after a backend's work pg_stat_database is sure to count it (10 s idle interval, and a margin). */
const STATS_FLUSH_MS = 11_000;
export const hostName = (i: number): string => `compute-${pad(i)}`;

/** A world of `n` compute hosts on one array, every latency 0. */
export function manyHostsScenario(dir: string, n: number): string {
  const base = loadScenario('three-hosts');
  const hosts = Array.from({ length: n }, (_, k) => ({
    name: hostName(k + 1),
    initiator: `iqn.1993-08.org.debian:01:compute${pad(k + 1)}`,
    ip: `198.18.${(k + 1) >> 8}.${(k + 1) & 255}`,
    multipathd: true,
    findMultipaths: 'no',
  }));
  const path = join(dir, `hosts-${n}.json`);
  writeFileSync(path, JSON.stringify({ ...base, name: `hosts-${n}`, description: `${n} compute hosts, zero latency`, hosts, latency: ZERO_LATENCY }));
  return path;
}

interface Cloud {
  readonly procs: Proc[];
  readonly sim: Proc;
  readonly front: Proc;
  readonly agents: Proc[];
  readonly agentHosts: string[][];
  readonly url: string;
  readonly dbUrl: string;
  readonly dir: string;
  stop(): Promise<void>;
}

/** Sim daemon + all-in-one server (agents = 0) or API process + `agents` agent processes. */
async function startCloud(pgc: PgCluster, scenario: string, agents: number, hosts: number): Promise<Cloud> {
  const dir = mkdtempSync(join(tmpdir(), 'hitch-bench-fleet-'));
  const socket = join(dir, 'sim.sock');
  const procs: Proc[] = [];
  const agentProcs: Proc[] = [];
  const agentHosts: string[][] = [];
  const stop = async (): Promise<void> => {
    for (const p of [...procs].reverse()) await p.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const sim = startHitch(['sim', 'serve', '--scenario', scenario, '--socket', socket, '--quiet-ms', '0']);
    procs.push(sim);
    await sim.waitFor('listening on');
    const dbUrl = await pgc.createDatabase();
    const port = await freePort('127.0.0.1');
    const common = ['--database-url', dbUrl, '--data-dir', dir, '--sim-socket', socket, '--log-level', 'silent'];
    // Each process names its connections (pg reads PGAPPNAME), so pg_stat_activity and a
    // statement log (bench/scale-out-trace.ts) say whose each statement is.
    const front = startHitch([agents === 0 ? 'serve' : 'api', '--port', String(port), ...common], { PGAPPNAME: agents === 0 ? 'hitch-serve' : 'hitch-api' });
    procs.push(front);
    await front.waitFor('Hitch is running');
    for (let a = 0; a < agents; a++) {
      // Round-robin: the hosts that get servers first (placement fills hosts in name order) are spread over every process.
      const mine = Array.from({ length: hosts }, (_, k) => k).filter((k) => k % agents === a).map((k) => hostName(k + 1));
      const p = startHitch(['agent', '--host', mine.join(','), ...common], { PGAPPNAME: `hitch-agent-${a + 1}` });
      procs.push(p);
      agentProcs.push(p);
      agentHosts.push(mine);
      await p.waitFor('hitch agent:');
    }
    return { procs, sim, front, agents: agentProcs, agentHosts, url: `http://127.0.0.1:${port}`, dbUrl, dir, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Operation ids → resolvers, settled from the operations table by one statement every 5 ms. */
class OperationWatcher {
  readonly #client: pg.Client;
  readonly #pending = new Map<string, (state: string) => void>();
  #timer: NodeJS.Timeout | null = null;
  #busy = false;
  /** Statements this watcher sent. */
  polls = 0;
  constructor(url: string) {
    this.#client = new pg.Client({ connectionString: url, application_name: 'hitch-bench watcher' });
    // The server going away ends the run through the failing statement, not an unhandled event.
    this.#client.on('error', () => undefined);
  }
  async start(): Promise<void> {
    await this.#client.connect();
    this.#timer = setInterval(() => void this.#tick(), 5);
  }
  wait(id: string): Promise<string> {
    return new Promise((r) => this.#pending.set(id, r));
  }
  async #tick(): Promise<void> {
    if (this.#busy || this.#pending.size === 0) return;
    this.#busy = true;
    this.polls++;
    try {
      const r = await this.#client.query<{ id: string; state: string }>(`select id, state from operations where id = any($1) and state <> 'running'`, [[...this.#pending.keys()]]);
      for (const row of r.rows) {
        this.#pending.get(row.id)?.(row.state);
        this.#pending.delete(row.id);
      }
    } finally {
      this.#busy = false;
    }
  }
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.#client.end();
  }
}

/**
 * The bench's servers and volumes outnumber Nova's and Cinder's default quotas (10 instances,
 * 10 volumes a project): an admin lifts both for the project, as an operator would.
 */
async function liftQuota(cloud: Cloud, projectId: string): Promise<void> {
  const admin = await login(cloud.url, cloud.dir, 'admin');
  const r = await admin.call('PUT', `/compute/v2.1/os-quota-sets/${projectId}`, { quota_set: UNLIMITED_SERVERS });
  if (r.status !== 200) throw new Error(`quota: ${r.status} ${JSON.stringify(r.body)}`);
  const v = await admin.call('PUT', `/volume/v3/${admin.projectId}/os-quota-sets/${projectId}`, { quota_set: { volumes: -1, gigabytes: -1, snapshots: -1 } });
  if (v.status !== 200) throw new Error(`volume quota: ${v.status} ${JSON.stringify(v.body)}`);
}

/** n servers (placed in host-name order) and n volumes, every server ACTIVE. */
async function prepare(api: Api, n: number): Promise<Array<[string, string]>> {
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i < n; i++) {
    const s = await api.call('POST', '/compute/v2.1/servers', { server: { name: `b${i}`, imageRef: TINY_IMAGE_ID, flavorRef: '1' } });
    const v = await api.call('POST', `/volume/v3/${api.projectId}/volumes`, { volume: { size: 1 } });
    if (s.status !== 202 || v.status !== 202) throw new Error(`prepare: server ${s.status} volume ${v.status}`);
    pairs.push([s.body.server.id as string, v.body.volume.id as string]);
  }
  for (let round = 0; ; round++) {
    const r = await api.call('GET', '/compute/v2.1/servers/detail?limit=1000');
    const active = (r.body.servers as Array<{ status: string }>).filter((s) => s.status === 'ACTIVE').length;
    if (active >= n) break;
    if (round > 6000) throw new Error(`prepare: ${active} of ${n} servers ACTIVE`);
    await new Promise((res) => setTimeout(res, 20));
  }
  return pairs;
}

/** One mode's cloud, kept up for the whole figure: its servers and volumes prepared, its batches run in turn with the other modes'. */
export interface Testbed {
  readonly agents: number;
  readonly cloud: Cloud;
  readonly api: Api;
  readonly pairs: Array<[string, string]>;
  readonly watcher: OperationWatcher;
  readonly postmaster: number;
  next: number;
}

export async function openTestbed(pgc: PgCluster, scenario: string, agents: number, hosts: number, n: number): Promise<Testbed> {
  const cloud = await startCloud(pgc, scenario, agents, hosts);
  try {
    const api = await login(cloud.url, cloud.dir, 'demo');
    await liftQuota(cloud, api.projectId);
    const pairs = await prepare(api, n);
    const watcher = new OperationWatcher(cloud.dbUrl);
    await watcher.start();
    return { agents, cloud, api, pairs, watcher, postmaster: await postmasterPid(cloud.dbUrl), next: 0 };
  } catch (e) {
    await cloud.stop();
    throw e;
  }
}

export async function closeTestbed(tb: Testbed): Promise<void> {
  await tb.watcher.stop();
  await tb.cloud.stop();
}

/** The next `n` prepared attaches of a testbed, `inflight` at a time, measured. */
export async function throughputBatch(tb: Testbed, n: number, inflight: number): Promise<ThroughputRun> {
  const { cloud, api, watcher } = tb;
  const pairs = tb.pairs.slice(tb.next, tb.next + n);
  tb.next += n;
  if (pairs.length < n) throw new Error(`testbed of ${tb.agents} agents: ${pairs.length} of ${n} prepared attaches left`);
  const cpu = (): number[] => [
    procCpuMs(cloud.front.child.pid!) ?? 0,
    cloud.agents.reduce((sum, a) => sum + (procCpuMs(a.child.pid!) ?? 0), 0),
    procCpuMs(cloud.sim.child.pid!) ?? 0,
    childrenCpuMs(tb.postmaster),
    (process.cpuUsage().user + process.cpuUsage().system) / 1000,
  ];
  const cpu0 = cpu();
  const x0 = await dbXacts(cloud.dbUrl);
  const polls0 = watcher.polls;
  let next = 0;
  let failures = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (next < pairs.length) {
      const [server, volume] = pairs[next++] as [string, string];
      const r = await fetch(`${cloud.url}/compute/v2.1/servers/${server}/os-volume_attachments`, {
        method: 'POST',
        headers: { 'x-auth-token': api.token, 'content-type': 'application/json' },
        body: JSON.stringify({ volumeAttachment: { volumeId: volume } }),
      });
      await r.text();
      const op = r.headers.get('x-hitch-operation-id');
      if (r.status !== 200 || !op || (await watcher.wait(op)) !== 'done') failures++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(inflight, n) }, worker));
  const wallMs = performance.now() - t0;
  const [front, agentsCpu, simulator, postgres, client] = cpu().map((x, i) => (x - (cpu0[i] as number)) / n) as [number, number, number, number, number];
  // A backend reports its statistics to pg_stat_database when it goes idle, but at most once a
  // second, and what it held back then waits for an idle timeout of 10 s (PostgreSQL 15's
  // PGSTAT_IDLE_INTERVAL): read after that, or an attach's last statements are missed (the
  // 1.5-s wait this had undercounted the queue's busiest connections).
  await new Promise((r) => setTimeout(r, STATS_FLUSH_MS));
  const x1 = await dbXacts(cloud.dbUrl);
  // Less the watcher's polls and the first dbXacts' own transaction.
  const transactionsPerAttach = (x1 - x0 - (watcher.polls - polls0) - 1) / n;
  return { agents: tb.agents, attaches: n, wallMs, attachesPerSecond: ((n - failures) * 1000) / wallMs, failures, cpuPerAttachMs: { front, agents: agentsCpu, simulator, postgres, client }, transactionsPerAttach };
}

/** The PostgreSQL server's main process (its backends are its children). */
async function postmasterPid(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const backend = (await c.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    // Read while the backend is still there.
    return Number(readFileSync(`/proc/${backend}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
  } finally {
    await c.end();
  }
}

/** CPU ms of every live child of `ppid` (PostgreSQL's backends and workers). */
function childrenCpuMs(ppid: number): number {
  let sum = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const rest = readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]!.split(' ');
      if (Number(rest[1]) === ppid) sum += procCpuMs(Number(d)) ?? 0;
    } catch {
      // gone meanwhile
    }
  }
  return sum;
}

async function dbXacts(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await xacts(c);
  } finally {
    await c.end();
  }
}

async function xacts(c: pg.Client): Promise<number> {
  const r = await c.query<{ n: string }>('select xact_commit + xact_rollback as n from pg_stat_database where datname = current_database()');
  return Number(r.rows[0]!.n);
}

/** Idle cost and host-down detection on one scale-out cloud of `agents` processes over `hosts` hosts. */
async function idleAndHostDown(pgc: PgCluster, scenario: string, agents: number, hosts: number, idleSeconds: number): Promise<Pick<ScaleOutFigure, 'idle' | 'hostDown'>> {
  const cloud = await startCloud(pgc, scenario, agents, hosts);
  try {
    const api = await login(cloud.url, cloud.dir, 'demo');
    // One server on the first host of agent 0, for the refused request at the end.
    const [[server, volume]] = (await prepare(api, 1)) as [[string, string]];
    const c = new pg.Client({ connectionString: cloud.dbUrl, application_name: 'hitch-bench idle' });
    c.on('error', () => undefined);
    await c.connect();
    // Settle (start-up recovery, the first heartbeats, their statistics reported), then count.
    await new Promise((r) => setTimeout(r, 2 * HEARTBEAT_MS + STATS_FLUSH_MS));
    const a = await xacts(c);
    await new Promise((r) => setTimeout(r, idleSeconds * 1000));
    // What the backends did in the window is reported within STATS_FLUSH_MS; what they do
    // meanwhile is idle work too, so the window is counted as idleSeconds + STATS_FLUSH_MS.
    await new Promise((r) => setTimeout(r, STATS_FLUSH_MS));
    const b = await xacts(c);
    // Our own reads: the first is counted in b, and each read is one transaction.
    const transactions = b - a - 1;
    const idle = { seconds: idleSeconds, agentProcesses: agents, apiProcesses: 1, transactions, queriesPerSecond: transactions / (idleSeconds + STATS_FLUSH_MS / 1000) };

    const db = await openDatabase(cloud.dbUrl, { skipMigrations: true, poolSize: 2 });
    const q = new TaskQueue(db.db, 'postgres');
    const dbNow = async (): Promise<number> => Number((await c.query<{ ms: string }>('select (extract(epoch from clock_timestamp()) * 1000)::bigint as ms')).rows[0]!.ms);
    const host = cloud.agentHosts[0]![0]!;
    await cloud.agents[0]!.kill();
    const killedAt = await dbNow();
    const last = Number((await c.query<{ ms: string }>('select heartbeat_ms as ms from compute_hosts where name = $1', [host])).rows[0]!.ms);
    while (await q.isLive(host, STALE_MS)) await new Promise((r) => setTimeout(r, 10));
    const downAt = await dbNow();
    const refused = await api.call('POST', `/compute/v2.1/servers/${server}/os-volume_attachments`, { volumeAttachment: { volumeId: volume } });
    await db.close();
    await c.end();
    return { idle, hostDown: { heartbeatMs: HEARTBEAT_MS, boundMs: HOST_DOWN_AFTER_MS, staleMs: STALE_MS, detectedAfterKillMs: downAt - killedAt, sinceLastHeartbeatMs: downAt - last, refusedStatus: refused.status } };
  } finally {
    await cloud.stop();
  }
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};

/**
 * p50/p99 of each request, `n` times each in turn after a warm-up, against the server at `url`:
 * one request at a time, timed from the call to the last byte of the body, as a client sees it
 * (the client's own JSON parse is its business, not the server's, and is left out). Then, on
 * PostgreSQL (`dbUrl`), the transactions each request costs the database: `perRequest` more of
 * each, pg_stat_database before and after (a statement outside a transaction is one: round trips).
 */
async function listLatency(url: string, dir: string, database: 'postgres' | 'sqlite', volumes: number, n: number, dbUrl?: string): Promise<ListRow[]> {
  const demo = await login(url, dir, 'demo');
  const admin = await login(url, dir, 'admin');
  const md = (o: Record<string, string>) => encodeURIComponent(JSON.stringify(o));
  const requests: Array<[string, Api, string]> = [
    ['GET /volumes/detail?limit=100 (a project of 1 000)', demo, `/volume/v3/${demo.projectId}/volumes/detail?limit=100`],
    ['GET /volumes/detail?limit=100&metadata={"tier":"gold"} (a third match)', demo, `/volume/v3/${demo.projectId}/volumes/detail?limit=100&metadata=${md({ tier: 'gold' })}`],
    ['GET /volumes/detail?limit=100&metadata={"app":"app-0"} (one in a thousand)', demo, `/volume/v3/${demo.projectId}/volumes/detail?limit=100&metadata=${md({ app: 'app-0' })}`],
    ['admin, all_tenants: GET /volumes/detail?limit=100', admin, `/volume/v3/${admin.projectId}/volumes/detail?all_tenants=1&limit=100`],
    ['admin, all_tenants: …&metadata={"app":"app-7"}&limit=100 (1 000 of a million)', admin, `/volume/v3/${admin.projectId}/volumes/detail?all_tenants=1&limit=100&metadata=${md({ app: 'app-7' })}`],
    ['admin, all_tenants: GET /servers/detail?limit=100', admin, '/compute/v2.1/servers/detail?all_tenants=1&limit=100'],
  ];
  const get = async (who: Api, path: string): Promise<number> => {
    const t0 = performance.now();
    const r = await fetch(`${url}${path}`, { headers: { 'x-auth-token': who.token, accept: 'application/json' } });
    await r.arrayBuffer();
    const ms = performance.now() - t0;
    if (r.status !== 200) throw new Error(`${path}: HTTP ${r.status}`);
    return ms;
  };
  const times = requests.map(() => [] as number[]);
  for (let round = -10; round < n; round++) {
    for (const [i, [, who, path]] of requests.entries()) {
      const ms = await get(who, path);
      if (round >= 0) times[i]!.push(ms);
    }
  }
  const perRequest = 20;
  const trips: Array<number | undefined> = requests.map(() => undefined);
  if (dbUrl) {
    // What the server does on its own meanwhile (its host's heartbeat, the reaper), per ms, from
    // a window with no request; taken out of each request's window. Less the first read's own transaction.
    const window = async (work: () => Promise<void>): Promise<{ xacts: number; ms: number }> => {
      const t0 = performance.now();
      const x0 = await dbXacts(dbUrl);
      await work();
      await new Promise((r) => setTimeout(r, STATS_FLUSH_MS));
      return { xacts: (await dbXacts(dbUrl)) - x0 - 1, ms: performance.now() - t0 };
    };
    // The timed rounds' own statistics arrive up to STATS_FLUSH_MS late: let them in first.
    await new Promise((r) => setTimeout(r, STATS_FLUSH_MS));
    const quiet = await window(async () => undefined);
    for (const [i, [, who, path]] of requests.entries()) {
      const w = await window(async () => {
        for (let k = 0; k < perRequest; k++) await get(who, path);
      });
      trips[i] = Math.max(0, w.xacts - (quiet.xacts * w.ms) / quiet.ms) / perRequest;
    }
  }
  return requests.map(([request], i) => ({ database, volumes, request, n, p50Ms: pct(times[i]!, 50), p99Ms: pct(times[i]!, 99), ...(trips[i] !== undefined ? { transactionsPerRequest: trips[i] } : {}) }));
}

interface FleetLoad {
  readonly ms: number;
  readonly byTable: Record<string, number>;
  readonly sizes: ScaleOutFigure['tableSizesMb'];
}

/**
 * A one-host all-in-one server on `dbUrl`, the fleet loaded under it (demo's project is project 1).
 * With `keep` (a directory), the server's data directory and a record of the load stay there: a
 * later run on the same database (a kept PostgreSQL cluster) finds the fleet loaded and measures
 * only, reporting the load as it was measured then.
 */
async function listsAt(dbUrl: string, database: 'postgres' | 'sqlite', size: FleetSize, n: number, keep?: string): Promise<{ rows: ListRow[]; kept: boolean } & FleetLoad> {
  const dir = keep ?? mkdtempSync(join(tmpdir(), 'hitch-bench-lists-'));
  mkdirSync(dir, { recursive: true });
  const record = join(dir, 'fleet-load.json');
  const url = database === 'sqlite' ? `sqlite:${join(dir, 'hitch.db')}` : dbUrl;
  const port = await freePort('127.0.0.1');
  const server = startHitch(['serve', '--port', String(port), '--database-url', url, '--data-dir', dir, '--scenario', 'healthy-single', '--sim-speed', '0', '--log-level', 'silent']);
  try {
    await server.waitFor('Hitch is running');
    const demo = await login(`http://127.0.0.1:${port}`, dir, 'demo');
    let load: FleetLoad;
    const prior = existsSync(record) ? (JSON.parse(readFileSync(record, 'utf8')) as FleetLoad & { size: FleetSize; url: string }) : null;
    // The same fleet in the same database (the port differs from one start of the kept cluster to the next).
    const dbName = (u: string): string => (u.startsWith('postgres') ? new URL(u).pathname : u);
    const kept = prior !== null && JSON.stringify(prior.size) === JSON.stringify(size) && dbName(prior.url) === dbName(url);
    if (kept) {
      load = prior;
    } else {
      const db = await openDatabase(url, { skipMigrations: true, poolSize: 2 });
      const t0 = performance.now();
      const report = await loadFleet(db, { ...size, project1Id: demo.projectId });
      const ms = performance.now() - t0;
      const sizes: Record<string, { heap: number; indexes: number }> = {};
      if (database === 'postgres') {
        for (const t of ['volumes', 'volume_metadata', 'attachments', 'servers', 'bdms', 'operations', 'traces', 'compute_tasks']) {
          const r = await sql<{ heap: string; idx: string }>`select pg_table_size(${t}::regclass) as heap, pg_indexes_size(${t}::regclass) as idx`.execute(db.db);
          sizes[t] = { heap: Number(r.rows[0]!.heap) / 1e6, indexes: Number(r.rows[0]!.idx) / 1e6 };
        }
      }
      await db.close();
      load = { ms, byTable: report.ms, sizes };
      if (keep) writeFileSync(record, JSON.stringify({ ...load, size, url }));
    }
    return { rows: await listLatency(`http://127.0.0.1:${port}`, dir, database, size.volumes, n, database === 'postgres' ? url : undefined), kept, ...load };
  } finally {
    await server.stop();
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

export interface ScaleOutOptions {
  readonly hosts?: number;
  /** Attaches per measured batch. */
  readonly attaches?: number;
  /** Rounds: each runs one batch of every mode, in an order rotated by one each round. */
  readonly rounds?: number;
  /** Attaches each mode runs unmeasured first (JIT, pools, caches warm). */
  readonly warmup?: number;
  readonly inflight?: number;
  readonly idleSeconds?: number;
  readonly fleet?: FleetSize;
  readonly sqliteFleet?: FleetSize;
  readonly listRequests?: number;
  /** The modes: 0 the all-in-one, k that many agent processes. */
  readonly modes?: readonly number[];
  /** Which parts to measure (default all). */
  readonly parts?: readonly ScaleOutPart[];
  /**
   * Keep the million-volume PostgreSQL cluster and the lists' server data in this directory: the
   * first run loads it, later runs measure the lists on it without loading again.
   */
  readonly keepFleet?: string;
  readonly log?: (s: string) => void;
}

export async function scaleOutFigure(o: ScaleOutOptions = {}): Promise<ScaleOutFigure> {
  const hosts = o.hosts ?? 1000;
  const n = o.attaches ?? 60;
  const rounds = o.rounds ?? 3;
  const warmup = o.warmup ?? 30;
  const inflight = o.inflight ?? 30;
  const parts = o.parts ?? SCALE_OUT_PARTS;
  const log = o.log ?? (() => undefined);
  const loadavgAfter: Partial<Record<ScaleOutPart, readonly number[]>> = {};
  const avg = (): number[] => loadavg().map((x) => Math.round(x * 10) / 10);
  const pgc = await startPostgres();
  const dir = mkdtempSync(join(tmpdir(), 'hitch-bench-scale-'));
  try {
    const admin = new pg.Client({ connectionString: pgc.url });
    await admin.connect();
    const version = (await admin.query<{ v: string }>("select current_setting('server_version') as v")).rows[0]!.v;
    await admin.end();
    const scenario = manyHostsScenario(dir, hosts);
    // Every mode's cloud is up at once (the others idle meanwhile), and their batches alternate
    // round by round: a slow stretch of a shared machine slows the modes of that round alike,
    // and each round's ratio compares batches run minutes apart at most. Same work on each side:
    // the same number of prepared servers and volumes, the same warm-up, the same batches.
    const modes = o.modes ?? [0, 1, 2, 4];
    const runs: ThroughputRun[] = [];
    const roundRatios: Record<string, number[]> = {};
    const means: Record<string, number> = {};
    const ratios: Record<string, number> = {};
    if (parts.includes('throughput')) {
      const beds: Testbed[] = [];
      try {
        for (const agents of modes) {
          log(`   scale-out: ${agents === 0 ? 'all-in-one' : `hitch api + ${agents} agent process(es)`} over ${hosts} hosts, ${warmup + rounds * n} servers and volumes …`);
          beds.push(await openTestbed(pgc, scenario, agents, hosts, warmup + rounds * n));
        }
        for (const tb of beds) if (warmup > 0) await throughputBatch(tb, warmup, inflight);
        for (let r = 0; r < rounds; r++) {
          const round = new Map<number, ThroughputRun>();
          for (let k = 0; k < beds.length; k++) {
            const tb = beds[(k + r) % beds.length] as Testbed;
            const run = await throughputBatch(tb, n, inflight);
            round.set(tb.agents, run);
            runs.push(run);
          }
          log(`   scale-out: round ${r + 1} of ${rounds} (load ${avg()[0]}): ${[...round.values()].map((x) => `${x.agents === 0 ? 'all-in-one' : `${x.agents} agents`} ${x.attachesPerSecond.toFixed(1)}/s`).join(', ')}`);
          const base = round.get(0)?.attachesPerSecond;
          for (const [a, x] of round) if (a !== 0 && base) (roundRatios[String(a)] ??= []).push(x.attachesPerSecond / base);
        }
      } finally {
        for (const tb of beds) await closeTestbed(tb);
      }
      for (const a of modes) means[String(a)] = median(runs.filter((r) => r.agents === a).map((r) => r.attachesPerSecond));
      for (const a of modes) if (a !== 0) ratios[String(a)] = median(roundRatios[String(a)] ?? []);
      loadavgAfter.throughput = avg();
    }
    let idleParts: Partial<Pick<ScaleOutFigure, 'idle' | 'hostDown'>> = {};
    if (parts.includes('idle')) {
      log('   scale-out: idle cost and host-down detection …');
      idleParts = await idleAndHostDown(pgc, scenario, 4, hosts, o.idleSeconds ?? 30);
      loadavgAfter.idle = avg();
    }
    let lists: ListRow[] = [];
    let listParts: Partial<Pick<ScaleOutFigure, 'load' | 'tableSizesMb'>> = {};
    if (parts.includes('lists')) {
      const fleet = o.fleet ?? FLEET_1M;
      const kept = o.keepFleet ? await startPostgres({ keepDir: join(o.keepFleet, 'postgres') }) : pgc;
      try {
        let fleetUrl: string;
        if (o.keepFleet) {
          const c = new pg.Client({ connectionString: kept.url });
          await c.connect();
          let there = (await c.query("select 1 from pg_database where datname = 'hitch_fleet'")).rowCount === 1;
          if (there && !existsSync(join(o.keepFleet, 'server', 'fleet-load.json'))) {
            // A load that did not finish (its record is written last): start over, database and server data.
            await c.query('drop database hitch_fleet');
            rmSync(join(o.keepFleet, 'server'), { recursive: true, force: true });
            there = false;
          }
          await c.end();
          fleetUrl = there ? Object.assign(new URL(kept.url), { pathname: '/hitch_fleet' }).toString() : await kept.createDatabase('hitch_fleet');
        } else fleetUrl = await pgc.createDatabase();
        log(`   scale-out: ${fleet.volumes} volumes in PostgreSQL (${o.keepFleet ? `kept in ${o.keepFleet}; loaded once` : 'loading'}) …`);
        const pgLists = await listsAt(fleetUrl, 'postgres', fleet, o.listRequests ?? 200, o.keepFleet ? join(o.keepFleet, 'server') : undefined);
        const sqliteFleet = o.sqliteFleet ?? { projects: 100, volumes: 100_000, servers: 10_000, attachments: 20_000, hosts: 100 };
        log(`   scale-out: loading ${sqliteFleet.volumes} volumes into SQLite …`);
        const sqLists = await listsAt('', 'sqlite', sqliteFleet, o.listRequests ?? 200);
        lists = [...pgLists.rows, ...sqLists.rows];
        listParts = { load: { postgres: { size: fleet, ms: pgLists.ms, byTable: pgLists.byTable, kept: pgLists.kept }, sqlite: { size: sqliteFleet, ms: sqLists.ms } }, tableSizesMb: pgLists.sizes };
      } finally {
        if (kept !== pgc) await kept.stop();
      }
      loadavgAfter.lists = avg();
    }
    return {
      machine: { cpus: cpus().length, kernel: release(), loadavg: avg(), postgres: version },
      hosts,
      runs,
      batch: { attaches: n, rounds, warmup, inflight },
      means,
      roundRatios,
      ratios,
      parts,
      loadavgAfter,
      ...idleParts,
      lists,
      ...listParts,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await pgc.stop();
  }
}

/** The figure's lines. */
export function renderScaleOut(f: ScaleOutFigure): string {
  const l: string[] = [];
  const per = (a: number) => f.runs.filter((r) => r.agents === a).map((r) => r.attachesPerSecond.toFixed(1)).join(' · ');
  const modes = Object.keys(f.means).map(Number);
  const la = (p: ScaleOutPart): string => (f.loadavgAfter[p] ? ` [load average after it ${f.loadavgAfter[p].join(' ')}]` : '');
  l.push(`Scale-out over ${f.hosts} simulated hosts (zero latency), PostgreSQL ${f.machine.postgres}, ${f.machine.cpus} CPUs, kernel ${f.machine.kernel}, parts ${f.parts.join(', ')}, load average at the end ${f.machine.loadavg.join(' ')}`);
  if (f.parts.includes('throughput')) {
    l.push(`every mode's cloud up at once; ${f.batch.rounds} rounds, each a batch of ${f.batch.attaches} attaches (${f.batch.inflight} in flight) per mode in rotated order, after ${f.batch.warmup} unmeasured attaches per mode; medians${la('throughput')}`);
    l.push(`attaches/s, all-in-one (hitch serve, all ${f.hosts} hosts in one process): ${f.means['0']!.toFixed(1)} (batches ${per(0)})`);
    for (const a of modes.filter((m) => m !== 0)) {
      l.push(`attaches/s, hitch api + ${a} agent process(es) over ${f.hosts} hosts: ${f.means[String(a)]!.toFixed(1)} (batches ${per(a)}); scale-out / all-in-one ${f.ratios[String(a)]!.toFixed(2)} (median of rounds ${(f.roundRatios[String(a)] ?? []).map((x) => x.toFixed(2)).join(' · ')})`);
    }
    for (const a of modes) {
      const rs = f.runs.filter((r) => r.agents === a);
      const mean = (k: keyof ThroughputRun['cpuPerAttachMs']) => (rs.reduce((s, r) => s + r.cpuPerAttachMs[k], 0) / rs.length).toFixed(1);
      const tx = (rs.reduce((s, r) => s + r.transactionsPerAttach, 0) / rs.length).toFixed(1);
      l.push(`   per attach, ${a === 0 ? 'all-in-one' : `${a} agent process(es)`}: CPU ms ${a === 0 ? 'server' : 'API'} ${mean('front')}, agents ${mean('agents')}, PostgreSQL ${mean('postgres')}, simulator daemon ${mean('simulator')}, bench client ${mean('client')}; ${tx} PostgreSQL transactions`);
    }
    // The machine's CPU an attach costs the cloud (every process but this client), all-in-one over
    // scale-out: what the wall-clock ratio comes to when the cloud has the CPUs to itself, and a
    // figure a shared machine's other jobs move far less than they move attaches/s.
    const cloudCpu = (a: number): number => {
      const rs = f.runs.filter((r) => r.agents === a);
      return rs.reduce((s, r) => s + r.cpuPerAttachMs.front + r.cpuPerAttachMs.agents + r.cpuPerAttachMs.postgres + r.cpuPerAttachMs.simulator, 0) / rs.length;
    };
    for (const a of modes.filter((m) => m !== 0)) {
      l.push(`   cloud CPU per attach (server/API, agents, PostgreSQL, simulator): all-in-one ${cloudCpu(0).toFixed(1)} ms, ${a} agent process(es) ${cloudCpu(a).toFixed(1)} ms: all-in-one / scale-out ${(cloudCpu(0) / cloudCpu(a)).toFixed(2)}`);
    }
    const failures = f.runs.reduce((s, r) => s + r.failures, 0);
    l.push(`failed attaches in all runs: ${failures}`);
  }
  if (f.idle && f.hostDown) {
    l.push(`idle queries/s with ${f.hosts} hosts (${f.idle.agentProcesses} agent processes, ${f.idle.apiProcesses} API process, ${f.idle.seconds} s): ${f.idle.queriesPerSecond.toFixed(2)} (${f.idle.transactions} transactions)${la('idle')}`);
    l.push(
      `host-down detection: ${(f.hostDown.detectedAfterKillMs / 1000).toFixed(2)} s after SIGKILL, ${(f.hostDown.sinceLastHeartbeatMs / 1000).toFixed(2)} s after its last heartbeat (heartbeat every ${f.hostDown.heartbeatMs / 1000} s; a check calls it down at ${f.hostDown.staleMs / 1000} s, within the bound of ${f.hostDown.boundMs / 1000} s = ${(f.hostDown.boundMs / f.hostDown.heartbeatMs).toFixed(0)} intervals: ${f.hostDown.sinceLastHeartbeatMs < f.hostDown.boundMs ? 'within' : 'NOT within'}); the next request: HTTP ${f.hostDown.refusedStatus}`,
    );
  }
  if (f.load && f.tableSizesMb) {
    l.push(`bulk load: ${f.load.postgres.size.volumes} volumes, ${f.load.postgres.size.servers} servers, ${f.load.postgres.size.attachments} attachments, ${f.load.postgres.size.projects} projects into PostgreSQL in ${(f.load.postgres.ms / 1000).toFixed(0)} s${f.load.postgres.kept ? ' (an earlier run, kept)' : ''}; ${f.load.sqlite.size.volumes} volumes into SQLite in ${(f.load.sqlite.ms / 1000).toFixed(1)} s`);
    l.push(`sizes after the load, MB (rows + indexes): ${Object.entries(f.tableSizesMb).map(([t, z]) => `${t} ${z.heap.toFixed(0)} + ${z.indexes.toFixed(0)}`).join(', ')}`);
  }
  for (const r of f.lists) {
    const trips = r.transactionsPerRequest !== undefined ? `; ${r.transactionsPerRequest.toFixed(1)} PostgreSQL transactions a request` : '';
    l.push(`list at ${r.volumes} volumes, ${r.database}: ${r.request}: p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms (${r.n} requests, one at a time, to the last byte)${trips}${la('lists')}`);
  }
  return l.join('\n');
}

// `npx tsx bench/scale-out.ts` runs this figure alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  const f = await scaleOutFigure({ log: (s) => console.log(s) });
  console.log(renderScaleOut(f));
}
