/**
 * The compute manager of one compute host (nova-compute's role): it owns the servers placed on
 * its host, holds their instance locks, runs the attach and detach flows with the host's
 * initiator and hypervisor, and records each operation and its trace.
 *
 * Locks are per instance (Nova's `nova-<uuid>`): attaches to different servers run at once;
 * operations on one server queue. The reserve (step 1) and the attach (steps 2–9) take the
 * lock separately, as Nova does, so a second attach to the same server can reserve its device
 * name while the first is still connecting.
 *
 * After every operation, and on start after recovery, the manager asks the host's initiator to
 * reap: to remove node records, sessions and devices that a cleanup could not (a logout that
 * hung, a disk that appeared after the connect gave up) for targets no mapping on this host
 * needs. A pass that leaves something is retried on the host's clock with growing pauses, in
 * the background (`drain()` waits for it); a pass with nothing to do runs no command.
 */
import { HitchError, ref, toHitchError } from '../errors.ts';
import type { Clock } from '../ports/host.ts';
import { KeyedLocks } from '../brick/locks.ts';
import { Trace, type Span } from '../trace/span.ts';
import type { DomainSpec } from '../ports/hypervisor.ts';
import { reserveAttach, runAttach, type FlowContext } from './attach-flow.ts';
import { runDetach } from './detach-flow.ts';
import { runExtend } from './extend-flow.ts';
import { recoverHost, type RecoveryOutcome } from './recovery.ts';
import type { RequestMeta } from './dispatch.ts';
import type { ConnectionInfo } from '../ports/attach.ts';
import { connectionsOf } from './mapping-data.ts';
import type { BdmRow, ComputeRepository, ServerRow } from './repository.ts';
import type { BootDevice } from './server-request.ts';

/**
 * Pauses between reap passes that left something behind (≈ 8 min in all): a hung iscsiadm or an
 * unreachable portal usually comes back within minutes; after that the next operation (or the
 * next start) tries again.
 */
export const REAP_RETRY_MS = [5_000, 15_000, 30_000, 60_000, 120_000, 240_000] as const;

export interface ReapRecord {
  readonly atMs: number;
  readonly reaped: readonly string[];
  readonly failures: readonly string[];
  readonly trace: Trace;
}

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
  /** Observe step starts (crash-test hooks, metrics, logs). */
  readonly onStep?: (op: OperationInfo, step: string) => Promise<void> | void;
  /** Observe finished operations (metrics, logs). */
  readonly onFinished?: (op: OperationInfo & { outcome: string; durationMs: number; trace: Trace }) => void;
}

/** What observers (metrics, logs) learn of an operation: who asked, for what, on which host. */
export interface OperationInfo {
  readonly id: string;
  readonly kind: string;
  readonly serverId: string;
  readonly serverName: string;
  readonly volumeId: string;
  /** The API request that asked for it (`req-…`): the id a grep follows end to end. */
  readonly requestId: string;
  readonly projectId: string;
  /** Who asked, when the request carried it. */
  readonly userId: string | null;
  readonly host: string;
}

interface Inflight {
  readonly trace: Trace;
  readonly info: OperationInfo;
}

/**
 * How long (on the host's clock) an operation runs before its spans are written while it is still
 * running. The journal (the step column, the mapping) is written before every step whatever this
 * says; the spans are the trace, for people and for other processes' `explain`. An operation that
 * takes less than this has its trace written once, when it ends: one statement instead of one
 * per step. A long one (a slow login, a guest slow to release a disk) shows its progress
 * to other processes at most this late, at the next step or the next top-level span end.
 */
export const SPAN_PROGRESS_MS = 500;

/**
 * Saves of one operation's trace, one at a time (two overlapping upserts of one row would
 * collide on PostgreSQL), and only when something a reader would see changed: a span started
 * or ended since the last save. Each save writes the whole trace as it is when the save runs.
 */
class SpanSaver {
  #chain: Promise<void> = Promise.resolve();
  /** Spans and ended spans in the last save (-1: nothing saved yet). */
  #savedSpans = -1;
  #savedEnded = -1;
  /** Host-clock time of the last save queued (or of the start). */
  #lastMs: number;
  constructor(
    readonly opId: string,
    readonly trace: Trace,
    readonly repo: ComputeRepository,
  ) {
    this.#lastMs = trace.clock.now();
  }
  /** Queue a save after the ones already queued; resolves when it is done (or failed). */
  next(): Promise<void> {
    this.#lastMs = this.trace.clock.now();
    this.#chain = this.#chain.then(() => this.#save()).catch(() => undefined);
    return this.#chain;
  }
  /** Queue a save when SPAN_PROGRESS_MS have passed since the last; else nothing. */
  progress(): Promise<void> | null {
    return this.trace.clock.now() - this.#lastMs >= SPAN_PROGRESS_MS ? this.next() : null;
  }
  async #save(): Promise<void> {
    const spans = this.trace.spans;
    let ended = 0;
    for (const s of spans) if (s.endMs !== null) ended++;
    if (spans.length === this.#savedSpans && ended === this.#savedEnded) return;
    // Counted as they were when written: a span that ends while the statement is on its way is
    // written again next time (never the other way round).
    const count = spans.length;
    await this.repo.saveSpans(this.opId, spans);
    this.#savedSpans = count;
    this.#savedEnded = ended;
  }
}

export class ComputeManager {
  readonly hostName: string;
  readonly #opts: ComputeManagerOptions;
  readonly #locks = new KeyedLocks();
  readonly #inflight = new Map<string, Inflight>();
  readonly #savers = new Map<string, SpanSaver>();
  readonly #pending = new Set<Promise<void>>();
  #reapWanted = false;
  #reaping = false;
  #adopt: ConnectionInfo[] = [];
  /** Aborted by `stopReaping()`: a shutdown must not wait out minutes of reap retries. */
  readonly #reapStop = new AbortController();
  /** The last reap pass that did or tried something (for tests and inspection). */
  lastReap: ReapRecord | null = null;

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
    return this.#locks.with([`recover-${this.hostName}`], async () => {
      // What the interrupted operations may have connected: this process's initiator knows
      // nothing of it, so the reaper adopts it once recovery has decided what stays.
      const bdms: BdmRow[] = [];
      for (const op of await this.repo.listUnfinished(this.hostName)) {
        const bdm = op.bdm_id ? await this.repo.getBdmById(op.bdm_id) : await this.repo.getBdm(op.server_id, op.volume_id);
        if (bdm) bdms.push(bdm);
      }
      const adopt = connectionsOf(bdms);
      const out = await recoverHost(ctx, this.hostName, this.#opts.clock);
      this.#adopt.push(...adopt);
      this.requestReap();
      return out;
    });
  }

  /**
   * Ask for a reap pass (see the note at the top). Passes never overlap: a request while one
   * runs makes another run after it, with a fresh view of the mappings.
   */
  requestReap(): void {
    if (this.#reapStop.signal.aborted) return;
    this.#reapWanted = true;
    if (this.#reaping) return;
    this.#reaping = true;
    void this.#track(
      (async () => {
        try {
          while (this.#reapWanted) {
            this.#reapWanted = false;
            await this.#reapUntilClean();
          }
        } finally {
          this.#reaping = false;
        }
      })(),
    );
  }

  async #reapUntilClean(): Promise<void> {
    const connector = this.#opts.flow.connector;
    for (let attempt = 0; ; attempt++) {
      const trace = new Trace(this.#opts.clock);
      const adopt = this.#adopt.splice(0);
      let failures: readonly string[];
      let pending: readonly string[] = [];
      try {
        const r = await connector.reap(trace.root(), { keep: () => this.#neededConnections(), adopt });
        failures = r.failures;
        pending = r.pending;
        if (r.reaped.length > 0 || r.failures.length > 0) this.lastReap = { atMs: this.#opts.clock.now(), reaped: r.reaped, failures: r.failures, trace };
      } catch (e) {
        // Adopted targets are owned by the initiator now; only the pass itself failed.
        failures = [toHitchError(e).message];
        this.lastReap = { atMs: this.#opts.clock.now(), reaped: [], failures, trace };
      }
      // A login iscsid may still complete is watched until its window has passed.
      if (failures.length === 0 && pending.length === 0) return;
      const pause = REAP_RETRY_MS[attempt];
      if (pause === undefined || this.#reapStop.signal.aborted) return;
      try {
        await this.#opts.clock.sleep(pause, this.#reapStop.signal);
      } catch {
        return; // stopped: the next start's reap picks up what is left, if recovery adopts it
      }
    }
  }

  /**
   * Stop reaping (before a graceful shutdown's `drain()`): a pass in progress finishes, no retry
   * waits out its pause, no new pass starts.
   */
  stopReaping(): void {
    this.#reapStop.abort();
  }

  /** The connection_info of every mapping of this host's servers, attached or in flight. */
  async #neededConnections(): Promise<ConnectionInfo[]> {
    const out: ConnectionInfo[] = [];
    for (const server of await this.repo.listServers(undefined, this.hostName)) out.push(...connectionsOf(await this.repo.listBdms(server.id)));
    return out;
  }

  /** Wait for every operation in flight (graceful shutdown, tests). */
  async drain(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  /**
   * Create the server's domain on this host's hypervisor, attach the volumes it was asked to
   * boot with (each an attach operation with the create request's id: journal, trace, rollback),
   * and mark it ACTIVE. A volume that does not attach puts the server in ERROR with Nova's fault;
   * the volumes attached before it stay mapped until the server is deleted.
   *
   * As Nova's spawn: with volumes to boot from, the domain is defined and left off, each volume
   * is connected and put into the definition (the attach flow, its plug persistent only), and
   * the domain's first start opens them — the guest boots from its volume. Without, the domain
   * is defined and started at once.
   */
  spawn(server: ServerRow, spec: DomainSpec, meta?: RequestMeta): Promise<void> {
    return this.#track(
      (async () => {
        try {
          const boots = (server.block_devices ? (JSON.parse(server.block_devices) as BootDevice[]) : []).length > 0;
          await this.#locks.with([`nova-${server.id}`], () => this.#opts.flow.hypervisor.defineAndStart(spec, { start: !boots }));
          await this.#attachBootVolumes(server, meta ?? { requestId: `req-${server.id}`, projectId: server.project_id, userId: server.user_id });
          // The definition holds the volumes now: start it (an existing definition is kept).
          if (boots) await this.#locks.with([`nova-${server.id}`], () => this.#opts.flow.hypervisor.defineAndStart(spec));
          await this.repo.setServerStatus(server.id, 'ACTIVE');
        } catch (e) {
          const err = toHitchError(e);
          await this.repo.setServerStatus(server.id, 'ERROR');
          await this.repo.setServerFault(server.id, { code: 500, message: `Build of instance ${server.id} aborted: ${err.message}` });
          throw e;
        }
      })(),
    );
  }

  async #attachBootVolumes(server: ServerRow, meta: RequestMeta): Promise<void> {
    const devices = server.block_devices ? (JSON.parse(server.block_devices) as BootDevice[]) : [];
    const ordered = [...devices].sort((a, b) => (a.bootIndex ?? 1e9) - (b.bootIndex ?? 1e9));
    for (const d of ordered) {
      if (d.sourceType !== 'volume' || d.uuid === null) {
        // Hitch's block storage makes no volume from an image or a snapshot, and compute does
        // not create blank ones yet: Nova's build fails the same way when Cinder cannot.
        throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: `source_type ${d.sourceType}` }, {
          message: `Block Device Mapping is Invalid: this cloud cannot create a volume from source_type ${d.sourceType}; boot from an existing volume (source_type volume).`,
        });
      }
      const volumeId = d.uuid.toLowerCase();
      const h = await this.attach(server, volumeId, null, meta, { bootDevice: d.deviceName });
      await this.repo.updateBdm(h.bdm.id, {
        boot_index: d.bootIndex,
        delete_on_termination: d.deleteOnTermination ? 1 : 0,
        source_type: d.sourceType,
        ...(d.tag !== null ? { tag: d.tag } : {}),
      });
      await h.done;
      const op = await this.repo.getOperation(h.operationId);
      if (op?.state !== 'done') {
        throw new HitchError('HITCH_INVALID_VOLUME', { reason: op?.error_message ?? 'attach failed' }, {
          message: `volume ${volumeId} did not attach as ${d.deviceName}: ${op?.error_message ?? 'the attach failed'}`,
        });
      }
    }
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
  async attach(server: ServerRow, volumeId: string, device: string | null, meta: RequestMeta, opts: { readonly bootDevice?: string } = {}): Promise<OperationHandle> {
    const { opId, trace, ctx, journal, info } = await this.#begin('attach', server, volumeId, null, meta, 'reserve');
    const root = trace.root();
    let bdm: BdmRow;
    try {
      bdm = await this.#locks.with([`nova-${server.id}`], () => reserveAttach(ctx, server, volumeId, device, root, opts));
    } catch (e) {
      await this.#finish(info, trace, e);
      throw e;
    }
    // The mapping's id reaches the journal with the next step's write (recovery finds the mapping
    // by server and volume until then).
    journal.bdmId = bdm.id;
    const done = this.#track(
      (async () => {
        try {
          await this.#withInstanceLock(server, root, () => runAttach(ctx, server, bdm, root, opts));
          await this.#finish(info, trace);
        } catch (e) {
          await this.#finish(info, trace, e);
        }
      })(),
    );
    return { operationId: opId, bdm, done };
  }

  /** Detach: check the mapping now, run the flow in the background. */
  async detach(server: ServerRow, volumeId: string, meta: RequestMeta): Promise<OperationHandle> {
    const bdm = await this.repo.getBdm(server.id, volumeId);
    if (!bdm) throw new HitchError('HITCH_VOLUME_NOT_ATTACHED', { volume: volumeId, server: server.id });
    if (bdm.status !== 'attached') {
      throw new HitchError('HITCH_INSTANCE_INVALID_STATE', { action: 'detach_volume', server: ref(server), serverArg: server.name, state: `volume mapping ${bdm.status}` }, {
        message: `Volume ${volumeId} is ${bdm.status} on server ${server.id}; try again when it is attached.`,
      });
    }
    const { opId, trace, ctx, info } = await this.#begin('detach', server, volumeId, bdm.id, meta);
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
          await this.#finish(info, trace);
        } catch (e) {
          await this.#finish(info, trace, e);
        }
      })(),
    );
    return { operationId: opId, bdm, done };
  }

  /**
   * Online extend (a `volume-extended` event): the host and the guest see the volume's new size.
   * The mapping must be attached; the flow runs in the background under the instance lock. A
   * failure puts the volume in `error_extending` (extend-flow.ts).
   */
  async extend(server: ServerRow, volumeId: string, meta: RequestMeta): Promise<OperationHandle> {
    const bdm = await this.repo.getBdm(server.id, volumeId);
    if (!bdm) throw new HitchError('HITCH_VOLUME_NOT_ATTACHED', { volume: volumeId, server: server.id });
    const { opId, trace, ctx, info } = await this.#begin('extend', server, volumeId, bdm.id, meta);
    const root = trace.root();
    const done = this.#track(
      (async () => {
        try {
          await this.#withInstanceLock(server, root, async () => {
            const current = await this.repo.getBdm(server.id, volumeId);
            if (!current || current.status !== 'attached') throw new HitchError('HITCH_VOLUME_NOT_ATTACHED', { volume: volumeId, server: server.id });
            const r = await runExtend(ctx, server, current, root);
            root.set({ size_bytes: r.sizeBytes });
          });
          await this.#finish(info, trace);
        } catch (e) {
          await root.run('extend-failed', {}, (s) => ctx.storage.extendFailed(volumeId, s)).catch(() => undefined);
          await this.#finish(info, trace, e);
        }
      })(),
    );
    return { operationId: opId, bdm, done };
  }

  /**
   * Record a new operation (the journal row) and build its flow context. `firstStep`: the step
   * the flow starts with when nothing can come between this and it (the attach's reserve), so
   * the row is inserted with it and its step write is not repeated.
   */
  async #begin(kind: string, server: ServerRow, volumeId: string, bdmId: string | null, meta: RequestMeta, firstStep: string | null = null) {
    const opId = crypto.randomUUID();
    const trace = new Trace(this.#opts.clock);
    const info: OperationInfo = { id: opId, kind, serverId: server.id, serverName: server.name, volumeId, requestId: meta.requestId, projectId: meta.projectId, userId: meta.userId ?? null, host: this.hostName };
    this.#inflight.set(opId, { trace, info });
    await this.repo.insertOperation({
      id: opId,
      kind,
      server_id: server.id,
      volume_id: volumeId,
      bdm_id: bdmId,
      project_id: meta.projectId,
      request_id: meta.requestId,
      user_id: meta.userId ?? null,
      state: 'running',
      step: firstStep,
      error_code: null,
      error_message: null,
      started_ms: this.#opts.clock.now(),
      ended_ms: null,
    });
    // The trace is written when the operation ends, and while it runs only once it has run a
    // while (SPAN_PROGRESS_MS): at a step start or a top-level span end. After the end, any span
    // that ends is saved at once: background work (a dead portal's login failing after the volume
    // was already usable) still belongs to this operation's trace.
    const saver = new SpanSaver(opId, trace, this.repo);
    this.#savers.set(opId, saver);
    const journal: { bdmId: string | null; written: string | null } = { bdmId: null, written: firstStep };
    const ctx: FlowContext = {
      ...this.#opts.flow,
      repo: this.repo,
      clock: this.#opts.clock,
      onStep: async (step) => {
        // The journal first: crash recovery reads it. A mapping id not yet written goes with it.
        const bdm = journal.bdmId;
        journal.bdmId = null;
        const already = journal.written === step && bdm === null;
        journal.written = null;
        if (!already) await this.repo.setOperationStep(opId, step, bdm);
        const p = saver.progress();
        if (p) this.#track(p);
        await this.#opts.onStep?.(info, step);
      },
    };
    trace.subscribe((e) => {
      if (e.kind !== 'end') return;
      if (!this.#inflight.has(opId)) this.#track(saver.next());
      else if (e.span.parentId === null) {
        const p = saver.progress();
        if (p) this.#track(p);
      }
      this.#forgetIfQuiet(opId, trace);
    });
    return { opId, trace, ctx, journal, info };
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

  async #finish(info: OperationInfo, trace: Trace, e?: unknown): Promise<void> {
    const opId = info.id;
    const now = this.#opts.clock.now();
    const err = e === undefined ? undefined : toHitchError(e);
    const state = err === undefined ? 'done' : 'rolled_back';
    await (this.#savers.get(opId)?.next() ?? this.repo.saveSpans(opId, trace.spans));
    await this.repo.finishOperation(opId, state, now, err && { code: err.code, message: err.message });
    this.#inflight.delete(opId);
    this.#forgetIfQuiet(opId, trace);
    this.requestReap();
    const first = trace.spans[0];
    this.#opts.onFinished?.({ ...info, outcome: state, durationMs: first ? now - first.startMs : 0, trace });
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
