/**
 * The limiter for failed authentication. Its rule (also in src/identity/README.md):
 *
 * - Failures are counted per key: the client's address and whom the attempt is about, resolved
 *   (a user named by name or by id is one user and one count; an application credential by its
 *   id). Another user's logins, right or wrong, never touch the count.
 * - The first `max` failures cost nothing. From then on the key waits a back-off before its next
 *   attempt — 1 s after the `max`th failure, then 2, 4, … up to `maxDelayMs` (60 s) — and every
 *   attempt during the wait is answered 429 with `Retry-After`, without looking at the password.
 *   A guesser gets `max` tries, then about one a minute.
 * - A correct password does not reset the count (an attacker sharing the address, a NAT, gains
 *   nothing from the real user's login), but it is never refused for longer than the current
 *   back-off: the real admin waits at most `maxDelayMs`, however long the guessing went on.
 * - The count is forgotten after `forgetMs` (15 min) without a failure.
 *
 * In memory, per API process: a guesser talks to one process at a time, and a restart forgets.
 */
import { HitchError } from '../errors.ts';

export interface FailureLimiterOptions {
  /** Failures allowed before the back-off starts. */
  readonly max: number;
  /** The back-off's ceiling (default 60 s). */
  readonly maxDelayMs?: number;
  /** The back-off after the `max`th failure, doubled by each further one (default 1 s). */
  readonly firstDelayMs?: number;
  /** Quiet time after which a key's failures are forgotten (default 15 min). */
  readonly forgetMs?: number;
  readonly now?: () => number;
  /** Keys tracked at once; the oldest are forgotten past it, so memory stays bounded. */
  readonly maxKeys?: number;
}

interface Failures {
  count: number;
  /** The last failure's time. */
  last: number;
  /** No attempt before this time. */
  until: number;
}

export class FailureLimiter {
  readonly #o: Required<FailureLimiterOptions>;
  readonly #keys = new Map<string, Failures>();

  constructor(opts: FailureLimiterOptions) {
    this.#o = { now: Date.now, maxKeys: 10_000, maxDelayMs: 60_000, firstDelayMs: 1000, forgetMs: 15 * 60_000, ...opts };
  }

  #current(key: string, now: number): Failures | undefined {
    const f = this.#keys.get(key);
    if (f && now - f.last >= this.#o.forgetMs) {
      this.#keys.delete(key);
      return undefined;
    }
    return f;
  }

  /** Throw HITCH_RATE_LIMITED (429, with the seconds to wait) while `key` is in its back-off. */
  check(key: string): void {
    const now = this.#o.now();
    const f = this.#current(key, now);
    if (f && now < f.until) throw new HitchError('HITCH_RATE_LIMITED', { retryAfter: Math.max(1, Math.ceil((f.until - now) / 1000)) });
  }

  /** Count a failed attempt of `key`. */
  fail(key: string): void {
    const now = this.#o.now();
    let f = this.#current(key, now);
    if (!f) {
      f = { count: 0, last: now, until: 0 };
      this.#keys.set(key, f);
      if (this.#keys.size > this.#o.maxKeys) this.#keys.delete(this.#keys.keys().next().value as string);
    }
    f.count++;
    f.last = now;
    if (f.count >= this.#o.max) f.until = now + Math.min(this.#o.maxDelayMs, this.#o.firstDelayMs * 2 ** Math.min(30, f.count - this.#o.max));
  }
}
