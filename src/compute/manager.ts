/**
 * The compute manager of one compute host (nova-compute's role): it owns the servers placed on
 * its host and runs their attach and detach flows with the host's initiator and hypervisor. The
 * concerns it puts together each have their own file: the instance locks
 * (`instance-locks.ts`), the journal of operations and their traces (`operation-journal.ts`,
 * `span-saver.ts`), crash recovery and what it hands the reaper (`recovery.ts`), and the reaper
 * that runs after every operation and after recovery (`reaper.ts`). Background work — the flows
 * after the API answered, trace saves, reap passes — is tracked so `drain()` can wait for it.
 */
import { HitchError, ref, toHitchError } from '../errors.ts';
import type { ConnectionInfo } from '../ports/attach.ts';
import type { Clock } from '../ports/host.ts';
import type { DomainSpec } from '../ports/hypervisor.ts';
import type { Trace } from '../trace/span.ts';
import { reserveAttach, runAttach, type FlowContext } from './attach-flow.ts';
import { runDetach } from './detach-flow.ts';
import { runExtend } from './extend-flow.ts';
import { InstanceLocks } from './instance-locks.ts';
import { connectionsOf } from './mapping-data.ts';
import { OperationJournal, type JournalOptions, type OperationMeta } from './operation-journal.ts';
import { Reaper, type ReapRecord } from './reaper.ts';
import { interruptedConnections, recoverOperation, type RecoveryCause, type RecoveryOutcome } from './recovery.ts';
import type { BdmRow, ComputeRepository, ServerRow } from './repository.ts';
import type { BootDevice } from './server-request.ts';

export { REAP_RETRY_MS, type ReapRecord } from './reaper.ts';
export { SPAN_PROGRESS_MS } from './span-saver.ts';
export type { OperationInfo } from './operation-journal.ts';

/**
 * Pauses before each try of a pending compensation (see `#compensate`), the last repeated for as
 * long as it takes: a full disk or a locked database usually clears within minutes.
 */
export const COMPENSATE_RETRY_MS = [1_000, 2_000, 5_000, 10_000, 30_000, 60_000] as const;

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
  readonly onStep?: JournalOptions['onStep'];
  /** Observe finished operations (metrics). */
  readonly onFinished?: JournalOptions['onFinished'];
}

export class ComputeManager {
  readonly hostName: string;
  readonly #opts: ComputeManagerOptions;
  readonly #locks = new InstanceLocks();
  readonly #journal: OperationJournal;
  readonly #reaper: Reaper;
  readonly #pending = new Set<Promise<void>>();
  /** Aborted by `stopReaping()`: pending compensations stop retrying (the journal keeps them). */
  readonly #stop = new AbortController();

  constructor(opts: ComputeManagerOptions) {
    this.hostName = opts.hostName;
    this.#opts = opts;
    const track = (p: Promise<void>): Promise<void> => this.#track(p);
    this.#reaper = new Reaper({ clock: opts.clock, connector: opts.flow.connector, needed: () => this.#neededConnections(), track });
    this.#journal = new OperationJournal({
      hostName: opts.hostName,
      clock: opts.clock,
      repo: opts.repo,
      track,
      afterFinish: () => this.#reaper.request(),
      compensate: (opId, serverId, cause) => this.#compensate(opId, serverId, cause),
      ...(opts.onStep ? { onStep: opts.onStep } : {}),
      ...(opts.onFinished ? { onFinished: opts.onFinished } : {}),
    });
  }

  get hypervisor(): FlowContext['hypervisor'] {
    return this.#opts.flow.hypervisor;
  }

  /** The last reap pass that did or tried something (for tests and inspection). */
  get lastReap(): ReapRecord | null {
    return this.#reaper.last;
  }

  /** The live trace of an operation still running in this process, if any. */
  liveTrace(operationId: string): Trace | undefined {
    return this.#journal.liveTrace(operationId);
  }

  /** A server of this host by id (deleted or not), for work that arrives by id. */
  server(id: string): Promise<ServerRow | undefined> {
    return this.#opts.repo.getServerAny(id);
  }

  /**
   * Drive this host's unfinished operations (left by a crash) to a consistent end. Run once at
   * start, before the manager takes new work.
   */
  async recover(): Promise<RecoveryOutcome[]> {
    const { repo, clock } = this.#opts;
    const ctx: FlowContext = { ...this.#opts.flow, repo, clock };
    return this.#locks.recovery(this.hostName, async () => {
      const adopt = await interruptedConnections(repo, this.hostName);
      const out: RecoveryOutcome[] = [];
      for (const op of await repo.listUnfinished(this.hostName)) {
        const r = await recoverOperation(ctx, op, clock);
        // Recovery could not write its end (the disk still full, the database still locked):
        // the journal keeps the operation, and it is tried again with back-off.
        if (r.error !== undefined) this.#compensate(op.id, op.server_id, { kind: 'restart' });
        out.push(r);
      }
      this.#reaper.adopt(adopt);
      this.#reaper.request();
      return out;
    });
  }

  /** Ask for a reap pass (`reaper.ts`). */
  requestReap(): void {
    this.#reaper.request();
  }

  /**
   * An operation whose undo could not all happen (or whose end could not be written) stays
   * unfinished in the journal; drive it to its end with recovery, under its instance lock,
   * retried after COMPENSATE_RETRY_MS pauses until recovery succeeds. Stopped by `stopReaping()`:
   * the journal still holds the operation, and the next start's recovery takes it up.
   */
  #compensate(opId: string, serverId: string, cause: RecoveryCause): void {
    if (this.#stop.signal.aborted) return;
    const { repo, clock } = this.#opts;
    const ctx: FlowContext = { ...this.#opts.flow, repo, clock };
    void this.#track(
      (async () => {
        for (let attempt = 0; ; attempt++) {
          const pause = COMPENSATE_RETRY_MS[Math.min(attempt, COMPENSATE_RETRY_MS.length - 1)] ?? 60_000;
          try {
            await clock.sleep(pause, this.#stop.signal);
          } catch {
            return;
          }
          const ended = await this.#locks
            .with(serverId, async () => {
              const op = await repo.getOperation(opId);
              if (!op || op.state !== 'running') return true;
              return (await recoverOperation(ctx, op, clock, cause)).error === undefined;
            })
            .catch(() => false);
          if (ended) {
            this.#reaper.request();
            return;
          }
        }
      })(),
    );
  }

  /**
   * Stop reaping (before a graceful shutdown's `drain()`): a pass in progress finishes, no retry
   * waits out its pause, no new pass starts; pending compensations stop retrying (the journal
   * keeps them for the next start).
   */
  stopReaping(): void {
    this.#reaper.stop();
    this.#stop.abort();
  }

  /**
   * A stop that will not wait any longer: write the trace of every operation still running (its
   * journal row already names the step it reached) for the next start's recovery. Returns how
   * many there are.
   */
  journalInFlight(): Promise<number> {
    return this.#journal.saveInFlight();
  }

  /** The connection_info of every mapping of this host's servers, attached or in flight. */
  async #neededConnections(): Promise<ConnectionInfo[]> {
    const { repo } = this.#opts;
    const out: ConnectionInfo[] = [];
    for (const server of await repo.listServers(undefined, this.hostName)) out.push(...connectionsOf(await repo.listBdms(server.id)));
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
  spawn(server: ServerRow, spec: DomainSpec, meta?: OperationMeta): Promise<void> {
    const { repo, flow } = this.#opts;
    return this.#track(
      (async () => {
        try {
          const boots = (server.block_devices ? (JSON.parse(server.block_devices) as BootDevice[]) : []).length > 0;
          await this.#locks.with(server.id, () => flow.hypervisor.defineAndStart(spec, { start: !boots }));
          await this.#attachBootVolumes(server, meta ?? { requestId: `req-${server.id}`, projectId: server.project_id, userId: server.user_id });
          // The definition holds the volumes now: start it (an existing definition is kept).
          if (boots) await this.#locks.with(server.id, () => flow.hypervisor.defineAndStart(spec));
          await repo.setServerStatus(server.id, 'ACTIVE');
        } catch (e) {
          const err = toHitchError(e);
          await repo.setServerStatus(server.id, 'ERROR');
          await repo.setServerFault(server.id, { code: 500, message: `Build of instance ${server.id} aborted: ${err.message}` });
          throw e;
        }
      })(),
    );
  }

  async #attachBootVolumes(server: ServerRow, meta: OperationMeta): Promise<void> {
    const { repo } = this.#opts;
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
      await repo.updateBdm(h.bdm.id, {
        boot_index: d.bootIndex,
        delete_on_termination: d.deleteOnTermination ? 1 : 0,
        source_type: d.sourceType,
        ...(d.tag !== null ? { tag: d.tag } : {}),
      });
      await h.done;
      const op = await repo.getOperation(h.operationId);
      if (op?.state !== 'done') {
        throw new HitchError('HITCH_INVALID_VOLUME', { reason: op?.error_message ?? 'attach failed' }, {
          message: `volume ${volumeId} did not attach as ${d.deviceName}: ${op?.error_message ?? 'the attach failed'}`,
        });
      }
    }
  }

  /** Destroy the server's domain; its volumes must have been detached first. */
  async destroy(server: ServerRow): Promise<void> {
    const { hypervisor } = this.#opts.flow;
    await this.#locks.with(server.id, async () => {
      await hypervisor.destroy(server.domain_name);
      await hypervisor.undefine(server.domain_name);
    });
  }

  /**
   * Attach: reserve now (the API answers with the device once this returns), run steps 2–9 in
   * the background. `done` settles when the attach has completed or been rolled back.
   */
  async attach(server: ServerRow, volumeId: string, device: string | null, meta: OperationMeta, opts: { readonly bootDevice?: string } = {}): Promise<OperationHandle> {
    const op = await this.#journal.begin('attach', server, volumeId, null, meta, 'reserve');
    const ctx = this.#flowContext(op.onStep);
    const root = op.trace.root();
    let bdm: BdmRow;
    try {
      bdm = await this.#locks.with(server.id, () => reserveAttach(ctx, server, volumeId, device, root, opts));
    } catch (e) {
      await this.#journal.finish(op, e).catch(() => undefined);
      throw e;
    }
    op.mapping(bdm.id);
    const done = this.#track(
      (async () => {
        const failure = await this.#locks.held(server.id, root, () => runAttach(ctx, server, bdm, root, opts)).then(
          () => undefined,
          (e: unknown) => e ?? new Error('attach failed'),
        );
        // An end that cannot be written is left to recovery (the journal schedules it).
        await this.#journal.finish(op, failure).catch(() => undefined);
      })(),
    );
    return { operationId: op.opId, bdm, done };
  }

  /** Detach: check the mapping now, run the flow in the background. */
  async detach(server: ServerRow, volumeId: string, meta: OperationMeta): Promise<OperationHandle> {
    const { repo } = this.#opts;
    const bdm = await repo.getBdm(server.id, volumeId);
    if (!bdm) throw new HitchError('HITCH_VOLUME_NOT_ATTACHED', { volume: volumeId, server: server.id });
    if (bdm.status !== 'attached') {
      throw new HitchError('HITCH_INSTANCE_INVALID_STATE', { action: 'detach_volume', server: ref(server), serverArg: server.name, state: `volume mapping ${bdm.status}` }, {
        message: `Volume ${volumeId} is ${bdm.status} on server ${server.id}; try again when it is attached.`,
      });
    }
    const op = await this.#journal.begin('detach', server, volumeId, bdm.id, meta);
    const ctx = this.#flowContext(op.onStep);
    const root = op.trace.root();
    const done = this.#track(
      (async () => {
        const failure = await this.#locks
          .held(server.id, root, async () => {
            // Re-read under the lock: an earlier operation may have changed the mapping.
            const current = await repo.getBdm(server.id, volumeId);
            if (!current || current.status !== 'attached') {
              throw new HitchError('HITCH_VOLUME_NOT_ATTACHED', { volume: volumeId, server: server.id });
            }
            await runDetach(ctx, server, current, root);
          })
          .then(
            () => undefined,
            (e: unknown) => e ?? new Error('detach failed'),
          );
        await this.#journal.finish(op, failure).catch(() => undefined);
      })(),
    );
    return { operationId: op.opId, bdm, done };
  }

  /**
   * Online extend (a `volume-extended` event): the host and the guest see the volume's new size.
   * The mapping must be attached; the flow runs in the background under the instance lock. A
   * failure puts the volume in `error_extending` (extend-flow.ts).
   */
  async extend(server: ServerRow, volumeId: string, meta: OperationMeta): Promise<OperationHandle> {
    const { repo } = this.#opts;
    const bdm = await repo.getBdm(server.id, volumeId);
    if (!bdm) throw new HitchError('HITCH_VOLUME_NOT_ATTACHED', { volume: volumeId, server: server.id });
    const op = await this.#journal.begin('extend', server, volumeId, bdm.id, meta);
    const ctx = this.#flowContext(op.onStep);
    const root = op.trace.root();
    const done = this.#track(
      (async () => {
        try {
          await this.#locks.held(server.id, root, async () => {
            const current = await repo.getBdm(server.id, volumeId);
            if (!current || current.status !== 'attached') throw new HitchError('HITCH_VOLUME_NOT_ATTACHED', { volume: volumeId, server: server.id });
            const r = await runExtend(ctx, server, current, root);
            root.set({ size_bytes: r.sizeBytes });
          });
          await this.#journal.finish(op);
        } catch (e) {
          await root.run('extend-failed', {}, (s) => ctx.storage.extendFailed(volumeId, s)).catch(() => undefined);
          await this.#journal.finish(op, e);
        }
      })(),
    );
    return { operationId: op.opId, bdm, done };
  }

  #flowContext(onStep: (step: string) => Promise<void>): FlowContext {
    return { ...this.#opts.flow, repo: this.#opts.repo, clock: this.#opts.clock, onStep };
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
