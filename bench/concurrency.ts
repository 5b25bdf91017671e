/**
 * Figure 2 — host concurrency: N connects at once on one simulated host, each to its own
 * target behind its own portal, one of those portals dead. Virtual time per connect (p50/p99
 * of the healthy ones), the whole batch, and the dead one; Hitch and os-brick 6.1.
 */
import { Brick, parseConnectionInfo } from '../src/brick/index.ts';
import { createSimHost } from '../src/sim/sim-host.ts';
import type { Scenario } from '../src/sim/scenario.ts';
import { Trace } from '../src/trace/span.ts';
import { percentile } from './lib/stats.ts';
import { runOsBrick } from './peers/os-brick-peer.ts';

const INITIATOR = 'iqn.1993-08.org.debian:01:compute1';

export function iqnOf(i: number): string {
  return `iqn.2010-10.org.openstack:volume-${String(i).padStart(4, '0')}`;
}

export function portalOf(i: number): string {
  return `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}:3260`;
}

/** Which of the N targets sits behind the dead portal (none when N = 1). */
export function deadIndex(n: number): number | null {
  return n > 1 ? Math.floor(n / 2) : null;
}

/** N targets on one array, one portal each, one LUN each, all exported to compute-1. */
export function manyTargetsScenario(n: number): Scenario {
  const dead = deadIndex(n);
  const portals: Record<string, { state: 'healthy' | 'dead' }> = {};
  const targets = [];
  for (let i = 0; i < n; i++) {
    portals[portalOf(i)] = { state: i === dead ? 'dead' : 'healthy' };
    targets.push({
      iqn: iqnOf(i),
      tpgt: 1,
      portals: [portalOf(i)],
      luns: [{ lun: 1, wwn: `360014050${String(i).padStart(24, '0')}`, sizeBytes: 1073741824 }],
      acl: [{ initiator: INITIATOR }],
    });
  }
  return {
    name: `many-targets-${n}`,
    description: `${n} targets, one portal each${dead === null ? '' : `; the portal of target ${dead} is dead`}`,
    seed: 1,
    portals,
    arrays: [{ name: 'array1', portals: Object.keys(portals), targets }],
    hosts: [{ name: 'compute-1', initiator: INITIATOR, ip: '192.0.2.100', multipathd: true, findMultipaths: 'no' }],
  };
}

function connectionData(i: number): Record<string, unknown> {
  return {
    target_discovered: false,
    target_portal: portalOf(i),
    target_iqn: iqnOf(i),
    target_lun: 1,
    target_portals: [portalOf(i)],
    target_iqns: [iqnOf(i)],
    target_luns: [1],
    volume_id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    access_mode: 'rw',
  };
}

export interface ConcurrencyResult {
  readonly n: number;
  readonly deadIndex: number | null;
  /** Until the last connect (healthy or failed) returned. */
  readonly totalMs: number;
  /** Latency of the healthy connects. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxHealthyMs: number;
  readonly deadMs: number | null;
  readonly failed: number;
  /** Longest wait for os-brick's host-wide `connect_volume` lock (os-brick only). */
  readonly maxLockWaitMs?: number;
  readonly wallMs: number;
}

function summarize(n: number, outcomes: readonly { ok: boolean; ms: number; end: number }[], wallMs: number, extra: Partial<ConcurrencyResult> = {}): ConcurrencyResult {
  const dead = deadIndex(n);
  const healthy = outcomes.filter((_, i) => i !== dead);
  const lat = healthy.filter((o) => o.ok).map((o) => o.ms);
  return {
    n,
    deadIndex: dead,
    totalMs: Math.max(...outcomes.map((o) => o.end)),
    p50Ms: percentile(lat, 50),
    p99Ms: percentile(lat, 99),
    maxHealthyMs: Math.max(...lat),
    deadMs: dead === null ? null : (outcomes[dead]?.ms ?? null),
    failed: outcomes.filter((o) => !o.ok).length,
    wallMs,
    ...extra,
  };
}

export async function hitchConcurrency(n: number): Promise<ConcurrencyResult> {
  const wall = performance.now();
  const host = createSimHost(manyTargetsScenario(n));
  const brick = new Brick({ host, ip: '192.0.2.100', multipath: true });
  const trace = new Trace(host.clock);
  await brick.connectorProperties(trace.root());
  const t0 = host.clock.now();
  const outcomes = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      brick.connect(parseConnectionInfo({ driver_volume_type: 'iscsi', data: connectionData(i) }), trace.root(), { instance: `bench-${i}` }).then(
        () => ({ ok: true, ms: host.clock.now() - t0, end: host.clock.now() - t0 }),
        () => ({ ok: false, ms: host.clock.now() - t0, end: host.clock.now() - t0 }),
      ),
    ),
  );
  await brick.settled();
  return summarize(n, outcomes, performance.now() - wall);
}

export async function osBrickConcurrency(n: number): Promise<ConcurrencyResult> {
  const wall = performance.now();
  const host = createSimHost(manyTargetsScenario(n));
  const r = await runOsBrick(host, {
    multipath: true,
    ip: '192.0.2.100',
    host: 'compute-1',
    volumes: Array.from({ length: n }, (_, i) => connectionData(i)),
  }, { wallTimeoutMs: 1_800_000 });
  const t0 = Math.min(...r.connects.map((c) => c.startMs));
  const outcomes = r.connects.map((c) => ({ ok: c.ok, ms: c.endMs - t0, end: c.endMs - t0 }));
  const waits = r.lockWaits.filter((w) => w.lock === 'connect_volume').map((w) => w.waitedMs);
  return summarize(n, outcomes, performance.now() - wall, { maxLockWaitMs: Math.max(0, ...waits) });
}
