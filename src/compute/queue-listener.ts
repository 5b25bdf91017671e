/**
 * One `LISTEN` connection per process: PostgreSQL's NOTIFY wakes an agent when work is queued
 * for one of its hosts, and an API process when a task it waits on changes state — instead of
 * every waiter polling the task table.
 *
 * The connection is its own (not one of the pool's: a pooled connection goes back to the pool
 * and would stop listening), named `hitch-listen <role> <id>` in `pg_stat_activity`. Notifications
 * are not stored: one sent while the connection is down is lost. So when the connection breaks
 * (the server restarted, an administrator or a test terminated it, the network dropped), the
 * listener reconnects with a growing pause (100 ms to 5 s), and after every (re)connect tells
 * its owner, who then polls once for what it may have missed. Owners also poll on a slow timer
 * of their own, which covers a notification lost any other way.
 */
import pg from 'pg';

export type NotifyHandler = (channel: string, payload: string) => void;

export interface QueueListenerOptions {
  readonly url: string;
  readonly channels: readonly string[];
  /** `pg_stat_activity.application_name`: who holds this connection. */
  readonly name: string;
  readonly onNotify: NotifyHandler;
  /** After each connect, the first included: poll for what the gap may have hidden. */
  readonly onConnect?: () => void;
  readonly onError?: (e: unknown) => void;
}

const RETRY_MS = [100, 250, 500, 1000, 2000, 5000] as const;

export class QueueListener {
  readonly #o: QueueListenerOptions;
  #client: pg.Client | null = null;
  #stopped = false;
  #attempt = 0;
  #timer: NodeJS.Timeout | null = null;
  #connecting: Promise<void> | null = null;
  /** Connections made so far (the first one included). */
  connects = 0;

  constructor(opts: QueueListenerOptions) {
    this.#o = opts;
  }

  /** Connect and listen; resolves once listening (retries in the background if that fails). */
  async start(): Promise<void> {
    await this.#connect();
  }

  /** The server-side process id of the listening connection, while connected. */
  get backendPid(): number | null {
    const c = this.#client as (pg.Client & { processID?: number }) | null;
    return c?.processID ?? null;
  }

  #connect(): Promise<void> {
    if (this.#connecting) return this.#connecting;
    this.#connecting = (async () => {
      const client = new pg.Client({ connectionString: this.#o.url, application_name: this.#o.name.slice(0, 63) });
      // An error on an idle client (the server ended it) must not crash the process: it is a
      // reason to reconnect.
      client.on('error', (e) => this.#lost(client, e));
      client.on('end', () => this.#lost(client));
      client.on('notification', (n) => this.#o.onNotify(n.channel, n.payload ?? ''));
      try {
        await client.connect();
        for (const ch of this.#o.channels) await client.query(`LISTEN "${ch.replace(/"/g, '')}"`);
      } catch (e) {
        this.#o.onError?.(e);
        client.removeAllListeners('end');
        await client.end().catch(() => undefined);
        this.#retry();
        return;
      }
      if (this.#stopped) {
        await client.end().catch(() => undefined);
        return;
      }
      this.#client = client;
      this.#attempt = 0;
      this.connects++;
      this.#o.onConnect?.();
    })().finally(() => {
      this.#connecting = null;
    });
    return this.#connecting;
  }

  #lost(client: pg.Client, e?: unknown): void {
    if (this.#client !== client) return;
    this.#client = null;
    if (e) this.#o.onError?.(e);
    client.removeAllListeners('end');
    void client.end().catch(() => undefined);
    this.#retry();
  }

  #retry(): void {
    if (this.#stopped || this.#timer) return;
    const wait = RETRY_MS[Math.min(this.#attempt++, RETRY_MS.length - 1)] as number;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#connect();
    }, wait);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#connecting;
    const c = this.#client;
    this.#client = null;
    if (c) {
      c.removeAllListeners('end');
      await c.end().catch(() => undefined);
    }
  }
}
