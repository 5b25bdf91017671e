/**
 * How the compute API reaches the manager of a server's host. One small interface, so the
 * flows never know whether they were called in-process (all-in-one: `DirectDispatch`) or
 * through a queue to a per-host agent (scale-out).
 */
import { HitchError } from '../errors.ts';
import type { Trace } from '../trace/span.ts';
import type { DomainSpec } from '../ports/hypervisor.ts';
import type { ComputeManager, OperationHandle } from './manager.ts';
import type { RequestMeta } from './operation-journal.ts';
import type { ServerRow } from './repository.ts';

export type { RequestMeta } from './operation-journal.ts';

export interface ComputeDispatch {
  /** Hosts that can take new servers now. */
  liveHosts(): Promise<string[]>;
  /** `meta`: the create request's, for the attach operations of the volumes it boots with. */
  spawn(server: ServerRow, spec: DomainSpec, meta?: RequestMeta): Promise<void>;
  destroy(server: ServerRow): Promise<void>;
  attach(server: ServerRow, volumeId: string, device: string | null, meta: RequestMeta): Promise<OperationHandle>;
  detach(server: ServerRow, volumeId: string, meta: RequestMeta): Promise<OperationHandle>;
  /** Online extend of an attached volume (a `volume-extended` event). */
  extend(server: ServerRow, volumeId: string, meta: RequestMeta): Promise<OperationHandle>;
  /** The in-memory trace of an operation still running, when this process runs it. */
  liveTrace(operationId: string): Trace | undefined;
}

/** All-in-one: every compute host's manager lives in this process. */
export class DirectDispatch implements ComputeDispatch {
  readonly #managers = new Map<string, ComputeManager>();

  constructor(managers: readonly ComputeManager[]) {
    for (const m of managers) this.#managers.set(m.hostName, m);
  }

  get managers(): ComputeManager[] {
    return [...this.#managers.values()];
  }

  #manager(host: string): ComputeManager {
    const m = this.#managers.get(host);
    if (!m) throw new HitchError('HITCH_COMPUTE_HOST_DOWN', { host });
    return m;
  }

  async liveHosts(): Promise<string[]> {
    return [...this.#managers.keys()].sort();
  }

  spawn(server: ServerRow, spec: DomainSpec, meta?: RequestMeta): Promise<void> {
    return this.#manager(server.host).spawn(server, spec, meta);
  }

  destroy(server: ServerRow): Promise<void> {
    return this.#manager(server.host).destroy(server);
  }

  attach(server: ServerRow, volumeId: string, device: string | null, meta: RequestMeta): Promise<OperationHandle> {
    return this.#manager(server.host).attach(server, volumeId, device, meta);
  }

  detach(server: ServerRow, volumeId: string, meta: RequestMeta): Promise<OperationHandle> {
    return this.#manager(server.host).detach(server, volumeId, meta);
  }

  extend(server: ServerRow, volumeId: string, meta: RequestMeta): Promise<OperationHandle> {
    return this.#manager(server.host).extend(server, volumeId, meta);
  }

  liveTrace(operationId: string): Trace | undefined {
    for (const m of this.#managers.values()) {
      const t = m.liveTrace(operationId);
      if (t) return t;
    }
    return undefined;
  }

  async drain(): Promise<void> {
    await Promise.all([...this.#managers.values()].map((m) => m.drain()));
  }
}
