/**
 * The journal of one host's operations: the operation row, whose step is written before each
 * step begins (what crash recovery reads), the operation's trace (saved as it runs and after,
 * `span-saver.ts`), and the operations still running in this process, whose live traces other
 * readers in the process see.
 */
import { toHitchError } from '../errors.ts';
import type { Clock } from '../ports/host.ts';
import { Trace } from '../trace/span.ts';
import type { RecoveryCause } from './recovery.ts';
import type { ComputeRepository, ServerRow } from './repository.ts';
import { SpanSaver } from './span-saver.ts';
import { isPendingUndo } from './undo.ts';

/**
 * Who asked for an operation: the API request's id, project and user, as the dispatch carries
 * them to the host's manager (`dispatch.ts` re-exports it) and the journal records them.
 */
export interface RequestMeta {
  readonly requestId: string;
  readonly projectId: string;
  /** Who asked (the server's instance actions name them); absent in queued work from before it was carried. */
  readonly userId?: string;
}

export type OperationMeta = RequestMeta;

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

export interface JournalOptions {
  /** The compute host whose operations these are (`OperationInfo.host`). */
  readonly hostName: string;
  readonly clock: Clock;
  readonly repo: ComputeRepository;
  /** Keep a background save until it settles (the manager's `drain()` waits for it). */
  readonly track: (p: Promise<void>) => Promise<void>;
  /** Observe step starts (crash-test hooks, metrics, logs). */
  readonly onStep?: (op: OperationInfo, step: string) => Promise<void> | void;
  /** Observe finished operations (metrics, logs). */
  readonly onFinished?: (op: OperationInfo & { outcome: string; durationMs: number; trace: Trace }) => void;
  /** After an operation is recorded as finished (the reaper's cue). */
  readonly afterFinish: () => void;
  /**
   * An operation that cannot end yet (an undo still pending, or its end could not be written):
   * it stays running in the journal, and this drives it to its end with recovery, retried.
   */
  readonly compensate: (opId: string, serverId: string, cause: RecoveryCause) => void;
}

/** One operation being journaled. */
export interface JournalEntry {
  readonly opId: string;
  readonly kind: string;
  readonly info: OperationInfo;
  readonly trace: Trace;
  /** The flows' step hook: the journal write, a progress save of the trace, the observers. */
  readonly onStep: (step: string) => Promise<void>;
  /** The mapping's id, written with the next step (recovery finds the mapping by server and volume until then). */
  mapping(bdmId: string): void;
}

export class OperationJournal {
  readonly #o: JournalOptions;
  readonly #inflight = new Map<string, Trace>();
  readonly #savers = new Map<string, SpanSaver>();

  constructor(opts: JournalOptions) {
    this.#o = opts;
  }

  /** The live trace of an operation still running in this process, if any. */
  liveTrace(operationId: string): Trace | undefined {
    return this.#inflight.get(operationId);
  }

  /**
   * Record a new operation (its row). `firstStep`: the step the flow starts with when nothing
   * can come between this and it (the attach's reserve), so the row is inserted with it and its
   * step write is not repeated.
   */
  async begin(kind: string, server: ServerRow, volumeId: string, bdmId: string | null, meta: OperationMeta, firstStep: string | null = null): Promise<JournalEntry> {
    const { clock, repo } = this.#o;
    const opId = crypto.randomUUID();
    const trace = new Trace(clock);
    const info: OperationInfo = { id: opId, kind, serverId: server.id, serverName: server.name, volumeId, requestId: meta.requestId, projectId: meta.projectId, userId: meta.userId ?? null, host: this.#o.hostName };
    this.#inflight.set(opId, trace);
    await repo.insertOperation({
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
      started_ms: clock.now(),
      ended_ms: null,
    });
    // The trace is written when the operation ends, and while it runs only once it has run a
    // while (SPAN_PROGRESS_MS): at a step start or a top-level span end. After the end, any span
    // that ends is saved at once: background work (a dead portal's login failing after the volume
    // was already usable) still belongs to this operation's trace.
    const saver = new SpanSaver(opId, trace, repo);
    this.#savers.set(opId, saver);
    const pending: { bdmId: string | null; written: string | null } = { bdmId: null, written: firstStep };
    const onStep = async (step: string): Promise<void> => {
      // The journal first: crash recovery reads it. A mapping id not yet written goes with it.
      const bdm = pending.bdmId;
      pending.bdmId = null;
      const already = pending.written === step && bdm === null;
      pending.written = null;
      if (!already) await repo.setOperationStep(opId, step, bdm);
      const p = saver.progress();
      if (p) this.#o.track(p);
      await this.#o.onStep?.(info, step);
    };
    trace.subscribe((e) => {
      if (e.kind !== 'end') return;
      if (!this.#inflight.has(opId)) this.#o.track(saver.next());
      else if (e.span.parentId === null) {
        const p = saver.progress();
        if (p) this.#o.track(p);
      }
      this.#forgetIfQuiet(opId, trace);
    });
    return {
      opId,
      kind,
      info,
      trace,
      onStep,
      mapping: (id) => {
        pending.bdmId = id;
      },
    };
  }

  /**
   * Record the end: the trace saved, the row finished (done, or rolled back with the error). An
   * operation whose undo is still pending (`undo.ts`) is not rolled back yet: it stays running in
   * the journal and is handed to `compensate`; so is one whose end cannot be written (the error
   * is thrown after), since recovery reads the real state and writes it.
   */
  async finish(entry: JournalEntry, e?: unknown): Promise<void> {
    const { opId, info, trace } = entry;
    const { clock, repo } = this.#o;
    const now = clock.now();
    const err = e === undefined ? undefined : toHitchError(e);
    const state = err === undefined ? 'done' : 'rolled_back';
    const cause: RecoveryCause = { kind: 'pending-undo', code: err?.code ?? 'HITCH_ABORTED', message: err?.message ?? 'the operation ended but its end could not be written' };
    if (isPendingUndo(e)) {
      this.#inflight.delete(opId);
      await (this.#savers.get(opId)?.next() ?? repo.saveSpans(opId, trace.spans)).catch(() => undefined);
      this.#o.compensate(opId, info.serverId, cause);
      return;
    }
    try {
      await (this.#savers.get(opId)?.next() ?? repo.saveSpans(opId, trace.spans));
      await repo.finishOperation(opId, state, now, err && { code: err.code, message: err.message });
    } catch (w) {
      this.#inflight.delete(opId);
      this.#o.compensate(opId, info.serverId, cause);
      throw w;
    }
    this.#inflight.delete(opId);
    this.#forgetIfQuiet(opId, trace);
    this.#o.afterFinish();
    const first = trace.spans[0];
    this.#o.onFinished?.({ ...info, outcome: state, durationMs: first ? now - first.startMs : 0, trace });
  }

  /**
   * A stop that will not wait any longer: write the trace of every operation still running (its
   * row already names the step it reached) for the next start's recovery. Returns how many there are.
   */
  async saveInFlight(): Promise<number> {
    const ids = [...this.#inflight.keys()];
    for (const id of ids) await this.#savers.get(id)?.next();
    return ids.length;
  }

  /** Once an operation has finished and none of its spans still runs, nothing more will be saved. */
  #forgetIfQuiet(opId: string, trace: Trace): void {
    if (!this.#inflight.has(opId) && trace.spans.every((s) => s.endMs !== null)) this.#savers.delete(opId);
  }
}
