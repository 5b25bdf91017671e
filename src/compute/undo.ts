/**
 * The undo stack of a flow: every step that changes the world pushes how to undo itself; when a
 * later step fails, the stack runs in reverse. An undo that fails (after its retries) does not
 * stop the undos that are independent of it (os-brick's cleanup chains every failure, and the
 * failures are reported together) — but it does stop the undos that *depend* on it: an undo
 * names the later undos it needs (`requires`), and is skipped when any of them failed or was
 * skipped itself. The attach uses this so that a disk the guest will not release never has its
 * host device disconnected, its export removed or its mapping dropped underneath it.
 */
import { HitchError, toHitchError } from '../errors.ts';
import type { Clock } from '../ports/host.ts';
import type { Span } from '../trace/span.ts';

/** Attempts per undo, and the pause before each retry: a transient refusal should not strand a volume. */
export const UNDO_ATTEMPTS = 3;
export const UNDO_RETRY_MS = [1_000, 5_000] as const;

/**
 * Run `fn` until it succeeds, pausing `delays[i]` before attempt i+2 (so `delays.length + 1`
 * attempts in all, UNDO_ATTEMPTS by default); the last error is thrown.
 */
export async function withRetries<T>(clock: Clock, fn: (attempt: number) => Promise<T>, delays: readonly number[] = UNDO_RETRY_MS): Promise<T> {
  let last: unknown;
  for (let attempt = 1; attempt <= delays.length + 1; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      last = e;
      if (attempt <= delays.length) await clock.sleep(delays[attempt - 1] ?? 5_000);
    }
  }
  throw last;
}

interface UndoEntry {
  readonly name: string;
  readonly run: (span: Span) => Promise<void>;
  readonly requires: readonly string[];
}

export interface UnwindResult {
  readonly failures: HitchError[];
  /** Undos that ran and failed after their retries. */
  readonly failed: readonly string[];
  /** Undos not run because an undo they require failed (or was itself skipped). */
  readonly skipped: readonly string[];
}

export class UndoStack {
  readonly #entries: UndoEntry[] = [];
  readonly #clock: Clock;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /**
   * Register how to undo the step that just succeeded. `requires` names undos pushed later that
   * must have succeeded (or never been pushed) before this one may run.
   */
  push(name: string, run: (span: Span) => Promise<void>, opts: { requires?: readonly string[] } = {}): void {
    this.#entries.push({ name, run, requires: opts.requires ?? [] });
  }

  get size(): number {
    return this.#entries.length;
  }

  /** Names of the pending undos, most recent first. */
  pending(): string[] {
    return this.#entries.map((e) => e.name).reverse();
  }

  /**
   * Run every undo in reverse order, each in its own span under `span`, skipping those whose
   * requirements failed (a `rollback.<name>` span with `skipped` says which and why). Never throws.
   */
  async unwind(span: Span): Promise<UnwindResult> {
    const failures: HitchError[] = [];
    const failed: string[] = [];
    const skipped: string[] = [];
    while (this.#entries.length > 0) {
      const e = this.#entries.pop() as UndoEntry;
      const blocker = e.requires.find((r) => failed.includes(r) || skipped.includes(r));
      if (blocker !== undefined) {
        skipped.push(e.name);
        span.event(`rollback.${e.name}`, { skipped: true, because: `${blocker} was not undone` });
        continue;
      }
      try {
        await span.run(`rollback.${e.name}`, {}, (child) =>
          withRetries(this.#clock, (attempt) => (attempt === 1 ? e.run(child) : child.run(`attempt ${attempt}`, {}, (a) => e.run(a)))),
        );
      } catch (err) {
        failures.push(toHitchError(err));
        failed.push(e.name);
      }
    }
    return { failures, failed, skipped };
  }

  /** Forget every undo: the flow completed and its effects are meant to stay. */
  clear(): void {
    this.#entries.length = 0;
  }
}

/**
 * Mark a flow's error as leaving compensation undone that the journal must keep: a write that
 * did not happen (a full disk, a locked database, an I/O error, a block storage service that
 * kept refusing) in an undo that state depends on — the volume's reservation, the mapping. The
 * manager then leaves the operation unfinished and drives it to its end with recovery, retried
 * with back-off until it succeeds (and at the next start if the process stops first); it is not
 * `rolled_back` until every undo really happened.
 */
export function pendingUndo(err: HitchError, failures: readonly HitchError[] = []): HitchError {
  return Object.assign(err, { pendingUndo: true, ...(failures.length > 0 ? { cleanup: failures } : {}) });
}

/** Whether `e` was marked by `pendingUndo`. */
export function isPendingUndo(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { pendingUndo?: unknown }).pendingUndo === true;
}

/** One error that names every cleanup failure, for the operation's record. */
export function cleanupError(failures: readonly HitchError[]): HitchError {
  return new HitchError('HITCH_CLEANUP_FAILED', {
    count: failures.length,
    detail: failures.map((f) => `${f.code}: ${f.message}`).join('; '),
  });
}
