/**
 * The log lines of attaches and detaches, rendered from their traces (the trace is the record;
 * the log is one view of it):
 *
 * - info: one line when an operation starts and one when it ends (warn when it rolled back), a
 *   start and an end line for every step (warn when the step failed);
 * - debug: every command the host ran, in os-brick's words (`Running cmd (subprocess): iscsiadm
 *   …`, `CMD "iscsiadm …" returned: 8 in 120.0s`) with its exit code and duration — secrets were
 *   masked where the span was made (brick's `run`) — and brick's own log events;
 * - warn: a command that failed, and work that fails in the background after the operation
 *   ended (a dead portal's login), saying what it affects.
 *
 * Every line carries the operation's id, kind, request id, server, volume, project and compute
 * host, so `grep req-…` finds an attach from its API request line to its last command. It runs
 * wherever the operation runs: the all-in-one server or a scale-out agent.
 */
import type { Logger } from 'pino';
import type { OperationInfo } from '../compute/manager.ts';
import { formatMs, spanLabel } from '../trace/explain.ts';
import type { SpanEvent, SpanRecord, Trace } from '../trace/span.ts';

/** What every line of one operation says about it. */
export interface OperationFields {
  readonly op_id: string;
  readonly kind: string;
  readonly request_id: string;
  readonly server_id: string;
  readonly server_name: string;
  readonly volume_id: string;
  readonly project_id: string;
  readonly user_id: string | null;
  readonly host: string;
}

export function operationFields(op: OperationInfo): OperationFields {
  return {
    op_id: op.id,
    kind: op.kind,
    request_id: op.requestId,
    server_id: op.serverId,
    server_name: op.serverName,
    volume_id: op.volumeId,
    project_id: op.projectId,
    user_id: op.userId,
    host: op.host,
  };
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;
const what = (f: OperationFields): string => `${f.kind} of volume ${f.volume_id} ${f.kind === 'attach' ? 'to' : 'from'} server ${f.server_name} (${f.server_id})`;

interface Followed {
  readonly fields: OperationFields;
  finished: boolean;
  unsubscribe: () => void;
}

export class OperationLog {
  readonly #log: Logger;
  readonly #traceOf: (operationId: string) => Trace | undefined;
  readonly #ops = new Map<string, Followed>();

  /** `traceOf`: the live trace of an operation running in this process. */
  constructor(log: Logger, traceOf: (operationId: string) => Trace | undefined) {
    this.#log = log;
    this.#traceOf = traceOf;
  }

  /** A step is about to start; the first one starts following the operation's trace. */
  step(op: OperationInfo): void {
    if (this.#ops.has(op.id) || !this.#log.isLevelEnabled('info')) return;
    const trace = this.#traceOf(op.id);
    if (trace) this.#follow(op, trace);
  }

  /** The operation ended; background work may still run (its spans are followed to their end). */
  finished(op: OperationInfo & { outcome: string; durationMs: number; trace: Trace }): void {
    if (!this.#log.isLevelEnabled('info')) return;
    const f = this.#ops.get(op.id) ?? this.#follow(op, op.trace);
    f.finished = true;
    const base = { ...f.fields, outcome: op.outcome, duration_ms: op.durationMs };
    if (op.outcome === 'done') {
      this.#log.info(base, `${what(f.fields)} done in ${formatMs(op.durationMs)}`);
    } else {
      const failed = op.trace.spans.find((s) => s.parentId === null && s.outcome === 'error' && s.name !== 'rollback');
      const rollback = op.trace.spans.find((s) => s.parentId === null && s.name === 'rollback');
      const after =
        rollback?.outcome === 'error'
          ? `; the rollback itself failed: ${rollback.error?.message ?? 'error'}`
          : rollback
            ? '; rolled back: nothing of it is left on the host or in block storage'
            : '';
      this.#log.warn(
        { ...base, step: failed?.name ?? null, error_code: failed?.error?.code ?? null, rollback: rollback?.outcome ?? null },
        `${what(f.fields)} failed at step ${failed?.name ?? '?'} after ${formatMs(op.durationMs)}: ${failed?.error?.message ?? 'error'}${after}`,
      );
    }
    this.#stopWhenQuiet(op.id, op.trace);
  }

  #follow(op: OperationInfo, trace: Trace): Followed {
    const f: Followed = { fields: operationFields(op), finished: false, unsubscribe: () => undefined };
    this.#ops.set(op.id, f);
    this.#log.info(f.fields, `${what(f.fields)} started on host ${op.host}`);
    // What already happened, then what happens.
    for (const s of trace.spans) {
      this.#line(f, { kind: 'start', span: s }, trace);
      if (s.endMs !== null) this.#line(f, { kind: 'end', span: s }, trace);
    }
    f.unsubscribe = trace.subscribe((e) => this.#line(f, e, trace));
    return f;
  }

  #stopWhenQuiet(id: string, trace: Trace): void {
    const quiet = (): boolean => trace.spans.every((s) => s.endMs !== null);
    const stop = (): void => {
      this.#ops.get(id)?.unsubscribe();
      this.#ops.delete(id);
    };
    if (quiet()) {
      stop();
      return;
    }
    const off = trace.subscribe(() => {
      if (!quiet()) return;
      off();
      stop();
    });
  }

  #line(f: Followed, e: SpanEvent, trace: Trace): void {
    const s: Readonly<SpanRecord> = e.span;
    const log = this.#log;
    const op = f.fields;
    const ms = (s.endMs ?? s.startMs) - s.startMs;
    if (s.name === 'log') {
      // Brick's own lines (`Trying to connect to iSCSI portal …`), already masked.
      if (e.kind !== 'end') return;
      const lvl = String(s.attrs['level'] ?? 'info');
      const message = String(s.attrs['message'] ?? '');
      if (lvl === 'error') log.error(op, message);
      else if (lvl === 'warning') log.warn(op, message);
      else log.debug(op, message);
      return;
    }
    if (s.name.startsWith('exec ')) {
      const command = String(s.attrs['command'] ?? s.name.slice(5));
      if (e.kind === 'start') {
        log.debug({ ...op, command }, `Running cmd (subprocess): ${command}`);
        return;
      }
      const exit = typeof s.attrs['exitCode'] === 'number' ? s.attrs['exitCode'] : null;
      const fields = { ...op, command, exit_code: exit, duration_ms: ms, outcome: s.outcome };
      const text = `CMD "${command}" returned: ${exit ?? '-'} in ${seconds(ms)}`;
      if (s.outcome === 'error') log.warn({ ...fields, error_code: s.error?.code ?? null }, `${text}: ${s.error?.message ?? 'failed'}`);
      else log.debug(fields, text);
      return;
    }
    if (s.parentId === null) {
      if (e.kind === 'start') {
        log.info({ ...op, step: s.name }, `step ${s.name} started`);
        return;
      }
      const fields = { ...op, step: s.name, duration_ms: ms, outcome: s.outcome };
      if (s.outcome === 'error') log.warn({ ...fields, error_code: s.error?.code ?? null }, `step ${s.name} of ${what(op)} failed after ${formatMs(ms)}: ${s.error?.message ?? 'error'}`);
      else log.info(fields, `step ${s.name} ${s.outcome === 'ok' ? 'ended' : s.outcome} in ${formatMs(ms)}`);
      return;
    }
    // Work that fails after its operation ended (a dead portal's login left in the background).
    if (e.kind === 'end' && f.finished && s.outcome === 'error') {
      const siblings = trace.spans.filter((x) => x.name === s.name && x.parentId === s.parentId);
      const ok = siblings.filter((x) => x.outcome === 'ok').length;
      const unit = s.name === 'connect_path' ? 'paths' : s.name;
      log.warn(
        { ...op, span: s.name, label: spanLabel(s), error_code: s.error?.code ?? null, duration_ms: ms },
        `${spanLabel(s)} failed in the background after the ${op.kind} ended: ${s.error?.message ?? 'error'}; volume ${op.volume_id} on server ${op.server_name} keeps ${ok} of ${siblings.length} ${unit}`,
      );
    }
  }
}
