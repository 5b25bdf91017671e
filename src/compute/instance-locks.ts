/**
 * Per-instance locks (Nova's `nova-<uuid>`): attaches to different servers run at once;
 * operations on one server queue. The reserve (step 1) and the attach (steps 2–9) take the lock
 * separately, as Nova does, so a second attach to the same server can reserve its device name
 * while the first is still connecting.
 */
import { KeyedLocks } from '../brick/locks.ts';
import type { Span } from '../ports/span.ts';

export class InstanceLocks {
  readonly #locks = new KeyedLocks();

  /** Run `fn` holding the server's lock (the reserve, a spawn, a destroy). */
  with<T>(serverId: string, fn: () => Promise<T>): Promise<T> {
    return this.#locks.with([`nova-${serverId}`], fn);
  }

  /**
   * Steps 2 and 9 of an attach or a detach: the wait for the lock is the `lock-instance` span,
   * its release the `unlock-instance` event.
   */
  async held(serverId: string, root: Span, fn: () => Promise<void>): Promise<void> {
    const wait = root.start('lock-instance', { step: 2, lock: `nova-${serverId}` });
    const release = await this.#locks.acquire([`nova-${serverId}`]);
    wait.end('ok');
    try {
      await fn();
    } finally {
      release();
      root.event('unlock-instance', { step: 9, lock: `nova-${serverId}` });
    }
  }

  /** A host's crash recovery runs once at a time. */
  recovery<T>(hostName: string, fn: () => Promise<T>): Promise<T> {
    return this.#locks.with([`recover-${hostName}`], fn);
  }
}
