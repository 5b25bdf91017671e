/**
 * An agent process (nova-compute's process in scale-out) serving one or many compute hosts:
 * `hitch agent --host A --host B …`. Each host keeps what is its own — its compute manager, so
 * its instance locks, its journal's recovery, its claims (a host's tasks are claimed for that
 * host only, by the process that serves it) — while the process shares what is per process:
 *
 * - one `LISTEN` connection (`QueueListener`): an enqueue's NOTIFY names the host, and only that
 *   host's claim loop wakes;
 * - one heartbeat statement for all its hosts every `heartbeatMs` (`HEARTBEAT_MS`);
 * - one slow poll (`pollMs`) asking which of its hosts have work queued: what a notification
 *   lost while the listening connection was down would otherwise leave waiting.
 *
 * Idle, a process costs one heartbeat per `heartbeatMs` and one poll per `pollMs`, whatever the
 * number of hosts it serves.
 *
 * On start each host's manager first recovers the operations a previous agent of that host left
 * half done, then that agent's claimed tasks are marked over: each operation runs once, to one
 * end. Tasks of one host run several at once (`concurrency`), since the manager's instance locks
 * order the ones that must not overlap.
 */
import { HitchError, toHitchError } from '../errors.ts';
import type { ComputeManager } from './manager.ts';
import { QueueListener } from './queue-listener.ts';
import { FALLBACK_POLL_MS, HEARTBEAT_MS } from './liveness.ts';
import { TASKS_CHANNEL, type TaskQueue, type TaskRow } from './queue.ts';
import { readTaskPayload } from './task-codec.ts';

export { FALLBACK_POLL_MS, HEARTBEAT_MS, HOST_DOWN_AFTER_MS, STALE_MS } from './liveness.ts';

export interface AgentOptions {
  readonly queue: TaskQueue;
  /** One per host this process serves. */
  readonly managers: readonly ComputeManager[];
  readonly agentId?: string;
  readonly heartbeatMs?: number;
  /**
   * Poll for queued work this often. With a listening connection a slow safety net
   * (FALLBACK_POLL_MS); without one (no PostgreSQL URL) the only way to learn of work (25 ms).
   */
  readonly pollMs?: number;
  /** Tasks of one host run at once. */
  readonly concurrency?: number;
  /** PostgreSQL URL for the process's LISTEN connection; null polls only. */
  readonly listenUrl?: string | null;
  readonly onError?: (e: unknown) => void;
}

class HostWorker {
  readonly running = new Set<Promise<void>>();
  #pumping = false;
  #again = false;
  /** Work notices heard and not yet claimed for: each stands for one task queued for this host. */
  #credit = 0;
  /** Claim until none is left (start, the slow poll, a slot freed while tasks waited for one). */
  #drain = false;
  constructor(
    readonly manager: ComputeManager,
    readonly claim: () => Promise<TaskRow | undefined>,
    readonly run: (t: TaskRow) => Promise<void>,
    readonly max: number,
    readonly onError: (e: unknown) => void,
  ) {}

  /**
   * A notice (`notice`: one task queued) or a reason to look (claim until none is left). A notice
   * claims once: no statement is spent learning that the queue is empty. What a lost notice
   * leaves queued, the slow poll finds.
   */
  wake(notice = false): void {
    if (notice) this.#credit++;
    else this.#drain = true;
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = true;
    void (async () => {
      try {
        do {
          this.#again = false;
          while (this.running.size < this.max && (this.#drain || this.#credit > 0)) {
            if (!this.#drain) this.#credit--;
            let t: TaskRow | undefined;
            try {
              t = await this.claim();
            } catch (e) {
              this.onError(e);
              break;
            }
            if (!t) {
              this.#drain = false;
              this.#credit = 0;
              break;
            }
            const p: Promise<void> = this.run(t).finally(() => {
              const full = this.running.size >= this.max;
              this.running.delete(p);
              // A slot came free while tasks may have waited for one: look again.
              if (full) this.wake();
            });
            this.running.add(p);
          }
        } while (this.#again);
      } finally {
        this.#pumping = false;
      }
    })();
  }
}

export class ComputeAgent {
  readonly id: string;
  readonly #o: AgentOptions;
  readonly #workers = new Map<string, HostWorker>();
  #stopped = false;
  #timers: NodeJS.Timeout[] = [];
  #listener: QueueListener | null = null;

  constructor(opts: AgentOptions) {
    this.#o = opts;
    this.id = opts.agentId ?? crypto.randomUUID();
    const onError = (e: unknown): void => opts.onError?.(e);
    for (const m of opts.managers) {
      this.#workers.set(m.hostName, new HostWorker(m, () => opts.queue.claim(m.hostName, this.id), (t) => this.#run(m, t), opts.concurrency ?? 64, onError));
    }
  }

  /** The hosts this process serves. */
  get hosts(): string[] {
    return [...this.#workers.keys()];
  }

  /** The first (or only) host: `hitch agent --host NAME`. */
  get host(): string {
    return this.hosts[0] as string;
  }

  /** The listening connection, when there is one (tests end it to check the queue does not stall). */
  get listener(): QueueListener | null {
    return this.#listener;
  }

  async start(): Promise<void> {
    const { queue } = this.#o;
    // Recovery per host, before the host takes new work; a few at a time (each reads its journal).
    const managers = [...this.#workers.values()].map((w) => w.manager);
    for (let i = 0; i < managers.length; i += 8) {
      await Promise.all(
        managers.slice(i, i + 8).map(async (m) => {
          await m.recover();
          await queue.abandon(m.hostName, this.id);
        }),
      );
    }
    await queue.heartbeatMany(this.hosts, this.id);
    this.#timers.push(
      setInterval(() => {
        void queue.heartbeatMany(this.hosts, this.id).catch((e: unknown) => this.#o.onError?.(e));
      }, this.#o.heartbeatMs ?? HEARTBEAT_MS),
    );
    if (this.#o.listenUrl) {
      this.#listener = new QueueListener({
        url: this.#o.listenUrl,
        channels: [TASKS_CHANNEL],
        name: `hitch-listen agent ${this.id}`,
        onNotify: (_channel, host) => this.#workers.get(host)?.wake(true),
        // Connected again after a gap: what was queued meanwhile sent its notice to nobody.
        onConnect: () => void this.#pollQueued(),
        ...(this.#o.onError ? { onError: this.#o.onError } : {}),
      });
      await this.#listener.start();
    }
    const pollMs = this.#o.pollMs ?? (this.#listener ? FALLBACK_POLL_MS : 25);
    this.#timers.push(setInterval(() => void this.#pollQueued(), pollMs));
    for (const w of this.#workers.values()) w.wake();
  }

  /** Wake the hosts that have work queued: one statement for all of them. */
  async #pollQueued(): Promise<void> {
    if (this.#stopped) return;
    try {
      for (const h of await this.#o.queue.queuedHosts(this.hosts)) this.#workers.get(h)?.wake();
    } catch (e) {
      this.#o.onError?.(e);
    }
  }

  /** Stop claiming, let the running tasks finish, sign off (the hosts show down at once). */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers) clearInterval(t);
    await this.#listener?.stop();
    for (const w of this.#workers.values()) {
      while (w.running.size > 0) await Promise.allSettled([...w.running]);
      w.manager.stopReaping();
      await w.manager.drain();
    }
    await this.#o.queue.signOffMany(this.hosts, this.id);
  }

  async #run(manager: ComputeManager, t: TaskRow): Promise<void> {
    const { queue } = this.#o;
    try {
      const p = readTaskPayload(t.id, t.payload);
      const server = await manager.server(p.serverId);
      if (!server) throw toHitchError(new Error(`server ${p.serverId} is not in the database`));
      if (t.kind === 'spawn') {
        if (!p.spec) throw new HitchError('HITCH_QUEUE_TASK_MALFORMED', { task: t.id, detail: 'a spawn without payload.spec' });
        await manager.spawn(server, p.spec, p.meta);
        await queue.update(t.id, 'done', {});
      } else if (t.kind === 'destroy') {
        await manager.destroy(server);
        await queue.update(t.id, 'done', {});
      } else {
        const meta = p.meta ?? { requestId: 'req-agent', projectId: server.project_id };
        const volumeId = p.volumeId;
        if (volumeId === undefined) throw new HitchError('HITCH_QUEUE_TASK_MALFORMED', { task: t.id, detail: `a ${t.kind} without payload.volumeId` });
        const h =
          t.kind === 'attach'
            ? await manager.attach(server, volumeId, p.device ?? null, meta)
            : t.kind === 'detach'
              ? await manager.detach(server, volumeId, meta)
              : await manager.extend(server, volumeId, meta);
        await queue.update(t.id, 'reserved', { operationId: h.operationId, bdm: h.bdm });
        await h.done;
        await queue.update(t.id, 'done', { operationId: h.operationId, bdm: h.bdm });
      }
    } catch (e) {
      await queue.update(t.id, 'failed', undefined, toHitchError(e)).catch((err: unknown) => this.#o.onError?.(err));
    }
  }
}
