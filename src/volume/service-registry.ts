/**
 * The block storage services as `os-services` and `os-hosts` show them: `cinder-volume` for the
 * backend (`host@backend`) and `cinder-api` for this API process, each up while its heartbeat
 * (a row's `updated_at`, written every `reportIntervalMs`) is younger than `downAfterMs` —
 * Cinder's `report_interval` (10 s) and `service_down_time` (60 s). Several API processes of a
 * scale-out cloud each beat for themselves. An admin may disable a service (with a reason).
 */
import type { Kysely } from 'kysely';
import type { Database, ServiceTable } from '../db/schema.ts';
import { HitchError } from '../errors.ts';
import { cinderTime } from './volume-repo.ts';
import { AVAILABILITY_ZONE } from './zone.ts';

export const REPORT_INTERVAL_MS = 10_000;
export const SERVICE_DOWN_MS = 60_000;

export type ServiceRow = ServiceTable;

export interface ServiceView extends ServiceRow {
  readonly up: boolean;
}

export class ServiceRegistry {
  readonly #db: Kysely<Database>;
  /** The services this process beats for: `[binary, host]`. */
  readonly #mine: ReadonlyArray<readonly [string, string]>;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | null = null;

  constructor(db: Kysely<Database>, opts: { backendHost: string; apiHost: string; now?: () => number }) {
    this.#db = db;
    // Cinder's service host is `host@backend`, without the pool.
    this.#mine = [
      ['cinder-volume', opts.backendHost.replace(/#.*$/, '')],
      ['cinder-api', opts.apiHost.replace(/#.*$/, '')],
    ];
    this.#now = opts.now ?? Date.now;
  }

  /** Beat now and every `REPORT_INTERVAL_MS` until `stop`. */
  async start(): Promise<void> {
    await this.beat();
    if (this.#timer === null) {
      this.#timer = setInterval(() => void this.beat().catch(() => undefined), REPORT_INTERVAL_MS);
      this.#timer.unref();
    }
  }

  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** One heartbeat for each of this process's services (created on the first). */
  async beat(): Promise<void> {
    const now = cinderTime(this.#now());
    for (const [binary, host] of this.#mine) {
      await this.#db
        .insertInto('services')
        .values({ binary, host, zone: AVAILABILITY_ZONE, disabled: 0, disabled_reason: null, created_at: now, updated_at: now })
        .onConflict((oc) => oc.columns(['binary', 'host']).doUpdateSet({ updated_at: now }))
        .execute();
    }
  }

  async list(filter: { binary?: string; host?: string } = {}): Promise<ServiceView[]> {
    let q = this.#db.selectFrom('services').selectAll();
    if (filter.binary !== undefined) q = q.where('binary', '=', filter.binary);
    if (filter.host !== undefined) q = q.where('host', '=', filter.host);
    const rows = await q.orderBy('binary').orderBy('host').execute();
    const oldest = cinderTime(this.#now() - SERVICE_DOWN_MS);
    return rows.map((r) => ({ ...r, up: r.updated_at >= oldest }));
  }

  /** Enable or disable; 404 when there is no such service. */
  async setDisabled(binary: string, host: string, disabled: boolean, reason: string | null): Promise<ServiceView> {
    const res = await this.#db
      .updateTable('services')
      .set({ disabled: disabled ? 1 : 0, disabled_reason: disabled ? reason : null })
      .where('binary', '=', binary)
      .where('host', '=', host)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) {
      throw new HitchError('HITCH_NOT_FOUND', { kind: 'Service', id: `${binary}@${host}` }, { message: `Service ${binary} on host ${host} could not be found.` });
    }
    const [row] = await this.list({ binary, host });
    if (!row) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Service', id: `${binary}@${host}` });
    return row;
  }
}
