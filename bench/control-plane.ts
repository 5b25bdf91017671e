/**
 * Figure 3 — control-plane cost: CPU (user + system, `process.cpuUsage`) per attach and per
 * detach, and operations per second, with a zero-latency simulator so that nothing but Hitch's
 * own work is left: HTTP (a real loopback client, in this process), identity, the database,
 * the compute flows, brick's command parsing and the trace — on SQLite and PostgreSQL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ComputeRepository } from '../src/compute/repository.ts';
import { attach, createServer, createVolume, detach, startBenchCloud, type BenchCloud } from './lib/cloud.ts';
import { profileCpu, type CpuBreakdown } from './lib/profile.ts';
import { writeZeroLatencyScenario } from './zero-latency.ts';

export interface ControlPlaneResult {
  readonly database: 'sqlite' | 'postgresql';
  readonly operations: number;
  readonly attachCpuMs: number;
  readonly detachCpuMs: number;
  readonly attachesPerSecond: number;
  readonly detachesPerSecond: number;
  /** The same with 10 attaches (then detaches) in flight, different servers. */
  readonly concurrentAttachCpuMs: number;
  readonly concurrentAttachesPerSecond: number;
  readonly concurrentDetachesPerSecond: number;
  readonly failures: number;
  /** Trace persistence during the attach batch: `saveSpans` calls and span rows written, per attach. */
  readonly saveSpansPerAttach: number;
  readonly spanRowsPerAttach: number;
  /** Where an attach's CPU goes: a profiled extra batch (profiling inflates it; shares only). */
  readonly attachProfile?: CpuBreakdown;
}

const PER_SERVER = 8;

/**
 * Run `op` on every pair: one at a time (each waits until its operation is done), or with
 * `inflight` requests in flight (a pool; pairs round-robin over servers) and one wait at the end.
 */
async function batch(c: BenchCloud, pairs: readonly (readonly [string, string])[], op: typeof attach, inflight = 1): Promise<{ cpuMs: number; wallMs: number; failures: number }> {
  let failures = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  if (inflight <= 1) {
    for (const [serverId, volumeId] of pairs) {
      try {
        await op(c, serverId, volumeId);
      } catch {
        failures++;
      }
      await c.cloud.settle();
    }
  } else {
    const queue = [...pairs];
    const worker = async (): Promise<void> => {
      for (let p = queue.shift(); p; p = queue.shift()) {
        try {
          await op(c, p[0], p[1]);
        } catch {
          failures++;
        }
      }
    };
    await Promise.all(Array.from({ length: inflight }, worker));
    await c.cloud.settle();
  }
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { cpuMs: (cpu.user + cpu.system) / 1000, wallMs, failures };
}

/** `database`: 'sqlite' or a postgres:// URL of an empty database. */
export async function measureControlPlane(database: string, operations: number, opts: { profile?: boolean } = {}): Promise<ControlPlaneResult> {
  const dir = mkdtempSync(join(tmpdir(), 'hitch-bench-zero-'));
  const c = await startBenchCloud({ scenario: writeZeroLatencyScenario(dir), database });
  try {
    const warm = 8;
    const profiled = opts.profile ? 20 : 0;
    const inflight = 10;
    const servers: string[] = [];
    for (let i = 0; i < Math.ceil((2 * operations + warm + profiled) / PER_SERVER); i++) servers.push(await createServer(c, `vm-${i}`));
    const pairs: Array<readonly [string, string]> = [];
    for (let i = 0; i < 2 * operations + warm + profiled; i++) pairs.push([servers[Math.floor(i / PER_SERVER)] as string, await createVolume(c, `v-${i}`)]);
    await c.cloud.settle();
    // Warm the JIT, the statement caches and the connection pool before measuring.
    await batch(c, pairs.slice(0, warm), attach);
    await batch(c, pairs.slice(0, warm), detach);
    const measured = pairs.slice(warm, warm + operations);
    // Count (not change) the trace saves: each rewrites the operation's whole span list.
    const proto = ComputeRepository.prototype;
    const original = proto.saveSpans;
    let saves = 0;
    let rows = 0;
    proto.saveSpans = function (this: ComputeRepository, id, spans) {
      saves++;
      rows += spans.length;
      return original.call(this, id, spans);
    };
    let a: Awaited<ReturnType<typeof batch>>;
    try {
      a = await batch(c, measured, attach);
    } finally {
      proto.saveSpans = original;
    }
    const d = await batch(c, measured, detach);
    // Concurrent: round-robin over servers so the 10 in flight mostly hold different instance locks.
    const second = pairs.slice(warm + operations, warm + 2 * operations);
    const bySrv = new Map<string, Array<readonly [string, string]>>();
    for (const p of second) bySrv.set(p[0], [...(bySrv.get(p[0]) ?? []), p]);
    const rr: Array<readonly [string, string]> = [];
    for (let k = 0; rr.length < second.length; k++) for (const list of bySrv.values()) if (list[k]) rr.push(list[k] as readonly [string, string]);
    const ca = await batch(c, rr, attach, inflight);
    const cd = await batch(c, rr, detach, inflight);
    const rest = pairs.slice(warm + 2 * operations);
    const attachProfile = profiled ? await profileCpu(async () => void (await batch(c, rest, attach))) : undefined;
    return {
      database: database === 'sqlite' ? 'sqlite' : 'postgresql',
      operations,
      attachCpuMs: a.cpuMs / operations,
      detachCpuMs: d.cpuMs / operations,
      attachesPerSecond: (operations * 1000) / a.wallMs,
      detachesPerSecond: (operations * 1000) / d.wallMs,
      failures: a.failures + d.failures + ca.failures + cd.failures,
      concurrentAttachCpuMs: ca.cpuMs / operations,
      concurrentAttachesPerSecond: (operations * 1000) / ca.wallMs,
      concurrentDetachesPerSecond: (operations * 1000) / cd.wallMs,
      saveSpansPerAttach: saves / operations,
      spanRowsPerAttach: rows / operations,
      ...(attachProfile ? { attachProfile } : {}),
    };
  } finally {
    await c.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
