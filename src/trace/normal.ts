/**
 * A step's recent normal: p50 and p95 of its duration over the last finished operations of the
 * same kind on the same backend, from the operation history (their traces). `hitch explain`
 * sets an operation's steps beside them, so "7.0 s" reads as "as always" or "3× its p95".
 *
 * The backend is what the trace names: the block storage backend's host (`backend_host`, on the
 * backend's own span when the service ran in process), else the connection's protocol
 * (`driver_volume_type` of initialize-connection). Operations that name none are compared with
 * others that name none.
 */
import type { SpanRecord } from './span.ts';

type S = Readonly<SpanRecord>;

/** `attaches`, `detaches`, `extends`. */
const plural = (kind: string): string => (/(ch|sh|s|x)$/.test(kind) ? `${kind}es` : `${kind}s`);

export interface StepNormal {
  readonly step: string;
  /** How many earlier operations had this step, ended ok. */
  readonly n: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
}

export interface RecentNormal {
  readonly kind: string;
  /** The backend compared on (see the top of this file), or null. */
  readonly backend: string | null;
  /** How many earlier operations the figures come from. */
  readonly sample: number;
  readonly steps: readonly StepNormal[];
}

/** The backend an operation's trace names (see the top of this file). */
export function backendOf(spans: readonly S[]): string | null {
  const b = spans.find((s) => typeof s.attrs['backend_host'] === 'string');
  if (b) return String(b.attrs['backend_host']);
  const t = spans.find((s) => typeof s.attrs['driver_volume_type'] === 'string');
  return t ? String(t.attrs['driver_volume_type']) : null;
}

/** The p-th percentile (0–100) by nearest rank of a non-empty list. */
export function nearestRank(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

/** Durations of an operation's top-level steps that ended ok (a step run twice counts once, summed). */
export function stepDurations(spans: readonly S[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of spans) {
    if (s.parentId !== null || s.endMs === null || s.outcome !== 'ok') continue;
    out.set(s.name, (out.get(s.name) ?? 0) + (s.endMs - s.startMs));
  }
  return out;
}

/** The recent normal of `traces` (earlier finished operations of one kind and backend). */
export function recentNormal(kind: string, backend: string | null, traces: readonly (readonly S[])[]): RecentNormal {
  const by = new Map<string, number[]>();
  const order: string[] = [];
  for (const t of traces) {
    for (const [step, ms] of stepDurations(t)) {
      if (!by.has(step)) {
        by.set(step, []);
        order.push(step);
      }
      by.get(step)?.push(ms);
    }
  }
  const steps = order.map((step) => {
    const xs = by.get(step) ?? [];
    return { step, n: xs.length, p50Ms: nearestRank(xs, 50), p95Ms: nearestRank(xs, 95) };
  });
  return { kind, backend, sample: traces.length, steps };
}

/** Fewer earlier operations than this and a step is not called slow or fast against them. */
export const MIN_SAMPLE = 5;

/**
 * One line per step of this operation that ran past its recent p95 (with enough history to
 * say so, and by more than a few ms: virtual-clock steps of 0 ms do not count as 1× slower).
 */
export function againstNormal(spans: readonly S[], normal: RecentNormal, fmt: (ms: number) => string): string[] {
  const mine = stepDurations(spans);
  const out: string[] = [];
  for (const n of normal.steps) {
    const ms = mine.get(n.step);
    if (ms === undefined || n.n < MIN_SAMPLE || ms <= n.p95Ms || ms - n.p95Ms < 50) continue;
    out.push(`${n.step} took ${fmt(ms)}, above its recent p95 of ${fmt(n.p95Ms)} (p50 ${fmt(n.p50Ms)}; the last ${n.n} ${plural(normal.kind)}${normal.backend ? ` on ${normal.backend}` : ''})`);
  }
  return out;
}

/** The table `hitch explain` prints: each step of this operation beside its recent p50 and p95. */
export function renderNormal(spans: readonly S[], normal: RecentNormal, fmt: (ms: number) => string): string {
  const head = `recent normal: the last ${normal.sample} done ${plural(normal.kind)}${normal.backend ? ` on ${normal.backend}` : ''} (p50, p95 from the operation history)`;
  if (normal.sample === 0) return `recent normal: no earlier done ${normal.kind} on ${normal.backend ?? 'this backend'} to compare with`;
  const mine = stepDurations(spans);
  const rows = normal.steps.map((n) => {
    const ms = mine.get(n.step);
    const flag = ms !== undefined && n.n >= MIN_SAMPLE && ms > n.p95Ms && ms - n.p95Ms >= 50 ? 'above p95' : '';
    return [n.step, ms === undefined ? '-' : fmt(ms), fmt(n.p50Ms), fmt(n.p95Ms), String(n.n), flag];
  });
  const header = ['step', 'this', 'p50', 'p95', 'n', ''];
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => `  ${cells.map((c, i) => (i === 0 || i === 5 ? c.padEnd(w[i] ?? 0) : c.padStart(w[i] ?? 0))).join('  ')}`.trimEnd();
  return [head, line(header), ...rows.map(line)].join('\n');
}
