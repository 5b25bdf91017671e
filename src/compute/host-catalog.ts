/**
 * The compute hosts as `os-services` and `os-hypervisors` show them: each host's compute service
 * registers what it is when it starts (hypervisor, CPUs, memory, address); whether it is up is
 * the dispatch's answer (in-process managers in the all-in-one, fresh heartbeats of the agents
 * in scale-out); whether it takes new servers is the operator's (`compute service set
 * --disable`), kept here and read by placement.
 */
import type { Kysely, Selectable } from 'kysely';
import type { ComputeTables } from './schema.ts';
import type { ComputeServiceTable } from './schema-catalog.ts';

export type ComputeServiceRow = Selectable<ComputeServiceTable>;

/** What a compute host reports about itself when its service starts. */
export interface HostFacts {
  readonly hypervisorType: string;
  readonly hypervisorVersion: number;
  readonly vcpus: number;
  readonly memoryMb: number;
  readonly localGb: number;
  readonly hostIp: string;
}

export interface ComputeHostState extends ComputeServiceRow {
  /** The service answers (alive and not forced down). */
  readonly up: boolean;
  /** ISO time of the last sign of life: the heartbeat in scale-out, the registration otherwise. */
  readonly lastSeen: string | null;
}

function toRow(r: ComputeServiceRow): ComputeServiceRow {
  return { ...r, seq: Number(r.seq), hypervisor_version: Number(r.hypervisor_version), memory_mb: Number(r.memory_mb), local_gb: Number(r.local_gb), vcpus: Number(r.vcpus) };
}

export class HostCatalog {
  readonly #db: Kysely<ComputeTables>;
  readonly #liveHosts: () => Promise<readonly string[]>;

  /** `liveHosts`: the dispatch's hosts that can take work now. */
  constructor(db: object, liveHosts: () => Promise<readonly string[]>) {
    this.#db = db as Kysely<ComputeTables>;
    this.#liveHosts = liveHosts;
  }

  /** Record (or refresh) a host's compute service and its facts; its enabled state is kept. */
  async register(host: string, facts: HostFacts): Promise<void> {
    const now = new Date().toISOString();
    const values = {
      hypervisor_type: facts.hypervisorType,
      hypervisor_version: facts.hypervisorVersion,
      vcpus: facts.vcpus,
      memory_mb: facts.memoryMb,
      local_gb: facts.localGb,
      host_ip: facts.hostIp,
      updated_at: now,
    };
    const r = await this.#db.updateTable('compute_services').set(values).where('host', '=', host).executeTakeFirst();
    if (Number(r.numUpdatedRows) > 0) return;
    const last = await this.#db.selectFrom('compute_services').select((eb) => eb.fn.max('seq').as('m')).executeTakeFirst();
    await this.#db
      .insertInto('compute_services')
      .values({ host, uuid: crypto.randomUUID(), seq: Number(last?.m ?? 0) + 1, disabled: 0, disabled_reason: null, forced_down: 0, created_at: now, ...values })
      .onConflict((oc) => oc.column('host').doUpdateSet(values))
      .execute();
  }

  /** Every host's state, or only those of `hosts` (a page of servers needs its own hosts only). */
  async list(hosts?: readonly string[]): Promise<ComputeHostState[]> {
    if (hosts !== undefined && hosts.length === 0) return [];
    let services = this.#db.selectFrom('compute_services').selectAll().orderBy('seq');
    let heartbeats = this.#db.selectFrom('compute_hosts').select(['name', 'heartbeat_ms']);
    if (hosts !== undefined) {
      services = services.where('host', 'in', [...hosts]);
      heartbeats = heartbeats.where('name', 'in', [...hosts]);
    }
    const [rows, live, beats] = await Promise.all([services.execute(), this.#liveHosts(), heartbeats.execute()]);
    const beat = new Map(beats.map((b) => [b.name, Number(b.heartbeat_ms)]));
    return rows.map(toRow).map((r) => {
      const ms = beat.get(r.host);
      return { ...r, up: live.includes(r.host) && r.forced_down === 0, lastSeen: ms ? new Date(ms).toISOString() : (r.updated_at ?? r.created_at) };
    });
  }

  async get(by: { host?: string; uuid?: string; seq?: number }): Promise<ComputeHostState | undefined> {
    return (await this.list(by.host !== undefined ? [by.host] : undefined)).find((h) => (by.host === undefined || h.host === by.host) && (by.uuid === undefined || h.uuid === by.uuid) && (by.seq === undefined || h.seq === by.seq));
  }

  async update(host: string, patch: Partial<Pick<ComputeServiceRow, 'disabled' | 'disabled_reason' | 'forced_down'>>): Promise<void> {
    await this.#db.updateTable('compute_services').set({ ...patch, updated_at: new Date().toISOString() }).where('host', '=', host).execute();
  }

  async delete(host: string): Promise<void> {
    await this.#db.deleteFrom('compute_services').where('host', '=', host).execute();
  }

  /** Hosts that may take a new server: up and enabled. */
  async schedulable(): Promise<string[]> {
    return (await this.list()).filter((h) => h.up && h.disabled === 0).map((h) => h.host);
  }
}
