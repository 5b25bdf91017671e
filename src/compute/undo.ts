/**
 * The undo stack of a flow: every step that changes the world pushes how to undo itself; when a
 * later step fails, the stack runs in reverse. Every undo runs even when an earlier one fails
 * (os-brick's cleanup chains every failure), and the failures are reported together.
 */
import { HitchError, toHitchError } from '../errors.ts';
import type { Clock } from '../host/host.ts';
import type { Span } from '../trace/span.ts';

/** Attempts per undo, and the pause before each retry: a transient refusal should not strand a volume. */
export const UNDO_ATTEMPTS = 3;
export const UNDO_RETRY_MS = [1_000, 5_000] as const;

/** Run `fn` up to UNDO_ATTEMPTS times, pausing between attempts; the last error is thrown. */
export async function withRetries<T>(clock: Clock, fn: (attempt: number) => Promise<T>): Promise<T> {
  let last: unknown;
  for (let attempt = 1; attempt <= UNDO_ATTEMPTS; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      last = e;
      if (attempt < UNDO_ATTEMPTS) await clock.sleep(UNDO_RETRY_MS[attempt - 1] ?? 5_000);
    }
  }
  throw last;
}

interface UndoEntry {
  readonly name: string;
  readonly run: (span: Span) => Promise<void>;
}

export class UndoStack {
  readonly #entries: UndoEntry[] = [];
  readonly #clock: Clock;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Register how to undo the step that just succeeded. */
  push(name: string, run: (span: Span) => Promise<void>): void {
    this.#entries.push({ name, run });
  }

  get size(): number {
    return this.#entries.length;
  }

  /** Names of the pending undos, most recent first. */
  pending(): string[] {
    return this.#entries.map((e) => e.name).reverse();
  }

  /**
   * Run every undo in reverse order, each in its own span under `span`. Returns the failures
   * (empty when everything was undone); never throws.
   */
  async unwind(span: Span): Promise<HitchError[]> {
    const failures: HitchError[] = [];
    while (this.#entries.length > 0) {
      const e = this.#entries.pop() as UndoEntry;
      try {
        await span.run(`rollback.${e.name}`, {}, (child) =>
          withRetries(this.#clock, (attempt) => (attempt === 1 ? e.run(child) : child.run(`attempt ${attempt}`, {}, (a) => e.run(a)))),
        );
      } catch (err) {
        failures.push(toHitchError(err));
      }
    }
    return failures;
  }

  /** Forget every undo: the flow completed and its effects are meant to stay. */
  clear(): void {
    this.#entries.length = 0;
  }
}

/** One error that names every cleanup failure, for the operation's record. */
export function cleanupError(failures: readonly HitchError[]): HitchError {
  return new HitchError('HITCH_CLEANUP_FAILED', {
    count: failures.length,
    detail: failures.map((f) => `${f.code}: ${f.message}`).join('; '),
  });
}
