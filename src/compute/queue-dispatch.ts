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
import { realClock } from '../host/real-clock.ts';
import type { Clock } from '../ports/host.ts';
import type { Trace } from '../trace/span.ts';
import type { DomainSpec } from '../ports/hypervisor.ts';
import { FALLBACK_POLL_MS, STALE_MS } from './agent.ts';
import type { ComputeDispatch, RequestMeta } from './dispatch.ts';
import type { OperationHandle } from './manager.ts';
import { QueueListener } from './queue-listener.ts';
import { TASK_STATES_CHANNEL, taskError, type TaskKind, type TaskQueue, type TaskRow, type TaskState } from './queue.ts';
import type { ServerRow } from './repository.ts';
import { readTaskResult, type TaskResult } from './task-codec.ts';

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
  /** What the deadlines and pauses are measured on (tests give a virtual clock). */
  readonly clock?: Clock;
}

/** What a state notice said about a task: its state and result (null: not in the notice). */
interface Heard {
  readonly state: string;
  readonly result: string | null;
}

/** What a waiter learns of its task: from a notice, or the row itself. */
type Outcome = Pick<TaskRow, 'state' | 'result' | 'error_code' | 'error_message'>;

export class QueueDispatch implements ComputeDispatch {
  readonly #q: TaskQueue;
  readonly #staleMs: number;
  readonly #acceptMs: number;
  readonly #doneMs: number;
  readonly #listener: QueueListener | null;
  readonly #clock: Clock;
  /** Task id → wake-ups of the requests waiting on it (true: a notice about it; false: read it). */
  readonly #waiters = new Map<string, Set<(heard: boolean) => void>>();
  /**
   * Tasks this process queued and still waits on → the last state notice heard (null: none yet).
   * A notice carries the state and the result, so a waiter told of the state it waits for
   * returns without reading the row: waiting costs no statement when notices arrive.
   */
  readonly #tracked = new Map<string, Heard | null>();

  constructor(opts: QueueDispatchOptions) {
    this.#q = opts.queue;
    this.#staleMs = opts.staleMs ?? STALE_MS;
    this.#acceptMs = opts.acceptDeadlineMs ?? 30_000;
    this.#doneMs = opts.doneDeadlineMs ?? 600_000;
    this.#clock = opts.clock ?? realClock;
    this.#listener = opts.listenUrl
      ? new QueueListener({
          url: opts.listenUrl,
          channels: [TASK_STATES_CHANNEL],
          name: `hitch-listen api ${process.pid}`,
          onNotify: (_channel, payload) => this.#heard(payload),
          // Back after a gap: every waiter reads its task again.
          onConnect: () => {
            for (const id of [...this.#waiters.keys()]) this.#wake(id, false);
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

  /** A state notice: `<id> <state> <result>`. */
  #heard(payload: string): void {
    const a = payload.indexOf(' ');
    const id = a < 0 ? payload : payload.slice(0, a);
    if (a >= 0 && this.#tracked.has(id)) {
      const rest = payload.slice(a + 1);
      const b = rest.indexOf(' ');
      const state = b < 0 ? rest : rest.slice(0, b);
      const result = b < 0 || b === rest.length - 1 ? null : rest.slice(b + 1);
      this.#tracked.set(id, { state, result });
    }
    this.#wake(id, true);
  }

  #wake(id: string, heard: boolean): void {
    const ws = this.#waiters.get(id);
    if (!ws) return;
    this.#waiters.delete(id);
    for (const w of ws) w(heard);
  }

  /** Resolves when task `id` is said to have changed (true), after `ms` or a reconnect (false: read it). */
  #changed(id: string, ms: number): { promise: Promise<boolean>; cancel(): void } {
    let done!: (heard: boolean) => void;
    const promise = new Promise<boolean>((r) => (done = r));
    const pause = new AbortController();
    this.#clock.sleep(ms, pause.signal).then(
      () => finish(false),
      () => undefined,
    );
    const finish = (heard: boolean): void => {
      pause.abort();
      this.#waiters.get(id)?.delete(finish);
      if (this.#waiters.get(id)?.size === 0) this.#waiters.delete(id);
      done(heard);
    };
    const set = this.#waiters.get(id) ?? new Set<(heard: boolean) => void>();
    set.add(finish);
    this.#waiters.set(id, set);
    return { promise, cancel: () => finish(false) };
  }

  /**
   * Queue a task, tracked from before it exists when there is a listener: its notices are
   * heard from the first.
   */
  async #enqueue(host: string, kind: TaskKind, payload: unknown, live: 'require live' | 'any'): Promise<string> {
    const id = crypto.randomUUID();
    if (this.#listener) this.#tracked.set(id, null);
    try {
      if (live === 'any') return await this.#q.enqueue(host, kind, payload, Date.now(), id);
      // The liveness check and the enqueue in one statement (PostgreSQL): a host down queues nothing.
      if (!(await this.#q.enqueueIfLive(host, kind, payload, this.#staleMs, Date.now(), id))) throw new HitchError('HITCH_COMPUTE_HOST_DOWN', { host });
      return id;
    } catch (e) {
      this.#tracked.delete(id);
      throw e;
    }
  }

  /**
   * Wait until the task reaches one of `states` (or fails), at most `deadlineMs`; undefined when
   * the deadline passed first. A tracked task is read only when no notice told what is needed:
   * after the slow fallback pause, after the listening connection came back, or when it failed
   * (the error is in the row).
   */
  async #await(id: string, states: readonly TaskState[], deadlineMs: number): Promise<Outcome | undefined> {
    const until = this.#clock.now() + deadlineMs;
    let poll = 10;
    let read = !this.#listener || !this.#tracked.has(id);
    for (;;) {
      // Listen before reading: a change between the read and the wait still wakes us.
      const pause = this.#listener ? FALLBACK_POLL_MS : poll;
      const next = this.#changed(id, Math.max(1, Math.min(pause, until - this.#clock.now())));
      const h = this.#tracked.get(id);
      if (h && h.result !== null && states.includes(h.state as TaskState)) {
        next.cancel();
        return { state: h.state, result: this.#q.openNotice(h.result), error_code: null, error_message: null };
      }
      if (read || h?.state === 'failed' || (h && h.result === null && states.includes(h.state as TaskState))) {
        const t = await this.#q.get(id);
        if (t && (states.includes(t.state as TaskState) || t.state === 'failed')) {
          next.cancel();
          return t;
        }
      }
      if (this.#clock.now() >= until) {
        next.cancel();
        return undefined;
      }
      read = !(await next.promise);
      poll = Math.min(poll * 2, 250);
    }
  }

  async spawn(server: ServerRow, spec: DomainSpec, meta?: RequestMeta): Promise<void> {
    if (!(await this.#q.enqueueIfLive(server.host, 'spawn', { serverId: server.id, spec, ...(meta ? { meta } : {}) }, this.#staleMs))) {
      throw new HitchError('HITCH_COMPUTE_HOST_DOWN', { host: server.host });
    }
  }

  /**
   * Wait for the agent's answer; past `deadlineMs` withdraw the task, and only once it is
   * withdrawn (no agent can run it any more) answer that the host did not take it. A task the
   * agent claimed as the deadline passed is the agent's: its outcome is awaited (up to the
   * operation's deadline), never reported as a failure that then happens anyway.
   */
  async #answer(id: string, host: string, states: readonly TaskState[], deadlineMs: number): Promise<Outcome> {
    const t = await this.#await(id, states, deadlineMs);
    if (t) return t;
    const s = Math.round(deadlineMs / 1000);
    const refused = new HitchError('HITCH_COMPUTE_HOST_DOWN', { host }, {
      message: `Compute host ${host} did not take the request within ${s} s; it was withdrawn and will not run. Start its agent (hitch agent --host ${host}) and retry.`,
    });
    if (await this.#q.withdraw(id, refused)) throw refused;
    const late = await this.#await(id, states, this.#doneMs);
    if (late) return late;
    throw new HitchError('HITCH_COMPUTE_HOST_DOWN', { host }, {
      message: `Compute host ${host} took the request but has not answered in ${Math.round(this.#doneMs / 1000)} s; it may still finish: look at the server's attachments before retrying.`,
    });
  }

  async destroy(server: ServerRow): Promise<void> {
    const id = await this.#enqueue(server.host, 'destroy', { serverId: server.id }, 'any');
    try {
      const t = await this.#answer(id, server.host, ['done'], this.#doneMs);
      if (t.state === 'failed') throw taskError(t);
    } finally {
      this.#tracked.delete(id);
    }
  }

  async #operation(server: ServerRow, kind: 'attach' | 'detach' | 'extend', payload: unknown): Promise<OperationHandle> {
    const id = await this.#enqueue(server.host, kind, payload, 'require live');
    let t: Outcome;
    try {
      t = await this.#answer(id, server.host, ['reserved', 'done'], this.#acceptMs);
    } catch (e) {
      this.#tracked.delete(id);
      throw e;
    }
    if (t.state === 'failed') {
      this.#tracked.delete(id);
      throw taskError(t);
    }
    let r: TaskResult;
    try {
      r = readTaskResult(id, t.result);
    } catch (e) {
      this.#tracked.delete(id);
      throw e;
    }
    const done =
      t.state === 'done'
        ? Promise.resolve()
        : this.#await(id, ['done'], this.#doneMs).then(
            () => undefined,
            () => undefined,
          );
    void done.finally(() => this.#tracked.delete(id));
    if (t.state === 'done') this.#tracked.delete(id);
    return { operationId: r.operationId, bdm: r.bdm, done };
  }

  attach(server: ServerRow, volumeId: string, device: string | null, meta: RequestMeta): Promise<OperationHandle> {
    return this.#operation(server, 'attach', { serverId: server.id, volumeId, device, meta });
  }

  detach(server: ServerRow, volumeId: string, meta: RequestMeta): Promise<OperationHandle> {
    return this.#operation(server, 'detach', { serverId: server.id, volumeId, meta });
  }

  extend(server: ServerRow, volumeId: string, meta: RequestMeta): Promise<OperationHandle> {
    return this.#operation(server, 'extend', { serverId: server.id, volumeId, meta });
  }

  /** Traces of operations on other processes are read from the database. */
  liveTrace(): Trace | undefined {
    return undefined;
  }
}
