/**
 * pg's pool with the clients kept once connected. Kysely takes a client from the pool for every
 * statement outside a transaction and gives it back after; pg-pool's check-out and return (its
 * queue, the idle timer it re-arms on every return) cost about as much of Hitch's CPU as the
 * statement itself. Here a returned client waits in a plain list and the next statement takes
 * it at once. pg-pool still opens the connections (at most `max`) and closes them at the end.
 *
 * A client that fails (an error event, or a caller that returns it with an error, as Kysely
 * does after a failed rollback) goes back to pg-pool to be destroyed, and the next statement
 * opens a new one. Connections are not closed when idle: a server keeps its handful open.
 */
import type pg from 'pg';
import { HitchError } from '../errors.ts';

interface Waiter {
  readonly resolve: (c: pg.PoolClient) => void;
  readonly reject: (e: Error) => void;
}

/** How long a statement waits for a connection when every one is in use, by default. */
export const POOL_WAIT_MS = 5000;

interface Kept {
  /** pg-pool's own release of this check-out (once only). */
  readonly release: (err?: Error | boolean) => void;
  readonly onError: () => void;
  /** Listens for the server's fatal error on the connection (below). */
  readonly onServerError: (msg: { severity?: string }) => void;
  /** The server said it is closing this connection: never reuse it. */
  broken: boolean;
}

/** pg's protocol connection under a client: it reports each error message the server sends. */
type WithConnection = { connection?: { on(e: 'errorMessage', f: (msg: { severity?: string }) => void): unknown; removeListener(e: 'errorMessage', f: (msg: { severity?: string }) => void): unknown } };

export class ReusingPool {
  readonly #pool: pg.Pool;
  readonly #max: number;
  readonly #idle: pg.PoolClient[] = [];
  readonly #waiters: Waiter[] = [];
  readonly #kept = new Map<pg.PoolClient, Kept>();
  /** Clients checked out of pg-pool, connecting ones included. */
  #open = 0;
  #ended = false;
  readonly #waitMs: number;

  /**
   * `waitMs`: how long a statement waits for a connection when all `max` are in use (issue 23,
   * deliver 5). Then it fails with HITCH_DATABASE_POOL_TIMEOUT — 503 with `Retry-After`, in the
   * service's error body — rather than queueing for ever behind a flood or a stuck transaction.
   */
  constructor(pool: pg.Pool, max: number, waitMs = POOL_WAIT_MS) {
    this.#pool = pool;
    this.#max = max;
    this.#waitMs = waitMs;
  }

  connect(): Promise<pg.PoolClient> {
    if (this.#ended) return Promise.reject(new Error('the database pool has been closed'));
    const idle = this.#idle.pop();
    if (idle) return Promise.resolve(idle);
    if (this.#open < this.#max) {
      this.#open++;
      return this.#pool.connect().then(
        (c) => this.#keep(c),
        (e: unknown) => {
          this.#open--;
          throw e;
        },
      );
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.#waiters.indexOf(w);
        if (i < 0) return;
        this.#waiters.splice(i, 1);
        reject(new HitchError('HITCH_DATABASE_POOL_TIMEOUT', { waitedMs: this.#waitMs, poolSize: this.#max, retryAfter: 1 }));
      }, this.#waitMs);
      timer.unref();
      const w: Waiter = {
        resolve: (c) => {
          clearTimeout(timer);
          resolve(c);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.#waiters.push(w);
    });
  }

  async end(): Promise<void> {
    this.#ended = true;
    for (const w of this.#waiters.splice(0)) w.reject(new Error('the database pool has been closed'));
    for (const c of this.#idle.splice(0)) this.#giveBack(c, undefined);
    await this.#pool.end();
  }

  #keep(client: pg.PoolClient): pg.PoolClient {
    const kept: Kept = {
      release: client.release.bind(client),
      onError: () => this.#giveBack(client, true),
      // A FATAL error (the backend terminated, the server shutting down) arrives before the
      // socket closes; the failed query rejects at once, so its caller can return the client
      // while pg still thinks it usable. Mark it here, before that rejection reaches anyone.
      onServerError: (msg) => {
        if (msg.severity === 'FATAL' || msg.severity === 'PANIC') kept.broken = true;
      },
      broken: false,
    };
    this.#kept.set(client, kept);
    client.on('error', kept.onError);
    (client as unknown as WithConnection).connection?.on('errorMessage', kept.onServerError);
    client.release = (err?: Error | boolean): void => {
      if (!this.#kept.has(client)) return; // already given back (it failed while in use)
      // As pg-pool checks: a client whose connection broke during a query is not reused.
      const state = client as unknown as { _ending?: boolean; _queryable?: boolean };
      if (err || this.#ended || state._ending === true || state._queryable === false || this.#kept.get(client)?.broken) {
        this.#giveBack(client, err || this.#kept.get(client)?.broken || undefined);
        return;
      }
      const w = this.#waiters.shift();
      if (w) w.resolve(client);
      else this.#idle.push(client);
    };
    return client;
  }

  /** Return `client` to pg-pool for good: destroyed when `err`, else closed by its end(). */
  #giveBack(client: pg.PoolClient, err: Error | boolean | undefined): void {
    const kept = this.#kept.get(client);
    if (!kept) return;
    this.#kept.delete(client);
    const i = this.#idle.indexOf(client);
    if (i >= 0) this.#idle.splice(i, 1);
    client.removeListener('error', kept.onError);
    (client as unknown as WithConnection).connection?.removeListener('errorMessage', kept.onServerError);
    this.#open--;
    kept.release(err);
    // A statement waiting for a client gets a new connection in its place.
    const w = this.#waiters.shift();
    if (w) this.connect().then(w.resolve, w.reject);
  }
}
