/**
 * Per-project and per-user request rate limits (issue 23, deliver 4): one tenant's flood is
 * answered 429 with `Retry-After` instead of taking the API processes' time from every other.
 *
 * A token bucket per key: `burst` requests at once, refilled at `perSecond`. Checked once a
 * request's caller is known (the policy hook, before the route runs), against the project the
 * token is scoped to and against the user. Admins are not limited: compute's service user
 * (`blockStorageUser`) is one, and an attach must never fail for its own storage calls. In
 * memory, per API process: N processes admit N times the rate, as N times the capacity serves it.
 *
 * A refused request is answered after a second (its Retry-After), not at once: a client that
 * ignores Retry-After and asks again the moment it is refused would otherwise spin the server on
 * 429s (hundreds a second from 16 connections, measured) and still crowd other projects out.
 * Held, a refusal costs a timer, and a flooding connection gets one answer a second.
 */
import { HitchError } from '../errors.ts';

export interface RateLimits {
  /** Requests a second one project may make, sustained; 0: no limit. */
  readonly projectPerSecond: number;
  /** How many it may make at once above that. */
  readonly projectBurst: number;
  /** Requests a second one user may make (in any project); 0: no limit. */
  readonly userPerSecond: number;
  readonly userBurst: number;
}

/** How long a refused request is held before its 429. */
export const REFUSAL_HOLD_MS = 1000;

interface Bucket {
  tokens: number;
  at: number;
}

export class RequestRateLimiter {
  readonly #l: RateLimits;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();
  readonly #maxKeys: number;

  readonly #hold: (ms: number) => Promise<void>;

  constructor(limits: RateLimits, opts: { now?: () => number; maxKeys?: number; hold?: (ms: number) => Promise<void> } = {}) {
    this.#l = limits;
    this.#now = opts.now ?? Date.now;
    this.#maxKeys = opts.maxKeys ?? 100_000;
    this.#hold = opts.hold ?? ((ms) => new Promise((r) => setTimeout(r, ms).unref()));
  }

  get enabled(): boolean {
    return this.#l.projectPerSecond > 0 || this.#l.userPerSecond > 0;
  }

  /**
   * Count one request of `caller`; reject with HITCH_RATE_LIMITED (429, `retryAfter` seconds),
   * after the hold, when its project or its user has no request left. A refused request costs
   * neither bucket.
   */
  async admit(caller: { readonly userId: string; readonly projectId: string | null; readonly isAdmin: boolean }): Promise<void> {
    if (caller.isAdmin || !this.enabled) return;
    const now = this.#now();
    const checks: Array<[string, number, number]> = [];
    if (this.#l.projectPerSecond > 0 && caller.projectId !== null) checks.push([`p:${caller.projectId}`, this.#l.projectPerSecond, this.#l.projectBurst]);
    if (this.#l.userPerSecond > 0) checks.push([`u:${caller.userId}`, this.#l.userPerSecond, this.#l.userBurst]);
    const buckets = checks.map(([key, rate, burst]) => ({ b: this.#refilled(key, rate, burst, now), rate }));
    const short = buckets.find(({ b }) => b.tokens < 1);
    if (short) {
      const waitS = (1 - short.b.tokens) / short.rate;
      const retryAfter = Math.max(1, Math.ceil(waitS));
      await this.#hold(REFUSAL_HOLD_MS);
      throw new HitchError('HITCH_RATE_LIMITED', { retryAfter });
    }
    for (const { b } of buckets) b.tokens -= 1;
  }

  #refilled(key: string, rate: number, burst: number, now: number): Bucket {
    let b = this.#buckets.get(key);
    if (!b) {
      if (this.#buckets.size >= this.#maxKeys) this.#buckets.delete(this.#buckets.keys().next().value as string);
      b = { tokens: burst, at: now };
      this.#buckets.set(key, b);
      return b;
    }
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rate);
    b.at = now;
    return b;
  }
}
