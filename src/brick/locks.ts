/**
 * Keyed async locks: one FIFO lock per key (an iSCSI target is `portal,IQN`), so attaches to
 * different targets run concurrently and only work on the same node record / session is
 * serialised. os-brick instead takes one host-wide lock around every connect and disconnect,
 * so one dead portal stalls every attach on the host.
 *
 * Several keys are taken in sorted order, so two holders of overlapping key sets cannot
 * deadlock.
 */
export class KeyedLocks {
  /** The tail of each key's queue: resolves when the last holder releases. */
  readonly #tails = new Map<string, Promise<void>>();

  /** Keys currently held or awaited (for tests and diagnostics). */
  get busyKeys(): string[] {
    return [...this.#tails.keys()].sort();
  }

  async #acquireOne(key: string): Promise<() => void> {
    const prev = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.#tails.set(key, tail);
    await prev;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      release();
      // Nobody queued behind us: forget the key so the map does not grow with every target.
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    };
  }

  /** Take every key (sorted, deduplicated); returns one release function. */
  async acquire(keys: readonly string[]): Promise<() => void> {
    const releases: Array<() => void> = [];
    for (const k of [...new Set(keys)].sort()) releases.push(await this.#acquireOne(k));
    return () => {
      for (const r of releases.reverse()) r();
    };
  }

  /** Run `fn` holding `keys`. */
  async with<T>(keys: readonly string[], fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire(keys);
    try {
      return await fn();
    } finally {
      release();
    }
  }
}
