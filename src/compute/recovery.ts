/**
 * Crash recovery: on start, a compute manager drives every operation of its host that the
 * journal says was still running to a consistent end.
 *
 * The journal is the operation row (the step reached) and the BDM row (its status, the
 * connection_info written before the host connect, the device written before the plug). It says
 * what *may* have happened; the real state says what did: recovery asks the hypervisor which
 * disks the guest has, and undoes host connections from the connection_info (brick's disconnect
 * checks the host's own sessions and devices, and is a no-op where there are none). Every
 * action is idempotent, so a crash during recovery is recovered by the next start.
 *
 *   attach, mapping attached                 → the operation is done
 *   attach, disk in the guest                → complete it (the last step), mapping attached
 *   attach, anything else                    → roll back: unplug, disconnect, release, drop mapping
 *   detach, mapping detaching or gone        → finish it: unplug, disconnect, release, drop mapping
 *   detach, mapping still attached           → nothing happened: volume back to in-use
 *
 * As in the flows, nothing is ever undone underneath a disk the guest still holds: when the
 * unplug fails, an attach is completed (rolled forward) and a detach is rolled back (mapping
 * attached, volume in-use) — the disk in the guest decides which way the operation ends.
 */
import { toHitchError } from '../errors.ts';
import type { Clock } from '../ports/host.ts';
import { Trace, type Span } from '../trace/span.ts';
import { refOf, targetDevOf, type FlowContext } from './attach-flow.ts';
import type { ConnectionInfo } from '../ports/attach.ts';
import { connectionOf, connectionsOf, deviceOf } from './mapping-data.ts';
import type { BdmRow, ComputeRepository, OperationRow, ServerRow } from './repository.ts';
import { ROLL_FORWARD_RETRY_MS, completeOnce } from './attach-flow.ts';
import { withRetries } from './undo.ts';

export interface RecoveryOutcome {
  readonly operationId: string;
  readonly kind: string;
  readonly action: 'completed' | 'rolled_back' | 'finished_detach' | 'rolled_back_detach' | 'nothing';
  readonly error?: string;
}

/**
 * Tolerate "already gone" (recovery may repeat a step that did happen before the crash), and
 * retry transient refusals as the attach's own rollback does.
 */
async function tolerant(ctx: FlowContext, span: Span, name: string, fn: (s: Span) => Promise<unknown>): Promise<void> {
  await span.run(name, {}, (s) =>
    withRetries(ctx.clock, async () => {
      try {
        await fn(s);
      } catch (e) {
        const err = toHitchError(e);
        if (err.status !== 404) throw err;
      }
    }),
  );
}

async function diskPlugged(ctx: FlowContext, server: ServerRow, bdm: BdmRow, span: Span): Promise<boolean> {
  const disks = await ctx.hypervisor.listDisks(server.domain_name, { span }).catch(() => []);
  return disks.some((d) => d.target === targetDevOf(bdm));
}

/** Take the disk out of the guest if it is there. False when the guest kept it (after retries). */
async function unplugged(ctx: FlowContext, server: ServerRow, bdm: BdmRow, span: Span): Promise<boolean> {
  if (!(await diskPlugged(ctx, server, bdm, span))) return true;
  try {
    await tolerant(ctx, span, 'recover.unplug', (s) => ctx.hypervisor.detachDisk(server.domain_name, targetDevOf(bdm), { timeoutMs: ctx.detachTimeoutMs, span: s }));
    return true;
  } catch {
    return false;
  }
}

/** Complete the attachment and mark the mapping attached, retrying as the attach's roll-forward does. */
async function completeAttach(ctx: FlowContext, server: ServerRow, bdm: BdmRow, span: Span): Promise<void> {
  await span.run('recover.complete', {}, (s) => withRetries(ctx.clock, () => completeOnce(ctx, refOf(server, bdm), s), ROLL_FORWARD_RETRY_MS));
  await ctx.repo.updateBdm(bdm.id, { status: 'attached' });
}

/** Undo an attach (or finish a detach) once the disk is out of the guest. */
async function undoEverything(ctx: FlowContext, server: ServerRow, bdm: BdmRow, span: Span): Promise<void> {
  const info = connectionOf(bdm);
  if (info) {
    // A host connection that will not go yet is the reaper's (it adopts what recovery saw): the
    // volume's release and the mapping must not wait for it.
    await tolerant(ctx, span, 'recover.disconnect-volume', (s) => ctx.connector.disconnect(info, deviceOf(bdm), s, { force: true })).catch(() => undefined);
  }
  const connector = await ctx.connector.connectorProperties(span);
  if (bdm.attachment_id === null && ctx.storage.flow === 'attachments') {
    // The reservation's id never reached the mapping (the write after it failed): find it.
    await releaseReservations(ctx, bdm.volume_id, server, span, 0);
  } else {
    await tolerant(ctx, span, 'recover.release-volume', (s) => ctx.storage.release(refOf(server, bdm), connector, s));
  }
  const secret = info ? ctx.connector.secretUsage(info, server.id) : null;
  if (secret !== null) await tolerant(ctx, span, 'recover.undefine-secret', (s) => ctx.hypervisor.undefineSecret(secret, { span: s }));
  await ctx.repo.deleteBdm(bdm.id);
}

/**
 * Release what the storage side holds for `server` on the volume. In the legacy flow a
 * reservation names no instance: only release one that no more than `mine` mappings map.
 */
async function releaseReservations(ctx: FlowContext, volumeId: string, server: ServerRow, span: Span, mine: number): Promise<void> {
  await tolerant(ctx, span, 'recover.release-volume', async (s) => {
    const others = (await ctx.repo.bdmsOfVolume(volumeId)).length - mine;
    const ids = await ctx.storage.attachmentsOf(volumeId, server.id, s);
    for (const attachmentId of ids) {
      if (attachmentId === null && others > 0) continue;
      await ctx.storage.release({ volumeId, instanceUuid: server.id, attachmentId, mountpoint: '' }, null, s);
    }
  });
}

async function recoverAttach(ctx: FlowContext, op: OperationRow, server: ServerRow, bdm: BdmRow | undefined, span: Span): Promise<RecoveryOutcome['action']> {
  if (!bdm) {
    // The crash came before the mapping existed (or after its rollback): the storage side may
    // still hold a reservation for this instance; releasing an absent one is a no-op.
    await releaseReservations(ctx, op.volume_id, server, span, 0);
    return 'rolled_back';
  }
  if (bdm.status === 'attached') return 'completed';
  if (bdm.status === 'attaching' && bdm.device_info && (await diskPlugged(ctx, server, bdm, span))) {
    try {
      await completeAttach(ctx, server, bdm, span);
      return 'completed';
    } catch {
      // The storage side will not complete it: roll back, if the guest lets go of the disk.
    }
  }
  if (!(await unplugged(ctx, server, bdm, span))) {
    // The guest keeps the disk: the only consistent end is the attach completed.
    await completeAttach(ctx, server, bdm, span);
    return 'completed';
  }
  await undoEverything(ctx, server, bdm, span);
  return 'rolled_back';
}

async function recoverDetach(ctx: FlowContext, server: ServerRow, bdm: BdmRow | undefined, span: Span): Promise<RecoveryOutcome['action']> {
  if (bdm && bdm.status === 'attached') {
    // begin-detaching may have reached the storage side before the crash: put it back.
    await tolerant(ctx, span, 'recover.roll-detaching', (s) => ctx.storage.rollDetaching(bdm.volume_id, s));
    return 'rolled_back_detach';
  }
  if (bdm && !(await unplugged(ctx, server, bdm, span))) {
    // The guest keeps the disk: the detach failed, as it does in the flow — mapping attached, volume in-use.
    await ctx.repo.transitionBdm(bdm.id, ['detaching'], 'attached');
    await tolerant(ctx, span, 'recover.roll-detaching', (s) => ctx.storage.rollDetaching(bdm.volume_id, s));
    return 'rolled_back_detach';
  }
  if (bdm) await undoEverything(ctx, server, bdm, span);
  return 'finished_detach';
}

/** Why an operation is being recovered: a restart, or its own flow that could not finish its undo. */
export type RecoveryCause = { readonly kind: 'restart' } | { readonly kind: 'pending-undo'; readonly code: string; readonly message: string };

/**
 * Drive one unfinished operation to a consistent end and mark it so. When recovery itself cannot
 * (the database still refuses writes, the storage service still refuses), the operation stays
 * unfinished in the journal and the outcome carries the error: the caller tries again later.
 */
export async function recoverOperation(ctx: FlowContext, op: OperationRow, clock: Clock, cause: RecoveryCause = { kind: 'restart' }): Promise<RecoveryOutcome> {
  const trace = new Trace(clock);
  const root = trace.root();
  let action: RecoveryOutcome['action'] = 'nothing';
  try {
    const server = await ctx.repo.getServerAny(op.server_id);
    const bdm = op.bdm_id ? await ctx.repo.getBdmById(op.bdm_id) : await ctx.repo.getBdm(op.server_id, op.volume_id);
    if (server) {
      action = await root.run(`recover.${op.kind}`, { operation: op.id, step: op.step ?? '', cause: cause.kind }, (s) =>
        // An extend changes no mapping: nothing to undo (the next extend rescans again).
        op.kind === 'attach' ? recoverAttach(ctx, op, server, bdm, s) : op.kind === 'detach' ? recoverDetach(ctx, server, bdm, s) : Promise.resolve<RecoveryOutcome['action']>('nothing'),
      );
    }
    const done = action === 'completed' || action === 'finished_detach';
    // Keep the spans the operation had before, and add the recovery's after them.
    const before = await ctx.repo.loadSpans(op.id);
    const offset = before.reduce((m, s) => Math.max(m, s.id), 0);
    const merged = [
      ...before.map((s) => (s.endMs === null ? { ...s, endMs: clock.now(), outcome: 'cancelled' as const } : s)),
      ...trace.spans.map((s) => ({ ...s, id: s.id + offset, parentId: s.parentId === null ? null : s.parentId + offset })),
    ];
    await ctx.repo.saveSpans(op.id, merged);
    const error = done
      ? undefined
      : cause.kind === 'restart'
        ? { code: 'HITCH_ABORTED', message: `interrupted at step ${op.step ?? 'start'} and rolled back on restart` }
        : { code: cause.code, message: cause.message };
    await ctx.repo.finishOperation(op.id, done ? 'done' : 'rolled_back', clock.now(), error);
    return { operationId: op.id, kind: op.kind, action };
  } catch (e) {
    return { operationId: op.id, kind: op.kind, action, error: toHitchError(e).message };
  }
}

/**
 * What the interrupted operations of `hostName` may have connected on the host: the connections
 * of their mappings. A new process's initiator knows nothing of it, so the reaper adopts it once
 * recovery has decided what stays (read before recovery, which removes the mappings it undoes).
 */
export async function interruptedConnections(repo: ComputeRepository, hostName: string): Promise<ConnectionInfo[]> {
  const bdms: BdmRow[] = [];
  for (const op of await repo.listUnfinished(hostName)) {
    const bdm = op.bdm_id ? await repo.getBdmById(op.bdm_id) : await repo.getBdm(op.server_id, op.volume_id);
    if (bdm) bdms.push(bdm);
  }
  return connectionsOf(bdms);
}
