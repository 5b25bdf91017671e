/**
 * A daemon's own time, shared by everything that asks it for work: iscsid handling logins,
 * udev's workers handling events, multipathd building maps. Work waits its turn (first come,
 * first served) for one of the daemon's `slots`, then holds it for its service time on the
 * virtual clock — so ten logins at once cost more than one, as they do on a real host (measured
 * on the storage host guest: `fidelity/calibration.ts`). Work a caller gave up on is still
 * done: the daemon does not know its caller left.
 */
import type { VirtualClock } from './clock.ts';

export class DaemonQueue {
  readonly #clock: VirtualClock;
  readonly #slots: number;
  #busy = 0;
  readonly #waiting: Array<() => void> = [];

  /** `slots` 0 = as many at once as ask (no contention). */
  constructor(clock: VirtualClock, slots: number) {
    this.#clock = clock;
    this.#slots = slots;
  }

  /** Work that needs `ms` of the daemon: waits for a free slot (then `onStart`), then takes `ms`. */
  async serve(ms: number, onStart?: () => void): Promise<void> {
    if (ms <= 0) return;
    if (this.#slots > 0 && this.#busy >= this.#slots) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#busy++;
    try {
      onStart?.();
      await this.#clock.sleep(ms);
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#busy--;
    }
  }

  /** Work queued behind the busy slots right now (inspection). */
  get queued(): number {
    return this.#waiting.length;
  }
}
