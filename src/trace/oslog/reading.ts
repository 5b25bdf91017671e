/**
 * From records to the reports: operations, their traces, `explain()` and the log's own
 * diagnosis. No Node-only module here: the dashboard bundles this file (`readLogText`).
 */
import { HitchError } from '../../errors.ts';
import { explain, type ExplainReport } from '../explain.ts';
import { assemble, type Operation, type OperationKind } from './assemble.ts';
import { diagnoseLog } from './diagnose.ts';
import { maskLogText as maskLine } from './mask.ts';
import { RecordAssembler, timeOf, type InputLine, type LogRecord } from './record.ts';
import { buildTrace, type OperationOutcome } from './spans.ts';

export interface LogOperationSummary {
  readonly id: number;
  readonly kind: OperationKind;
  readonly outcome: OperationOutcome;
  /** Nova's view of the operation, or os-brick's alone. */
  readonly via: 'nova' | 'os-brick';
  readonly volume: string | null;
  readonly server: string | null;
  readonly mountpoint: string | null;
  /** The request id the operation was logged under (the first line's). */
  readonly requestId: string | null;
  /** Every request id its lines carry (Nova's, cinder-api's, the global one). */
  readonly requestIds: readonly string[];
  /** Its first line's time, as written. */
  readonly start: string;
  readonly startMs: number;
  /** Where its last step ended, written like the log's times (`start` + `durationMs`). */
  readonly end: string;
  readonly endMs: number;
  /** The report's total: first line to the end of the last step. */
  readonly durationMs: number;
  readonly error: string | null;
  readonly sources: readonly string[];
  readonly lines: number;
}

export interface LogOperation {
  readonly summary: LogOperationSummary;
  readonly report: ExplainReport;
}

export interface LogReading {
  readonly operations: readonly LogOperation[];
  readonly lines: { readonly total: number; readonly placed: number; readonly unplaced: number; readonly other: number };
  readonly unplaced: readonly { readonly source: string; readonly lineNo: number; readonly text: string }[];
  readonly sources: readonly string[];
}

/** The same from lines already in memory (the dashboard, tests). */
export function readLogText(text: string, source = 'pasted'): LogReading {
  const records: LogRecord[] = [];
  const orphans: InputLine[] = [];
  const asm = new RecordAssembler((r) => records.push(r), (l) => orphans.push(l));
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((t, i) => asm.push({ source, lineNo: i + 1, text: maskLine(t) }));
  asm.flush();
  return fromRecords(records.sort((a, b) => a.ts - b.ts || a.seq - b.seq), orphans, [source]);
}

export function fromRecords(records: LogRecord[], orphans: InputLine[], sources: readonly string[]): LogReading {
  const asm = assemble(records, orphans);
  const built = asm.operations.map((op) => ({ op, trace: buildTrace(op) }));
  const all = built.map((x) => ({ op: x.op, spans: x.trace.spans }));
  const operations = built.map(({ op, trace }) => {
    const base = explain(trace.spans, trace.lastMs);
    const extra = diagnoseLog(op, trace.spans, base.totalMs, all);
    // The storage share is said once, in the log's words.
    const diagnosis = [...base.diagnosis.filter((d) => !(extra.some((x) => x.startsWith('initialize_connection')) && /^the storage API call .*(initialize_connection|attachments\/\{id\}) /.test(d))), ...extra];
    const report: ExplainReport = { ...base, diagnosis };
    return { summary: summarize(op, trace.outcome, trace.error, report), report };
  });
  return { operations, lines: asm.lines, unplaced: asm.unplaced, sources };
}

function summarize(op: Operation, outcome: OperationOutcome, error: string | null, report: ExplainReport): LogOperationSummary {
  const first = op.recs[0] ?? op.seed;
  const ids = new Set<string>();
  for (const r of op.recs) {
    if (r.requestId) ids.add(r.requestId);
    if (r.globalRequestId) ids.add(r.globalRequestId);
  }
  return {
    id: op.id,
    kind: op.kind,
    outcome,
    via: op.via,
    volume: op.volume,
    server: op.server,
    mountpoint: op.mountpoint,
    requestId: op.seed.requestId ?? first.requestId,
    requestIds: [...ids],
    start: timeOf(first),
    startMs: first.ts,
    end: logTime(first.ts + report.totalMs),
    endMs: first.ts + report.totalMs,
    durationMs: report.totalMs,
    error,
    sources: [...op.sources],
    lines: op.recs.reduce((a, r) => a + r.lineCount, 0),
  };
}

/** A time on the log's own clock (ms, no zone), written as oslo.log writes it. */
export function logTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/Z$/, '');
}

/**
 * The total to the millisecond, with both ends on the log's clock, so that a reader can check it
 * against the lines: `163214 ms: 2026-12-05 09:44:50.223 to 09:47:33.437` (the end's date only
 * when it is not the start's day).
 */
export function exactTotal(s: Pick<LogOperationSummary, 'durationMs' | 'start' | 'startMs' | 'end'>): string {
  const sameDay = logTime(s.startMs).slice(0, 10) === s.end.slice(0, 10);
  return `${s.durationMs} ms: ${s.start} to ${sameDay ? s.end.slice(11) : s.end}`;
}

export interface LogFilter {
  readonly volume?: string;
  readonly server?: string;
  readonly requestId?: string;
  /** On the log's own clock (ms, no zone), like `LogOperationSummary.startMs`. */
  readonly sinceMs?: number;
  readonly untilMs?: number;
}

/** Operations that match every filter given (ids by prefix), slowest first. */
export function selectOperations(r: LogReading, f: LogFilter = {}): LogOperation[] {
  const pre = (v: string | null, want: string | undefined): boolean => want === undefined || (v !== null && v.toLowerCase().startsWith(want.toLowerCase()));
  return r.operations
    .filter((o) => pre(o.summary.volume, f.volume) && pre(o.summary.server, f.server))
    .filter((o) => f.requestId === undefined || o.summary.requestIds.some((id) => id === f.requestId || id === `req-${f.requestId}`))
    .filter((o) => (f.sinceMs === undefined || o.summary.endMs >= f.sinceMs) && (f.untilMs === undefined || o.summary.startMs <= f.untilMs))
    .sort((a, b) => b.summary.durationMs - a.summary.durationMs || a.summary.startMs - b.summary.startMs);
}

/**
 * A time for `--since`/`--until`, read like the log's own: `2017-03-14 10:12:23[.123]` or with a
 * `T`; no zone (the log has none either).
 */
export function parseLogTime(text: string): number {
  const m = /^(\d{4})-(\d\d)-(\d\d)(?:[ T](\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,6}))?)?)?$/.exec(text.trim());
  if (!m) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: `cannot read the time ${JSON.stringify(text)}: give it as the log writes it, e.g. 2017-03-14 10:12:23` });
  const [, y, mo, d, h, mi, s, frac] = m;
  return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0), frac ? Number(frac.padEnd(3, '0').slice(0, 3)) : 0);
}
