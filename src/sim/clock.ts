/**
 * The simulator's virtual clock.
 *
 * Virtual time starts at 0 and moves only when every simulated task is idle: nothing runnable
 * is left in the microtask queue, no new timer was registered, and nobody holds the clock.
 * Then the earliest timer fires and time jumps straight to it. A 120 s iSCSI login timeout
 * therefore costs a few event-loop turns of wall time, and the order in which things happen
 * depends only on virtual times and registration order — never on wall time — which is what
 * makes a scenario's trace repeat byte for byte.
 *
 * Code that does real I/O inside a simulated run (an HTTP call over loopback, a database
 * query) takes a `hold()` token for the duration, so virtual time cannot jump while it waits.
 */
import { HitchError } from '../errors.ts';
import type { Clock } from '../ports/host.ts';

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly fire: () => void;
  cancelled: boolean;
}

export interface VirtualClockOptions {
  /** Fire timers by themselves when the simulation is idle (default true). */
  readonly autoAdvance?: boolean;
  /**
   * Consecutive quiet event-loop turns required before time may advance (default 2). One turn
   * drains every promise chain; the second tolerates a `setImmediate` hop inside simulated code.
   */
  readonly quietTurns?: number;
}

/** Release a `hold()`; idempotent. */
export type ClockHold = () => void;

export class VirtualClock implements Clock {
  #now = 0;
  #seq = 0;
  #activity = 0;
  #holds = 0;
  #timers: Timer[] = [];
  #checkScheduled = false;
  readonly #autoAdvance: boolean;
  readonly #quietTurns: number;

  constructor(opts: VirtualClockOptions = {}) {
    this.#autoAdvance = opts.autoAdvance ?? true;
    this.#quietTurns = Math.max(1, opts.quietTurns ?? 2);
  }

  now(): number {
    return this.#now;
  }

  /** Timers not yet fired (for tests and deadlock diagnostics). */
  get pendingTimers(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }

  /** Outstanding `hold()` tokens. */
  get holds(): number {
    return this.#holds;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const aborted = (): HitchError => new HitchError('HITCH_ABORTED', { reason: 'sleep aborted' });
      if (signal?.aborted) return reject(aborted());
      const cancel = this.setTimer(ms, () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
      const onAbort = (): void => {
        cancel();
        reject(aborted());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Call `fire` once `ms` of virtual time has passed. Timers due at the same instant fire in
   * registration order. Returns a cancel function.
   */
  setTimer(ms: number, fire: () => void): () => void {
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    const t: Timer = { at: this.#now + delay, seq: this.#seq++, fire, cancelled: false };
    // Insert keeping (at, seq) order; timers are few, a linear scan from the end is enough.
    let i = this.#timers.length;
    while (i > 0) {
      const prev = this.#timers[i - 1];
      if (prev === undefined || prev.at <= t.at) break;
      i--;
    }
    this.#timers.splice(i, 0, t);
    this.touch();
    return () => {
      if (!t.cancelled) {
        t.cancelled = true;
        this.touch();
      }
    };
  }

  /** Note that simulated work happened, so the idle check waits another turn. */
  touch(): void {
    this.#activity++;
    this.#scheduleCheck();
  }

  /** Keep virtual time still until the returned release is called (real I/O in flight). */
  hold(): ClockHold {
    this.#holds++;
    this.touch();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#holds--;
      this.touch();
    };
  }

  /** Run `fn` with the clock held. */
  async holding<T>(fn: () => Promise<T>): Promise<T> {
    const release = this.hold();
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /**
   * Fire every timer due within the next `ms` of virtual time, letting the simulated code run
   * between them, then set the clock to exactly `now + ms`. For tests with `autoAdvance: false`.
   */
  async advance(ms: number): Promise<void> {
    const until = this.#now + Math.max(0, ms);
    for (;;) {
      await settle();
      const next = this.#peek();
      if (next === undefined || next.at > until) break;
      this.#fireNext();
    }
    this.#now = until;
    await settle();
  }

  /** Fire timers until none is left (bounded, so a self-rearming timer cannot spin forever). */
  async runUntilIdle(maxTimers = 1_000_000): Promise<void> {
    for (let n = 0; n < maxTimers; n++) {
      await settle();
      if (this.#peek() === undefined) return;
      this.#fireNext();
    }
    throw new HitchError('HITCH_SIM_DEADLOCK', { detail: `more than ${maxTimers} timers fired in runUntilIdle` });
  }

  #peek(): Timer | undefined {
    while (this.#timers.length > 0 && this.#timers[0]?.cancelled) this.#timers.shift();
    return this.#timers[0];
  }

  #fireNext(): void {
    const t = this.#peek();
    if (t === undefined) return;
    this.#timers.shift();
    if (t.at > this.#now) this.#now = t.at;
    this.#activity++;
    t.fire();
  }

  #scheduleCheck(): void {
    if (!this.#autoAdvance || this.#checkScheduled) return;
    if (this.#peek() === undefined) return;
    this.#checkScheduled = true;
    let quiet = 0;
    let seen = this.#activity;
    const check = (): void => {
      if (this.#holds > 0 || this.#peek() === undefined) {
        // A release or a new timer calls touch(), which schedules a fresh check.
        this.#checkScheduled = false;
        return;
      }
      if (this.#activity !== seen) {
        seen = this.#activity;
        quiet = 0;
        setImmediate(check);
        return;
      }
      if (++quiet < this.#quietTurns) {
        setImmediate(check);
        return;
      }
      this.#fireNext();
      quiet = 0;
      seen = this.#activity;
      setImmediate(check);
    };
    setImmediate(check);
  }
}

/** Let every pending promise callback and one `setImmediate` hop run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
