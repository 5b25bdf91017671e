/**
 * Spans: the unit of every trace in Hitch. An attach is a tree of spans (the seed's nine steps,
 * each with sub-steps: a REST call, an iscsiadm command, a wait). Logs are rendered from spans;
 * the journal and `explain` read them.
 *
 * Times come from the Host's clock, so on the simulator they are virtual and the same scenario
 * and seed give the same trace, byte for byte.
 */
import type { Clock } from '../ports/host.ts';
import type { OpenSpan, Span, SpanAttrs, SpanOutcome, SpanRecord } from '../ports/span.ts';

export type { OpenSpan, Span, SpanAttrs, SpanAttrValue, SpanOutcome, SpanRecord } from '../ports/span.ts';

export interface SpanEvent {
  readonly kind: 'start' | 'end';
  readonly span: Readonly<SpanRecord>;
}

/** Collects the spans of one operation (one attach, one detach, one scenario run). */
export class Trace {
  readonly #clock: Clock;
  readonly #spans: SpanRecord[] = [];
  readonly #listeners = new Set<(e: SpanEvent) => void>();
  #nextId = 1;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  get spans(): readonly Readonly<SpanRecord>[] {
    return this.#spans;
  }

  get clock(): Clock {
    return this.#clock;
  }

  /** Listen to span starts and ends (live progress, logs, persistence). */
  subscribe(listener: (e: SpanEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The root handle: spans started on it have no parent. */
  root(): Span {
    return new SpanHandle(this, null);
  }

  /** @internal */
  _start(parentId: number | null, name: string, attrs: SpanAttrs): SpanRecord {
    const rec: SpanRecord = {
      id: this.#nextId++,
      parentId,
      name,
      startMs: this.#clock.now(),
      endMs: null,
      outcome: 'running',
      attrs: { ...attrs },
    };
    this.#spans.push(rec);
    this.#emit({ kind: 'start', span: rec });
    return rec;
  }

  /** @internal */
  _end(rec: SpanRecord, outcome: SpanOutcome, error?: { code: string; message: string }): void {
    if (rec.endMs !== null) return;
    rec.endMs = this.#clock.now();
    rec.outcome = outcome;
    if (error) rec.error = error;
    this.#emit({ kind: 'end', span: rec });
  }

  #emit(e: SpanEvent): void {
    for (const l of this.#listeners) l(e);
  }

  /** A stable text form: one line per span, for determinism checks and golden files. */
  toText(): string {
    return this.#spans
      .map((s) => {
        const attrs = Object.keys(s.attrs)
          .sort()
          .map((k) => `${k}=${JSON.stringify(s.attrs[k])}`)
          .join(' ');
        const err = s.error ? ` error=${s.error.code}` : '';
        return `${s.id} ${s.parentId ?? '-'} ${s.startMs} ${s.endMs ?? '-'} ${s.outcome} ${s.name}${attrs ? ' ' + attrs : ''}${err}`;
      })
      .join('\n');
  }
}

/** The `Span` port's implementation: a handle on one record of a trace (or on its root). */
class SpanHandle implements Span {
  readonly #trace: Trace;
  readonly #rec: SpanRecord | null;

  constructor(trace: Trace, rec: SpanRecord | null) {
    this.#trace = trace;
    this.#rec = rec;
  }

  get record(): Readonly<SpanRecord> | null {
    return this.#rec;
  }

  /** Add or change attributes of this span (e.g. the exit code once known). */
  set(attrs: SpanAttrs): void {
    if (this.#rec) Object.assign(this.#rec.attrs, attrs);
  }

  /** Start a child span; the caller must `end()` it. Prefer `run`. */
  start(name: string, attrs: SpanAttrs = {}): OpenSpan {
    const rec = this.#trace._start(this.#rec?.id ?? null, name, attrs);
    return new OpenSpanHandle(this.#trace, rec);
  }

  /** Run `fn` inside a child span that ends `ok` or `error` with the promise. */
  async run<T>(name: string, attrs: SpanAttrs, fn: (span: Span) => Promise<T>): Promise<T> {
    const open = this.start(name, attrs);
    try {
      const v = await fn(open);
      open.end('ok');
      return v;
    } catch (e) {
      open.fail(e);
      throw e;
    }
  }

  /** A zero-length marker span (an event: "device appeared"). */
  event(name: string, attrs: SpanAttrs = {}): void {
    this.start(name, attrs).end('ok');
  }

  now(): number {
    return this.#trace.clock.now();
  }
}

class OpenSpanHandle extends SpanHandle implements OpenSpan {
  readonly #trace: Trace;
  readonly #rec: SpanRecord;

  constructor(trace: Trace, rec: SpanRecord) {
    super(trace, rec);
    this.#trace = trace;
    this.#rec = rec;
  }

  end(outcome: SpanOutcome = 'ok'): void {
    this.#trace._end(this.#rec, outcome);
  }

  fail(e: unknown): void {
    const code = typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : 'HITCH_INTERNAL';
    const message = e instanceof Error ? e.message : String(e);
    this.#trace._end(this.#rec, 'error', { code, message });
  }
}

/** A span sink that records nothing, for callers that do not trace. */
export function noopSpan(clock: Clock): Span {
  return new Trace(clock).root();
}
