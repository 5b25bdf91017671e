/**
 * The API side of scale-out: `ComputeDispatch` over the task queue. A request for a server's
 * host becomes a task; the API waits (bounded) for the agent to take it through the reserve
 * (so the answer carries the device name, as Nova's reserve RPC does), and the rest runs on the
 * agent while progress and traces are read from the shared database by any API process.
 *
 * Waiting is woken, not polled: the process's one `QueueListener` hears each task's state
 * changes (`NOTIFY hitch_task_states`), and a waiter reads its task's row when told it changed.
 * A slow poll per waiter (`FALLBACK_POLL_MS`) and a re-read of every waiter after the listening
 * connection comes back cover notifications that never arrived. Without a listener (no
 * PostgreSQL URL) waiters poll, 10 ms growing to 250 ms.
 */
import { HitchError } from '../errors.ts';
import type { Trace } from '../trace/span.ts';
import type { DomainSpec } from '../virt/domain-xml.ts';
import { FALLBACK_POLL_MS, STALE_MS } from './agent.ts';
import type { ComputeDispatch, RequestMeta } from './dispatch.ts';
import type { OperationHandle } from './manager.ts';
import { QueueListener } from './queue-listener.ts';
import { TASK_STATES_CHANNEL, taskError, type TaskQueue, type TaskRow, type TaskState } from './queue.ts';
import type { BdmRow, ServerRow } from './repository.ts';

export interface QueueDispatchOptions {
  readonly queue: TaskQueue;
  /** A host whose agent has not heartbeated for this long is down (default two heartbeats). */
  readonly staleMs?: number;
  /** How long a request waits for the agent to take it through the reserve. */
  readonly acceptDeadlineMs?: number;
  /** How long `done` waits for the whole operation. */
  readonly doneDeadlineMs?: number;
  /** PostgreSQL URL for this process's LISTEN connection; without it waiters poll. */
  readonly listenUrl?: string | null;
  readonly onError?: (e: unknown) => void;
}

export class QueueDispatch implements ComputeDispatch {
  readonly #q: TaskQueue;
  readonly #staleMs: number;
  readonly #acceptMs: number;
  readonly #doneMs: number;
  readonly #listener: QueueListener | null;
  /** Task id → wake-ups of the requests waiting on it. */
  readonly #waiters = new Map<string, Set<() => void>>();

  constructor(opts: QueueDispatchOptions) {
    this.#q = opts.queue;
    this.#staleMs = opts.staleMs ?? STALE_MS;
    this.#acceptMs = opts.acceptDeadlineMs ?? 30_000;
    this.#doneMs = opts.doneDeadlineMs ?? 600_000;
    this.#listener = opts.listenUrl
      ? new QueueListener({
          url: opts.listenUrl,
          channels: [TASK_STATES_CHANNEL],
          name: `hitch-listen api ${process.pid}`,
          onNotify: (_channel, payload) => this.#wake(payload.slice(0, payload.indexOf(' '))),
          // Back after a gap: every waiter reads its task again.
          onConnect: () => {
            for (const id of [...this.#waiters.keys()]) this.#wake(id);
          },
          ...(opts.onError ? { onError: opts.onError } : {}),
        })
      : null;
  }

  /** Open the listening connection (when there is one). */
  async start(): Promise<void> {
    await this.#listener?.start();
  }

  async stop(): Promise<void> {
    await this.#listener?.stop();
  }

  /** The listening connection (tests end it to check waiting does not stall). */
  get listener(): QueueListener | null {
    return this.#listener;
  }

  liveHosts(): Promise<string[]> {
    return this.#q.liveHosts(this.#staleMs);
  }

  async #requireLive(host: string): Promise<void> {
    if (!(await this.#q.isLive(host, this.#staleMs))) throw new HitchError('HITCH_COMPUTE_HOST_DOWN', { host });
  }

  #wake(id: string): void {
    const ws = this.#waiters.get(id);
    if (!ws) return;
    this.#waiters.delete(id);
    for (const w of ws) w();
  }

  /** Resolves when task `id` is said to have changed, or after `ms`. */
  #changed(id: string, ms: number): { promise: Promise<void>; cancel(): void } {
    let done!: () => void;
    const promise = new Promise<void>((r) => (done = r));
    const timer = setTimeout(() => finish(), ms);
    const finish = (): void => {
      clearTimeout(timer);
      this.#waiters.get(id)?.delete(finish);
      if (this.#waiters.get(id)?.size === 0) this.#waiters.delete(id);
      done();
    };
    const set = this.#waiters.get(id) ?? new Set<() => void>();
    set.add(finish);
    this.#waiters.set(id, set);
    return { promise, cancel: finish };
  }

  /** Wait until the task reaches one of `states` (or fails), at most `deadlineMs`. */
  async #await(id: string, states: readonly TaskState[], deadlineMs: number): Promise<TaskRow> {
    const until = Date.now() + deadlineMs;
    let poll = 10;
    for (;;) {
      // Listen before reading: a change between the read and the wait still wakes us.
      const pause = this.#listener ? FALLBACK_POLL_MS : poll;
      const next = this.#changed(id, Math.max(1, Math.min(pause, until - Date.now())));
      const t = await this.#q.get(id);
      if (t && (states.includes(t.state as TaskState) || t.state === 'failed')) {
        next.cancel();
        return t;
      }
      if (Date.now() > until) {
        next.cancel();
        throw new HitchError('HITCH_COMPUTE_HOST_DOWN', { host: t?.host ?? '?' }, {
          message: `Compute host ${t?.host ?? '?'} did not take the request within ${Math.round(deadlineMs / 1000)} s`,
        });
      }
      await next.promise;
      poll = Math.min(poll * 2, 250);
    }
  }

  async spawn(server: ServerRow, spec: DomainSpec, meta?: RequestMeta): Promise<void> {
    await this.#requireLive(server.host);
    await this.#q.enqueue(server.host, 'spawn', { serverId: server.id, spec, ...(meta ? { meta } : {}) });
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
    const done = t.state === 'done' ? Promise.resolve() : this.#await(id, ['done'], this.#doneMs).then(() => undefined, () => undefined);
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
