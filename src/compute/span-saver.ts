/**
 * Writing an operation's trace while it runs and after: one save at a time, only when a reader
 * would see something new, and while it runs only once it has run a while.
 */
import type { Trace } from '../trace/span.ts';
import type { ComputeRepository } from './repository.ts';

/**
 * How long (on the host's clock) an operation runs before its spans are written while it is still
 * running. The journal (the step column, the mapping) is written before every step whatever this
 * says; the spans are the trace, for people and for other processes' `explain`. An operation that
 * takes less than this has its trace written once, when it ends: one statement instead of one
 * per step. A long one (a slow login, a guest slow to release a disk) shows its progress
 * to other processes at most this late, at the next step or the next top-level span end.
 */
export const SPAN_PROGRESS_MS = 500;

/**
 * Saves of one operation's trace, one at a time (two overlapping upserts of one row would
 * collide on PostgreSQL), and only when something a reader would see changed: a span started
 * or ended since the last save. Each save writes the whole trace as it is when the save runs.
 */
export class SpanSaver {
  #chain: Promise<void> = Promise.resolve();
  /** Spans and ended spans in the last save (-1: nothing saved yet). */
  #savedSpans = -1;
  #savedEnded = -1;
  /** Host-clock time of the last save queued (or of the start). */
  #lastMs: number;
  constructor(
    readonly opId: string,
    readonly trace: Trace,
    readonly repo: ComputeRepository,
  ) {
    this.#lastMs = trace.clock.now();
  }
  /** Queue a save after the ones already queued; resolves when it is done (or failed). */
  next(): Promise<void> {
    this.#lastMs = this.trace.clock.now();
    this.#chain = this.#chain.then(() => this.#save()).catch(() => undefined);
    return this.#chain;
  }
  /** Queue a save when SPAN_PROGRESS_MS have passed since the last; else nothing. */
  progress(): Promise<void> | null {
    return this.trace.clock.now() - this.#lastMs >= SPAN_PROGRESS_MS ? this.next() : null;
  }
  async #save(): Promise<void> {
    const spans = this.trace.spans;
    let ended = 0;
    for (const s of spans) if (s.endMs !== null) ended++;
    if (spans.length === this.#savedSpans && ended === this.#savedEnded) return;
    // Counted as they were when written: a span that ends while the statement is on its way is
    // written again next time (never the other way round).
    const count = spans.length;
    await this.repo.saveSpans(this.opId, spans);
    this.#savedSpans = count;
    this.#savedEnded = ended;
  }
}
