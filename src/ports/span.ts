/**
 * The span port: what a call through any other port records into. Every step of an attach is
 * a span (a name, a parent, a start and an end on the host's clock, an outcome, attributes);
 * `trace/span.ts` is the implementation, and logs, the journal and `explain` read its records.
 */

export type SpanOutcome = 'ok' | 'error' | 'cancelled' | 'running';
export type SpanAttrValue = string | number | boolean | null;
export type SpanAttrs = Record<string, SpanAttrValue>;

export interface SpanRecord {
  readonly id: number;
  readonly parentId: number | null;
  readonly name: string;
  readonly startMs: number;
  endMs: number | null;
  outcome: SpanOutcome;
  readonly attrs: SpanAttrs;
  /** Error code (from the catalog) and message when the outcome is `error`. */
  error?: { code: string; message: string };
}

/**
 * A handle to record child spans under a parent. Work takes a `Span` and calls
 * `span.run('name', attrs, async (child) => …)`; the child's outcome follows the promise.
 */
export interface Span {
  /** This span's record; null for a trace's root handle. */
  readonly record: Readonly<SpanRecord> | null;
  /** Add or change attributes of this span (e.g. the exit code once known). */
  set(attrs: SpanAttrs): void;
  /** Start a child span that the caller ends. Prefer `run`. */
  start(name: string, attrs?: SpanAttrs): OpenSpan;
  /** Run `fn` inside a child span that ends `ok` or `error` with the promise. */
  run<T>(name: string, attrs: SpanAttrs, fn: (span: Span) => Promise<T>): Promise<T>;
  /** A zero-length marker span (an event: "device appeared"). */
  event(name: string, attrs?: SpanAttrs): void;
  /** The time on the trace's clock (the host's: virtual on the simulator). */
  now(): number;
}

/** A child span started with `start`: it ends when told. */
export interface OpenSpan extends Span {
  end(outcome?: SpanOutcome): void;
  /** End as `error`, with the error's catalog code and message. */
  fail(e: unknown): void;
}
