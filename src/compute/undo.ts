/**
 * The undo stack of a flow: every step that changes the world pushes how to undo itself; when a
 * later step fails, the stack runs in reverse. Every undo runs even when an earlier one fails
 * (os-brick's cleanup chains every failure), and the failures are reported together.
 */
import { HitchError, toHitchError } from '../errors.ts';
import type { Span } from '../trace/span.ts';

interface UndoEntry {
  readonly name: string;
  readonly run: (span: Span) => Promise<void>;
}

export class UndoStack {
  readonly #entries: UndoEntry[] = [];

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
        await span.run(`rollback.${e.name}`, {}, (child) => e.run(child));
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
