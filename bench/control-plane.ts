/**
 * Figure 3 — control-plane cost: CPU (user + system) per attach and per detach, and operations
 * per second, with a zero-latency simulator so that nothing but Hitch's own work is left — HTTP,
 * identity, the database, the compute flows, brick's command parsing and the trace — on SQLite
 * and PostgreSQL.
 *
 * The headline is the server process's whole CPU (`lib/server-process.ts`): Hitch in a process
 * of its own, the simulator daemon in another (it stands for the kernel, iscsiadm, multipathd and
 * libvirtd, which are not Hitch's CPU on a real host), the HTTP client in this one. The server's
 * side of the socket to the daemon stays in the figure: it stands for the commands it would run
 * and the files it would read on a real host. The old figure — all of it in this process, client
 * and simulator included — is kept beside it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ComputeRepository } from '../src/compute/repository.ts';
import { attach, createServer, createVolume, detach, startBenchCloud, type BenchApi, type BenchCloud } from './lib/cloud.ts';
import type { CpuBreakdown } from './lib/profile.ts';
import { startSplitCloud, type SplitCloud } from './lib/server-process.ts';
import { writeZeroLatencyScenario } from './zero-latency.ts';

export interface ControlPlaneResult {
  readonly database: 'sqlite' | 'postgresql';
  /** Operations per measured batch. */
  readonly operations: number;
  /** Attaches and detaches run before measuring (see WARMUP). */
  readonly warmup: number;
  /** Server CPU per attach of each warm-up round (`operations` attaches, then their detaches), ms: the way to the steady state. */
  readonly warmupCurve: readonly number[];
  /** Server CPU per attach and per detach of each measured batch, ms; the figures below are the median batch's (see BATCHES). */
  readonly batches: ReadonlyArray<{ readonly attachCpuMs: number; readonly detachCpuMs: number }>;
  /**
   * The Hitch server process's whole CPU (user + system) per operation: everything it does,
   * including its side of the socket to the simulator daemon, which stands for the commands it
   * would spawn and the files it would read on a real host. The figure the 5 ms goal is about.
   * Of the median batch (by attach CPU; detach by its own median).
   */
  readonly attachCpuMs: number;
  readonly detachCpuMs: number;
  /**
   * Of that, an estimate of what sending calls to the simulator daemon and taking in its answers
   * cost (timed in the server where it runs synchronously; see server-child.ts). Not subtracted:
   * shown to explain how much of the figure the simulated host's transport is.
   */
  readonly attachTransportCpuMs: number;
  readonly detachTransportCpuMs: number;
  /** The part of attachCpuMs spent in user mode (the rest: the kernel working for the server). */
  readonly attachUserCpuMs: number;
  /** Statements the server sent to its database, per operation (begin/commit included). */
  readonly queriesPerAttach: number;
  readonly queriesPerDetach: number;
  /** Calls the server made to the simulator daemon per operation (commands, file reads, hypervisor calls). */
  readonly dataPlaneCallsPerAttach: number;
  readonly dataPlaneCallsPerDetach: number;
  /** Data-plane calls per attach by kind (`exec iscsiadm`, `host.readFile`, `hv attachDisk`…). */
  readonly dataPlaneCallsPerAttachByKind: Readonly<Record<string, number>>;
  /** The other two processes of the split run, per attach: the simulator daemon and the HTTP client. */
  readonly simulatorCpuMsPerAttach: number;
  readonly clientCpuMsPerAttach: number;
  readonly attachesPerSecond: number;
  readonly detachesPerSecond: number;
  /** The same with 10 attaches (then detaches) in flight, different servers; the server's CPU as above. */
  readonly concurrentAttachCpuMs: number;
  readonly concurrentDetachCpuMs: number;
  readonly concurrentAttachesPerSecond: number;
  readonly concurrentDetachesPerSecond: number;
  readonly failures: number;
  /**
   * Everything in one process (HTTP client + server + simulator, no socket between them), one at
   * a time, `process.cpuUsage()` of that process — the figure this bench reported before the split.
   */
  readonly wholeProcess: {
    readonly attachCpuMs: number;
    readonly detachCpuMs: number;
    readonly attachesPerSecond: number;
    /** Trace persistence during the attach batch: `saveSpans` calls (one statement each) and the spans they wrote, per attach. */
    readonly saveSpansPerAttach: number;
    readonly spanRowsPerAttach: number;
    readonly failures: number;
  };
  /** Where the server's CPU goes during an attach: a profiled extra batch (profiling inflates it; shares only). */
  readonly attachProfile?: CpuBreakdown;
}

const PER_SERVER = 8;

/**
 * Attaches (each then detached) before the measured batches, in rounds of a batch's size on
 * fresh volumes, as the measured batches are. A server runs thousands of them; the figure is its steady state, and V8
 * takes long to get there: it compiles the hot paths on threads of the process (their CPU is
 * in the figure) one function at a time as each gets hot, and a function an attach calls once
 * gets hot only after hundreds of attaches. Measured over 10 000 operations (README §3), the
 * server's CPU per attach came down from ~4.6 ms after 200 attaches to ~3.0 after 1 500 and
 * ~2.8 after 3 000, then stayed; after 500 (the warm-up before) V8 still spent ~12% of the
 * process's CPU compiling. Every round's CPU per attach is in the JSON (`warmupCurve`).
 */
export const WARMUP = 3000;

/**
 * Measured batches of `operations` attaches (then detaches) each, on fresh volumes; the figure is
 * the median batch. The machine's own speed wanders by ±15% over a minute (the simulator
 * daemon's CPU moves with the server's — see README §3), and one batch is a few seconds: the
 * median of three is not thrown by one slow stretch. Every batch is in the JSON.
 */
export const BATCHES = 3;
type Pair = readonly [string, string];

/** Servers and volumes for `n` operations, PER_SERVER volumes a server. */
async function makePairs(c: BenchApi, n: number): Promise<Pair[]> {
  const servers: string[] = [];
  for (let i = 0; i < Math.ceil(n / PER_SERVER); i++) servers.push(await createServer(c, `vm-${i}`));
  const pairs: Pair[] = [];
  for (let i = 0; i < n; i++) pairs.push([servers[Math.floor(i / PER_SERVER)] as string, await createVolume(c, `v-${i}`)]);
  return pairs;
}

/** Round-robin over servers, so operations in flight together mostly hold different instance locks. */
function roundRobin(pairs: readonly Pair[]): Pair[] {
  const bySrv = new Map<string, Pair[]>();
  for (const p of pairs) bySrv.set(p[0], [...(bySrv.get(p[0]) ?? []), p]);
  const rr: Pair[] = [];
  for (let k = 0; rr.length < pairs.length; k++) for (const list of bySrv.values()) if (list[k]) rr.push(list[k] as Pair);
  return rr;
}

interface SplitBatch {
  readonly serverCpuMs: number;
  readonly serverUserMs: number;
  readonly queries: number;
  readonly dataPlaneCalls: number;
  readonly dataPlaneByKind: Record<string, number>;
  readonly transportMs: number;
  readonly simCpuMs: number;
  readonly clientCpuMs: number;
  readonly wallMs: number;
  readonly failures: number;
}

/**
 * Run `op` on every pair against the server process: one at a time (each waits for the server's
 * "finished" message), or `inflight` at once (a pool) and one wait at the end. The server settles
 * before and after, and its CPU and statement count are read there.
 */
async function splitBatch(c: SplitCloud, pairs: readonly Pair[], op: typeof attach, inflight = 1): Promise<SplitBatch> {
  const s0 = await c.stats();
  const f0 = c.finished();
  const sim0 = c.simCpuMs();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let rejected = 0;
  let submitted = 0;
  const one = async (p: Pair): Promise<void> => {
    try {
      await op(c, p[0], p[1]);
      submitted++;
    } catch {
      rejected++;
    }
  };
  if (inflight <= 1) {
    for (const p of pairs) {
      await one(p);
      await c.waitFinished(f0.done + submitted);
    }
  } else {
    const queue = [...pairs];
    const worker = async (): Promise<void> => {
      for (let p = queue.shift(); p; p = queue.shift()) await one(p);
    };
    await Promise.all(Array.from({ length: inflight }, worker));
    await c.waitFinished(f0.done + submitted);
  }
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const s1 = await c.stats();
  return {
    serverCpuMs: s1.cpuMs - s0.cpuMs,
    serverUserMs: s1.userMs - s0.userMs,
    queries: s1.queries - s0.queries,
    dataPlaneCalls: s1.dataPlaneCalls - s0.dataPlaneCalls,
    transportMs: s1.transportMs - s0.transportMs,
    dataPlaneByKind: Object.fromEntries(Object.entries(s1.dataPlaneByKind).map(([k, v]) => [k, v - (s0.dataPlaneByKind[k] ?? 0)]).filter(([, v]) => v !== 0)),
    simCpuMs: c.simCpuMs() - sim0,
    clientCpuMs: (cpu.user + cpu.system) / 1000,
    wallMs,
    failures: rejected + (c.finished().failed - f0.failed),
  };
}

/** The old measurement: everything in this process, `settle()` after each operation. */
async function wholeBatch(c: BenchCloud, pairs: readonly Pair[], op: typeof attach): Promise<{ cpuMs: number; wallMs: number; failures: number }> {
  let failures = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (const [serverId, volumeId] of pairs) {
    try {
      await op(c, serverId, volumeId);
    } catch {
      failures++;
    }
    await c.cloud.settle();
  }
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { cpuMs: (cpu.user + cpu.system) / 1000, wallMs, failures };
}

/** The batch at the median of `key` (of an odd number of batches). */
function median<T>(batches: readonly T[], key: (b: T) => number): T {
  return [...batches].sort((x, y) => key(x) - key(y))[Math.floor(batches.length / 2)] as T;
}

async function measureSplit(scenario: string, database: string, operations: number, warm: number, profiled: number) {
  const c = await startSplitCloud({ scenario, database });
  try {
    const pairs = await makePairs(c, (BATCHES + 1) * operations + warm + profiled);
    await c.stats();
    // Warm the JIT, the statement caches and the connection pool before measuring (see WARMUP):
    // rounds of a batch's size on fresh volumes, as the measured batches are.
    const warmupCurve: number[] = [];
    for (let done = 0; done < warm; done += operations) {
      const round = pairs.slice(done, Math.min(done + operations, warm));
      warmupCurve.push((await splitBatch(c, round, attach)).serverCpuMs / round.length);
      await splitBatch(c, round, detach);
    }
    const batches: Array<{ a: SplitBatch; d: SplitBatch }> = [];
    for (let k = 0; k < BATCHES; k++) {
      const measured = pairs.slice(warm + k * operations, warm + (k + 1) * operations);
      const a = await splitBatch(c, measured, attach);
      const d = await splitBatch(c, measured, detach);
      batches.push({ a, d });
    }
    const from = warm + BATCHES * operations;
    const rr = roundRobin(pairs.slice(from, from + operations));
    const ca = await splitBatch(c, rr, attach, 10);
    const cd = await splitBatch(c, rr, detach, 10);
    const rest = pairs.slice(from + operations);
    const profile = profiled ? await c.profile(async () => void (await splitBatch(c, rest, attach))) : undefined;
    const a = median(batches, (b) => b.a.serverCpuMs).a;
    const d = median(batches, (b) => b.d.serverCpuMs).d;
    const failures = batches.reduce((n, b) => n + b.a.failures + b.d.failures, 0);
    return { a, d, ca, cd, profile, failures, warmupCurve, batches: batches.map((b) => ({ attachCpuMs: b.a.serverCpuMs / operations, detachCpuMs: b.d.serverCpuMs / operations })) };
  } finally {
    await c.close();
  }
}

async function measureWhole(scenario: string, database: string, operations: number, warm: number) {
  const c = await startBenchCloud({ scenario, database });
  try {
    const pairs = await makePairs(c, operations + warm);
    await c.cloud.settle();
    for (let done = 0; done < warm; done += operations) {
      const round = pairs.slice(done, Math.min(done + operations, warm));
      await wholeBatch(c, round, attach);
      await wholeBatch(c, round, detach);
    }
    const measured = pairs.slice(warm);
    // Count (not change) the trace saves.
    const proto = ComputeRepository.prototype;
    const original = proto.saveSpans;
    let saves = 0;
    let rows = 0;
    proto.saveSpans = function (this: ComputeRepository, id, spans) {
      saves++;
      rows += spans.length;
      return original.call(this, id, spans);
    };
    let a: Awaited<ReturnType<typeof wholeBatch>>;
    try {
      a = await wholeBatch(c, measured, attach);
    } finally {
      proto.saveSpans = original;
    }
    const d = await wholeBatch(c, measured, detach);
    return { a, d, saves, rows };
  } finally {
    await c.close();
  }
}

/**
 * `database`: 'sqlite', or a function that creates an empty PostgreSQL database and returns
 * its URL (the split and the whole-process runs each get one).
 */
export async function measureControlPlane(database: 'sqlite' | (() => Promise<string>), operations: number, opts: { profile?: boolean; warmup?: number } = {}): Promise<ControlPlaneResult> {
  const warm = opts.warmup ?? WARMUP;
  const dir = mkdtempSync(join(tmpdir(), 'hitch-bench-zero-'));
  try {
    const scenario = writeZeroLatencyScenario(dir);
    const db = async (): Promise<string> => (database === 'sqlite' ? 'sqlite' : database());
    const { a, d, ca, cd, profile, failures, batches, warmupCurve } = await measureSplit(scenario, await db(), operations, warm, opts.profile ? 20 : 0);
    const whole = await measureWhole(scenario, await db(), operations, warm);
    return {
      database: database === 'sqlite' ? 'sqlite' : 'postgresql',
      operations,
      warmup: warm,
      warmupCurve,
      batches,
      attachCpuMs: a.serverCpuMs / operations,
      detachCpuMs: d.serverCpuMs / operations,
      attachTransportCpuMs: a.transportMs / operations,
      detachTransportCpuMs: d.transportMs / operations,
      attachUserCpuMs: a.serverUserMs / operations,
      dataPlaneCallsPerAttach: a.dataPlaneCalls / operations,
      dataPlaneCallsPerDetach: d.dataPlaneCalls / operations,
      dataPlaneCallsPerAttachByKind: Object.fromEntries(Object.entries(a.dataPlaneByKind).map(([k, v]) => [k, v / operations])),
      queriesPerAttach: a.queries / operations,
      queriesPerDetach: d.queries / operations,
      simulatorCpuMsPerAttach: a.simCpuMs / operations,
      clientCpuMsPerAttach: a.clientCpuMs / operations,
      attachesPerSecond: (operations * 1000) / a.wallMs,
      detachesPerSecond: (operations * 1000) / d.wallMs,
      concurrentAttachCpuMs: ca.serverCpuMs / operations,
      concurrentDetachCpuMs: cd.serverCpuMs / operations,
      concurrentAttachesPerSecond: (operations * 1000) / ca.wallMs,
      concurrentDetachesPerSecond: (operations * 1000) / cd.wallMs,
      failures: failures + ca.failures + cd.failures,
      wholeProcess: {
        attachCpuMs: whole.a.cpuMs / operations,
        detachCpuMs: whole.d.cpuMs / operations,
        attachesPerSecond: (operations * 1000) / whole.a.wallMs,
        saveSpansPerAttach: whole.saves / operations,
        spanRowsPerAttach: whole.rows / operations,
        failures: whole.a.failures + whole.d.failures,
      },
      ...(profile ? { attachProfile: profile } : {}),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
