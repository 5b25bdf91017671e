/**
 * `explain`: turn an operation's spans into what the seed's author worked out by hand from
 * Nova's logs — a waterfall of steps and sub-steps, the critical path (the chain of spans that
 * decided when the operation ended), and a diagnosis in words of what dominated.
 *
 * Pure: spans in, a report out. The CLI prints `renderExplain`, the dashboard draws the same
 * report as SVG, `--json` prints the report itself.
 */
import type { SpanRecord } from './span.ts';

export interface ExplainRow {
  readonly id: number;
  readonly depth: number;
  readonly name: string;
  readonly label: string;
  readonly startMs: number;
  readonly durationMs: number | null;
  readonly outcome: string;
  readonly critical: boolean;
  readonly error: string | null;
}

export interface ExplainReport {
  readonly totalMs: number;
  readonly rows: readonly ExplainRow[];
  readonly criticalPath: readonly string[];
  readonly diagnosis: readonly string[];
}

type S = Readonly<SpanRecord>;

const secs = (ms: number): string => (ms >= 10_000 ? `${(ms / 1000).toFixed(0)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);

function label(s: S): string {
  const a = s.attrs;
  const bits: string[] = [];
  for (const k of ['portal', 'command', 'path', 'device', 'method', 'url']) {
    const v = a[k];
    if (typeof v === 'string' && v.length > 0) {
      bits.push(v.length > 90 ? `${v.slice(0, 87)}...` : v);
      break;
    }
  }
  return bits.length ? `${s.name} ${bits.join(' ')}` : s.name;
}

/** The spans whose end decided the operation's end: at each level, the child that ended last. */
function criticalIds(spans: readonly S[]): Set<number> {
  const byParent = new Map<number | null, S[]>();
  for (const s of spans) {
    const list = byParent.get(s.parentId) ?? [];
    list.push(s);
    byParent.set(s.parentId, list);
  }
  const ids = new Set<number>();
  const walk = (parent: number | null, until: number): void => {
    // Children that ended by the parent's end: a background child that ran on does not decide it.
    const kids = (byParent.get(parent) ?? []).filter((k) => k.endMs !== null && k.endMs <= until);
    if (kids.length === 0) return;
    if (parent === null) {
      // Top level: the steps run one after another, all are on the path.
      for (const k of kids) {
        ids.add(k.id);
        walk(k.id, k.endMs as number);
      }
      return;
    }
    const last = kids.reduce((a, b) => ((b.endMs as number) > (a.endMs as number) ? b : a));
    ids.add(last.id);
    walk(last.id, last.endMs as number);
  };
  const end = Math.max(...spans.map((s) => s.endMs ?? s.startMs));
  walk(null, end);
  return ids;
}

function depthOf(s: S, byId: Map<number, S>): number {
  let d = 0;
  let p = s.parentId;
  while (p !== null) {
    d++;
    p = byId.get(p)?.parentId ?? null;
  }
  return d;
}

/** Find the first span matching `pred`, in start order. */
const find = (spans: readonly S[], pred: (s: S) => boolean): S | undefined => spans.find(pred);

function diagnose(spans: readonly S[], t0: number, totalMs: number): string[] {
  const out: string[] = [];
  const connect = find(spans, (s) => s.name === 'connect-volume');
  const paths = spans.filter((s) => s.name === 'connect_path');
  const okPath = paths.find((p) => p.outcome === 'ok');
  for (const p of paths.filter((x) => x.outcome === 'error')) {
    const dur = (p.endMs ?? p.startMs) - p.startMs;
    const code = p.error?.code ?? '';
    const exit = /exit(?: code)? (\d+)/.exec(p.error?.message ?? '')?.[1];
    const what = code === 'HITCH_ISCSI_LOGIN_TIMEOUT' || exit === '8' ? `timed out after ${secs(dur)} (iscsiadm exit 8)` : `failed after ${secs(dur)}${exit ? ` (iscsiadm exit ${exit})` : ''}: ${p.error?.message ?? code}`;
    let line = `login to ${String(p.attrs['portal'])} ${what}`;
    if (connect?.endMs != null && connect.outcome === 'ok' && okPath) {
      line += `; the volume was usable at ${secs(connect.endMs - t0)} through ${String(okPath.attrs['portal'])}`;
      if ((p.endMs ?? 0) > connect.endMs) line += ' — the dead portal was left to fail in the background and did not hold the attach';
    }
    out.push(line);
  }
  const mp = find(spans, (s) => s.name === 'wait multipath' && (s.attrs['found'] === false || s.outcome === 'error'));
  if (mp) {
    const wwn = String(mp.attrs['path'] ?? '').replace(/^.*dm-uuid-mpath-/, '');
    const dev = connect ? String(connect.attrs['path'] ?? '') : '';
    out.push(`multipathd did not create a map for WWN ${wwn}${dev ? `; fell back to single path ${dev}` : ''}`);
  }
  for (const s of spans) {
    if (/^(cinder|storage|REST)/.test(s.name) || typeof s.attrs['method'] === 'string') {
      const d = (s.endMs ?? s.startMs) - s.startMs;
      if (totalMs > 0 && d > 0.5 * totalMs && d >= 1000) out.push(`the storage API call ${label(s)} took ${secs(d)} of ${secs(totalMs)}`);
    }
  }
  const plug = find(spans, (s) => s.name === 'hotplug' && s.outcome === 'error');
  if (plug) out.push(`the hypervisor refused the disk: ${plug.error?.message ?? 'unknown error'}`);
  const failed = spans.filter((s) => s.parentId === null && s.outcome === 'error');
  const firstFail = failed[0];
  if (firstFail && !plug) out.push(`step ${firstFail.name} failed: ${firstFail.error?.message ?? firstFail.error?.code ?? 'error'}`);
  if (out.length === 0) {
    const steps = spans.filter((s) => s.parentId === null && s.endMs !== null);
    const top = steps.reduce<S | undefined>((a, b) => (!a || (b.endMs as number) - b.startMs > (a.endMs as number) - a.startMs ? b : a), undefined);
    if (top && totalMs > 0) {
      const d = (top.endMs as number) - top.startMs;
      out.push(`no fault seen; ${top.name} took the most time: ${secs(d)} of ${secs(totalMs)} (${Math.round((100 * d) / totalMs)}%)`);
    }
  }
  return out;
}

export function explain(spans: readonly Readonly<SpanRecord>[]): ExplainReport {
  if (spans.length === 0) return { totalMs: 0, rows: [], criticalPath: [], diagnosis: ['no spans recorded'] };
  const t0 = Math.min(...spans.map((s) => s.startMs));
  const end = Math.max(...spans.map((s) => s.endMs ?? s.startMs));
  const byId = new Map(spans.map((s) => [s.id, s]));
  const crit = criticalIds(spans);
  // Order rows as a tree: each span followed by its children, by start time.
  const kids = new Map<number | null, S[]>();
  for (const s of spans) kids.set(s.parentId, [...(kids.get(s.parentId) ?? []), s]);
  const rows: ExplainRow[] = [];
  const visit = (parent: number | null): void => {
    for (const s of (kids.get(parent) ?? []).sort((a, b) => a.startMs - b.startMs || a.id - b.id)) {
      rows.push({
        id: s.id,
        depth: depthOf(s, byId),
        name: s.name,
        label: label(s),
        startMs: s.startMs - t0,
        durationMs: s.endMs === null ? null : s.endMs - s.startMs,
        outcome: s.outcome,
        critical: crit.has(s.id),
        error: s.error ? `${s.error.code}: ${s.error.message}` : null,
      });
      visit(s.id);
    }
  };
  visit(null);
  return {
    totalMs: end - t0,
    rows,
    criticalPath: rows.filter((r) => r.critical && r.depth > 0).map((r) => r.label),
    diagnosis: diagnose(spans, t0, end - t0),
  };
}

/** The report as text: a Gantt waterfall, the critical path, the diagnosis. */
export function renderExplain(r: ExplainReport, opts: { width?: number; maxDepth?: number } = {}): string {
  const width = opts.width ?? 40;
  const maxDepth = opts.maxDepth ?? 3;
  const scale = r.totalMs > 0 ? width / r.totalMs : 0;
  const lines: string[] = [`total ${secs(r.totalMs)}`, ''];
  const labelWidth = 58;
  for (const row of r.rows.filter((x) => x.depth <= maxDepth)) {
    const name = `${'  '.repeat(row.depth)}${row.label}`;
    const cut = name.length > labelWidth ? `${name.slice(0, labelWidth - 3)}...` : name.padEnd(labelWidth);
    const from = Math.min(width - 1, Math.floor(row.startMs * scale));
    const len = row.durationMs === null ? width - from : Math.max(1, Math.round(row.durationMs * scale));
    const mark = row.outcome === 'error' ? 'x' : row.critical ? '#' : '=';
    const bar = ' '.repeat(from) + mark.repeat(Math.min(len, width - from));
    const dur = row.durationMs === null ? 'running' : secs(row.durationMs);
    lines.push(`${cut} |${bar.padEnd(width)}| +${secs(row.startMs).padStart(7)} ${dur.padStart(8)}${row.outcome === 'error' ? '  FAILED' : ''}`);
  }
  lines.push('', 'critical path:');
  for (const c of r.criticalPath) lines.push(`  ${c}`);
  lines.push('', 'diagnosis:');
  for (const d of r.diagnosis) lines.push(`  - ${d}`);
  return lines.join('\n');
}
