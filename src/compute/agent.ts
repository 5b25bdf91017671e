/**
 * The agent of one compute host (nova-compute's process in scale-out): heartbeats, claims the
 * tasks queued for its host and runs them through its compute manager — several at once, since
 * the manager's instance locks order the ones that must not overlap.
 *
 * On start it first lets the manager recover the operations a previous agent left half done,
 * then marks that agent's claimed tasks as over: each operation runs once, to one end.
 */
import { toHitchError } from '../errors.ts';
import type { DomainSpec } from '../virt/domain-xml.ts';
import type { RequestMeta } from './dispatch.ts';
import type { ComputeManager } from './manager.ts';
import type { TaskQueue, TaskRow } from './queue.ts';

export interface AgentOptions {
  readonly queue: TaskQueue;
  readonly manager: ComputeManager;
  readonly agentId?: string;
  readonly heartbeatMs?: number;
  /** Idle poll interval for new tasks. */
  readonly pollMs?: number;
  /** Tasks run at once. */
  readonly concurrency?: number;
  readonly onError?: (e: unknown) => void;
}

export class ComputeAgent {
  readonly id: string;
  readonly #o: AgentOptions;
  readonly #running = new Set<Promise<void>>();
  #stopped = false;
  #timer: NodeJS.Timeout | null = null;
  #wake: (() => void) | null = null;
  #loop: Promise<void> | null = null;

  constructor(opts: AgentOptions) {
    this.#o = opts;
    this.id = opts.agentId ?? crypto.randomUUID();
  }

  get host(): string {
    return this.#o.manager.hostName;
  }

  async start(): Promise<void> {
    const { queue, manager } = this.#o;
    await manager.recover();
    await queue.abandon(this.host, this.id);
    await queue.heartbeat(this.host, this.id);
    this.#timer = setInterval(() => {
      void queue.heartbeat(this.host, this.id).catch((e: unknown) => this.#o.onError?.(e));
    }, this.#o.heartbeatMs ?? 3_000);
    this.#loop = this.#work();
  }

  /** Stop claiming, let the running tasks finish, sign off (the host shows down at once). */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#wake?.();
    await this.#loop;
    await Promise.allSettled([...this.#running]);
    this.#o.manager.stopReaping();
    await this.#o.manager.drain();
    await this.#o.queue.signOff(this.host, this.id);
  }

  async #work(): Promise<void> {
    const max = this.#o.concurrency ?? 64;
    while (!this.#stopped) {
      let claimed: TaskRow | undefined;
      if (this.#running.size < max) {
        try {
          claimed = await this.#o.queue.claim(this.host, this.id);
        } catch (e) {
          this.#o.onError?.(e);
        }
      }
      if (claimed) {
        const p = this.#run(claimed).finally(() => {
          this.#running.delete(p);
          this.#wake?.();
        });
        this.#running.add(p);
        continue;
      }
      await new Promise<void>((r) => {
        this.#wake = r;
        setTimeout(r, this.#o.pollMs ?? 25);
      });
    }
  }

  async #run(t: TaskRow): Promise<void> {
    const { queue, manager } = this.#o;
    const p = JSON.parse(t.payload) as { serverId: string; spec?: DomainSpec; volumeId?: string; device?: string | null; meta?: RequestMeta };
    try {
      const server = await manager.repo.getServerAny(p.serverId);
      if (!server) throw toHitchError(new Error(`server ${p.serverId} is not in the database`));
      if (t.kind === 'spawn') {
        await manager.spawn(server, p.spec as DomainSpec);
        await queue.update(t.id, 'done', {});
      } else if (t.kind === 'destroy') {
        await manager.destroy(server);
        await queue.update(t.id, 'done', {});
      } else {
        const meta = p.meta ?? { requestId: 'req-agent', projectId: server.project_id };
        const h =
          t.kind === 'attach'
            ? await manager.attach(server, p.volumeId as string, p.device ?? null, meta)
            : await manager.detach(server, p.volumeId as string, meta);
        await queue.update(t.id, 'reserved', { operationId: h.operationId, bdm: h.bdm });
        await h.done;
        await queue.update(t.id, 'done', { operationId: h.operationId, bdm: h.bdm });
      }
    } catch (e) {
      await queue.update(t.id, 'failed', undefined, toHitchError(e)).catch((err: unknown) => this.#o.onError?.(err));
    }
  }
}
