/**
 * A tiny auto-advancing virtual clock for the virt tests, until `sim/clock.ts`'s VirtualClock
 * is wired in: a `sleep` is a timer, and once every promise that can run has run (one
 * `setImmediate` turn), time jumps to the earliest timer and fires it. No real waiting.
 */
import { HitchError } from '../../errors.ts';
import type { Clock } from '../../ports/host.ts';

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly resolve: () => void;
}

export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: Timer[] = [];
  #scheduled = false;

  constructor(startMs = 0) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(new HitchError('HITCH_ABORTED', { reason: 'aborted before sleep' }));
        return;
      }
      const t: Timer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, resolve };
      this.#timers.push(t);
      signal?.addEventListener('abort', () => {
        this.#timers = this.#timers.filter((x) => x !== t);
        reject(new HitchError('HITCH_ABORTED', { reason: 'aborted during sleep' }));
      });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.#timers.shift();
      if (!next) return;
      this.#now = Math.max(this.#now, next.at);
      next.resolve();
      if (this.#timers.length > 0) this.#schedule();
    });
  }
}
