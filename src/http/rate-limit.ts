/**
 * A fixed-window limiter for failed authentication: after `max` failures from one client for
 * one user name within `windowMs`, further attempts are refused with 429 until the window ends.
 * Successful logins are never limited (clients such as openstackclient take a token per run),
 * so only password guessing pays. In memory: per API process, which is what a guesser hits.
 */
import { HitchError } from '../errors.ts';

export interface FailureLimiterOptions {
  readonly max: number;
  readonly windowMs: number;
  readonly now?: () => number;
  /** Keys tracked at once; the oldest are forgotten past it, so memory stays bounded. */
  readonly maxKeys?: number;
}

export class FailureLimiter {
  readonly #o: Required<FailureLimiterOptions>;
  readonly #windows = new Map<string, { start: number; failures: number }>();

  constructor(opts: FailureLimiterOptions) {
    this.#o = { now: Date.now, maxKeys: 10_000, ...opts };
  }

  /** Throw HITCH_RATE_LIMITED when `key` has used up its failures in the current window. */
  check(key: string): void {
    const w = this.#windows.get(key);
    const now = this.#o.now();
    if (!w || now - w.start >= this.#o.windowMs) return;
    if (w.failures >= this.#o.max) {
      throw new HitchError('HITCH_RATE_LIMITED', { retryAfter: Math.ceil((w.start + this.#o.windowMs - now) / 1000) });
    }
  }

  fail(key: string): void {
    const now = this.#o.now();
    const w = this.#windows.get(key);
    if (!w || now - w.start >= this.#o.windowMs) {
      this.#windows.delete(key);
      this.#windows.set(key, { start: now, failures: 1 });
      if (this.#windows.size > this.#o.maxKeys) this.#windows.delete(this.#windows.keys().next().value as string);
      return;
    }
    w.failures++;
  }
}
