/**
 * The compute manager of one compute host (nova-compute's role): it owns the servers placed on
 * its host, holds their instance locks, runs the attach and detach flows with the host's
 * initiator and hypervisor, and records each operation and its trace.
 *
 * Locks are per instance (Nova's `nova-<uuid>`): attaches to different servers run at once;
 * operations on one server queue. The reserve (step 1) and the attach (steps 2–9) take the
 * lock separately, as Nova does, so a second attach to the same server can reserve its device
 * name while the first is still connecting.
 */
import { HitchError, toHitchError } from '../errors.ts';
import type { Clock } from '../host/host.ts';
import { KeyedLocks } from '../brick/locks.ts';
import { Trace, type Span } from '../trace/span.ts';
import type { DomainSpec } from '../virt/domain-xml.ts';
import { reserveAttach, runAttach, type FlowContext } from './attach-flow.ts';
import { runDetach } from './detach-flow.ts';
import { recoverHost, type RecoveryOutcome } from './recovery.ts';
import type { BdmRow, ComputeRepository, ServerRow } from './repository.ts';

export interface OperationHandle {
  readonly operationId: string;
  readonly bdm: BdmRow;
  /** Settles when the operation has finished (resolves even on failure: see the record). */
  readonly done: Promise<void>;
}

export interface ComputeManagerOptions {
  readonly hostName: string;
  readonly clock: Clock;
  readonly repo: ComputeRepository;
  /**
   * What the flows run on. The storage protocol acts with the compute service's own credentials
   * (not the caller's token), so background steps and crash recovery never hold an expired token.
   */
  readonly flow: Omit<FlowContext, 'repo' | 'onStep' | 'clock'>;
  /** Observe step starts (crash-test hooks, metrics). */
  readonly onStep?: (op: { id: string; kind: string }, step: string) => Promise<void> | void;
  /** Observe finished operations (metrics). */
  readonly onFinished?: (op: { id: string; kind: string; outcome: string; durationMs: number; trace: Trace }) => void;
}

interface Inflight {
  readonly trace: Trace;
  readonly kind: string;
}

/**
 * Saves of one operation's spans, one at a time: each save replaces the operation's rows, and
 * two overlapping replacements of the same rows would collide on PostgreSQL.
 */
class SpanSaver {
  #chain: Promise<void> = Promise.resolve();
  constructor(
    readonly save: () => Promise<void>,
  ) {}
  /** Queue a save after the ones already queued; resolves when it is done (or failed). */
  next(): Promise<void> {
    this.#chain = this.#chain.then(this.save).catch(() => undefined);
    return this.#chain;
  }
}

export class ComputeManager {
  readonly hostName: string;
  readonly #opts: ComputeManagerOptions;
  readonly #locks = new KeyedLocks();
  readonly #inflight = new Map<string, Inflight>();
  readonly #savers = new Map<string, SpanSaver>();
  readonly #pending = new Set<Promise<void>>();

  constructor(opts: ComputeManagerOptions) {
    this.hostName = opts.hostName;
    this.#opts = opts;
  }

  get repo(): ComputeRepository {
    return this.#opts.repo;
  }

  get hypervisor(): FlowContext['hypervisor'] {
    return this.#opts.flow.hypervisor;
  }

  /** The live trace of an operation still running in this process, if any. */
  liveTrace(operationId: string): Trace | undefined {
    return this.#inflight.get(operationId)?.trace;
  }

  /**
   * Drive this host's unfinished operations (left by a crash) to a consistent end. Run once at
   * start, before the manager takes new work.
   */
  async recover(): Promise<RecoveryOutcome[]> {
    const ctx: FlowContext = { ...this.#opts.flow, repo: this.repo, clock: this.#opts.clock };
    return this.#locks.with([`recover-${this.hostName}`], () => recoverHost(ctx, this.hostName, this.#opts.clock));
  }

  /** Wait for every operation in flight (graceful shutdown, tests). */
  async drain(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  /** Create the server's domain on this host's hypervisor and mark it ACTIVE. */
  spawn(server: ServerRow, spec: DomainSpec): Promise<void> {
    return this.#track(this.#locks.with([`nova-${server.id}`], async () => {
      try {
        await this.#opts.flow.hypervisor.defineAndStart(spec);
        await this.repo.setServerStatus(server.id, 'ACTIVE');
      } catch (e) {
        await this.repo.setServerStatus(server.id, 'ERROR');
        throw e;
      }
    }));
  }

  /** Destroy the server's domain; its volumes must have been detached first. */
  async destroy(server: ServerRow): Promise<void> {
    await this.#locks.with([`nova-${server.id}`], async () => {
      await this.#opts.flow.hypervisor.destroy(server.domain_name);
      await this.#opts.flow.hypervisor.undefine(server.domain_name);
    });
  }

  /**
   * Attach: reserve now (the API answers with the device once this returns), run steps 2–9 in
   * the background. `done` settles when the attach has completed or been rolled back.
   */
  async attach(server: ServerRow, volumeId: string, device: string | null, meta: { requestId: string; projectId: string }): Promise<OperationHandle> {
    const { opId, trace, ctx } = await this.#begin('attach', server, volumeId, meta);
    const root = trace.root();
    let bdm: BdmRow;
    try {
      bdm = await this.#locks.with([`nova-${server.id}`], () => reserveAttach(ctx, server, volumeId, device, root));
    } catch (e) {
      await this.#finish(opId, 'attach', trace, e);
      throw e;
    }
    await this.repo.setOperationBdm(opId, bdm.id);
    const done = this.#track(
      (async () => {
        try {
          await this.#withInstanceLock(server, root, () => runAttach(ctx, server, bdm, root));
          await this.#finish(opId, 'attach', trace);
        } catch (e) {
          await this.#finish(opId, 'attach', trace, e);
        }
      })(),
    );
    return { operationId: opId, bdm, done };
  }

  /** Detach: check the mapping now, run the flow in the background. */
  async detach(server: ServerRow, volumeId: string, meta: { requestId: string; projectId: string }): Promise<OperationHandle> {
    const bdm = await this.repo.getBdm(server.id, volumeId);
    if (!bdm) throw new HitchError('HITCH_VOLUME_NOT_ATTACHED', { volume: volumeId, server: server.id });
    if (bdm.status !== 'attached') {
      throw new HitchError('HITCH_INSTANCE_INVALID_STATE', { action: 'detach_volume', id: server.id, state: `volume mapping ${bdm.status}` }, {
        message: `Volume ${volumeId} is ${bdm.status} on server ${server.id}; try again when it is attached.`,
      });
    }
    const { opId, trace, ctx } = await this.#begin('detach', server, volumeId, meta);
    await this.repo.setOperationBdm(opId, bdm.id);
    const root = trace.root();
    const done = this.#track(
      (async () => {
        try {
          await this.#withInstanceLock(server, root, async () => {
            // Re-read under the lock: an earlier operation may have changed the mapping.
            const current = await this.repo.getBdm(server.id, volumeId);
            if (!current || current.status !== 'attached') {
              throw new HitchError('HITCH_VOLUME_NOT_ATTACHED', { volume: volumeId, server: server.id });
            }
            await runDetach(ctx, server, current, root);
          });
          await this.#finish(opId, 'detach', trace);
        } catch (e) {
          await this.#finish(opId, 'detach', trace, e);
        }
      })(),
    );
    return { operationId: opId, bdm, done };
  }

  async #begin(kind: string, server: ServerRow, volumeId: string, meta: { requestId: string; projectId: string }) {
    const opId = crypto.randomUUID();
    const trace = new Trace(this.#opts.clock);
    this.#inflight.set(opId, { trace, kind });
    await this.repo.insertOperation({
      id: opId,
      kind,
      server_id: server.id,
      volume_id: volumeId,
      bdm_id: null,
      project_id: meta.projectId,
      request_id: meta.requestId,
      state: 'running',
      step: null,
      error_code: null,
      error_message: null,
      started_ms: this.#opts.clock.now(),
      ended_ms: null,
    });
    const ctx: FlowContext = {
      ...this.#opts.flow,
      repo: this.repo,
      clock: this.#opts.clock,
      onStep: async (step) => {
        await this.repo.setOperationStep(opId, step);
        await this.#opts.onStep?.({ id: opId, kind }, step);
      },
    };
    // Flush the trace at every top-level step end, so other processes see progress; and at any
    // span end after the operation finished: background work (a dead portal's login failing
    // after the volume was already usable) still belongs to this operation's trace.
    const saver = new SpanSaver(() => this.repo.saveSpans(opId, trace.spans));
    this.#savers.set(opId, saver);
    trace.subscribe((e) => {
      if (e.kind !== 'end') return;
      if (e.span.parentId === null || !this.#inflight.has(opId)) this.#track(saver.next());
      this.#forgetIfQuiet(opId, trace);
    });
    return { opId, trace, ctx };
  }

  async #withInstanceLock(server: ServerRow, root: Span, fn: () => Promise<void>): Promise<void> {
    const wait = root.start('lock-instance', { step: 2, lock: `nova-${server.id}` });
    const release = await this.#locks.acquire([`nova-${server.id}`]);
    wait.end('ok');
    try {
      await fn();
    } finally {
      release();
      root.event('unlock-instance', { step: 9, lock: `nova-${server.id}` });
    }
  }

  async #finish(opId: string, kind: string, trace: Trace, e?: unknown): Promise<void> {
    const now = this.#opts.clock.now();
    const err = e === undefined ? undefined : toHitchError(e);
    const state = err === undefined ? 'done' : 'rolled_back';
    await (this.#savers.get(opId)?.next() ?? this.repo.saveSpans(opId, trace.spans));
    await this.repo.finishOperation(opId, state, now, err && { code: err.code, message: err.message });
    this.#inflight.delete(opId);
    this.#forgetIfQuiet(opId, trace);
    const first = trace.spans[0];
    this.#opts.onFinished?.({ id: opId, kind, outcome: state, durationMs: first ? now - first.startMs : 0, trace });
  }

  /** Once an operation has finished and none of its spans still runs, nothing more will be saved. */
  #forgetIfQuiet(opId: string, trace: Trace): void {
    if (!this.#inflight.has(opId) && trace.spans.every((s) => s.endMs !== null)) this.#savers.delete(opId);
  }

  /** Remember `p` until it settles, so `drain()` waits for it. */
  #track(p: Promise<void>): Promise<void> {
    const settled = p.then(
      () => undefined,
      () => undefined,
    );
    this.#pending.add(settled);
    void settled.finally(() => this.#pending.delete(settled));
    return p;
  }
}
