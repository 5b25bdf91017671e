/**
 * The API side of scale-out: `ComputeDispatch` over the task queue. A request for a server's
 * host becomes a task; the API waits (bounded) for the agent to take it through the reserve
 * (so the answer carries the device name, as Nova's reserve RPC does), and the rest runs on the
 * agent while progress and traces are read from the shared database by any API process.
 */
import { HitchError } from '../errors.ts';
import type { Trace } from '../trace/span.ts';
import type { DomainSpec } from '../virt/domain-xml.ts';
import type { ComputeDispatch, RequestMeta } from './dispatch.ts';
import type { OperationHandle } from './manager.ts';
import { taskError, type TaskQueue, type TaskRow, type TaskState } from './queue.ts';
import type { BdmRow, ServerRow } from './repository.ts';

export interface QueueDispatchOptions {
  readonly queue: TaskQueue;
  /** A host whose agent has not heartbeated for this long is down. */
  readonly staleMs?: number;
  /** How long a request waits for the agent to take it through the reserve. */
  readonly acceptDeadlineMs?: number;
  /** How long `done` waits for the whole operation. */
  readonly doneDeadlineMs?: number;
}

export class QueueDispatch implements ComputeDispatch {
  readonly #q: TaskQueue;
  readonly #staleMs: number;
  readonly #acceptMs: number;
  readonly #doneMs: number;

  constructor(opts: QueueDispatchOptions) {
    this.#q = opts.queue;
    this.#staleMs = opts.staleMs ?? 15_000;
    this.#acceptMs = opts.acceptDeadlineMs ?? 30_000;
    this.#doneMs = opts.doneDeadlineMs ?? 600_000;
  }

  liveHosts(): Promise<string[]> {
    return this.#q.liveHosts(this.#staleMs);
  }

  async #requireLive(host: string): Promise<void> {
    if (!(await this.liveHosts()).includes(host)) throw new HitchError('HITCH_COMPUTE_HOST_DOWN', { host });
  }

  /**
   * Wait until the task reaches one of `states`. The queue lives in the database every process
   * shares; a short, growing poll interval (10 ms to 250 ms) keeps the added latency of the hop
   * small without a standing connection per request.
   */
  async #await(id: string, states: readonly TaskState[], deadlineMs: number): Promise<TaskRow> {
    const until = Date.now() + deadlineMs;
    let wait = 10;
    for (;;) {
      const t = await this.#q.get(id);
      if (t && (states.includes(t.state as TaskState) || t.state === 'failed')) return t;
      if (Date.now() > until) {
        throw new HitchError('HITCH_COMPUTE_HOST_DOWN', { host: t?.host ?? '?' }, {
          message: `Compute host ${t?.host ?? '?'} did not take the request within ${Math.round(deadlineMs / 1000)} s`,
        });
      }
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(wait * 2, 250);
    }
  }

  async spawn(server: ServerRow, spec: DomainSpec): Promise<void> {
    await this.#requireLive(server.host);
    await this.#q.enqueue(server.host, 'spawn', { serverId: server.id, spec });
  }

  async destroy(server: ServerRow): Promise<void> {
    const id = await this.#q.enqueue(server.host, 'destroy', { serverId: server.id });
    const t = await this.#await(id, ['done'], this.#doneMs);
    if (t.state === 'failed') throw taskError(t);
  }

  async #operation(server: ServerRow, kind: 'attach' | 'detach', payload: unknown): Promise<OperationHandle> {
    await this.#requireLive(server.host);
    const id = await this.#q.enqueue(server.host, kind, payload);
    const t = await this.#await(id, ['reserved', 'done'], this.#acceptMs);
    if (t.state === 'failed') throw taskError(t);
    const r = JSON.parse(t.result ?? '{}') as { operationId: string; bdm: BdmRow };
    const done = this.#await(id, ['done'], this.#doneMs).then(() => undefined, () => undefined);
    return { operationId: r.operationId, bdm: r.bdm, done };
  }

  attach(server: ServerRow, volumeId: string, device: string | null, meta: RequestMeta): Promise<OperationHandle> {
    return this.#operation(server, 'attach', { serverId: server.id, volumeId, device, meta });
  }

  detach(server: ServerRow, volumeId: string, meta: RequestMeta): Promise<OperationHandle> {
    return this.#operation(server, 'detach', { serverId: server.id, volumeId, meta });
  }

  /** Traces of operations on other processes are read from the database. */
  liveTrace(): Trace | undefined {
    return undefined;
  }
}
