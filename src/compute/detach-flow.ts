/**
 * The detach flow, the attach in reverse:
 *
 *   1 begin-detaching        volume → detaching (so nobody else acts on it meanwhile)
 *   2 unplug                 the guest releases the disk (bounded wait; checked, not trusted)
 *   3 connector-properties
 *   4 disconnect-volume      flush, multipath map, SCSI devices, sessions no other LUN uses
 *   5 detach-volume          attachment delete / terminate + os-detach: volume → available
 *   6 bdm.destroy
 *
 * If the guest does not let go of the disk, the volume goes back to `in-use` and the mapping to
 * `attached`: the detach failed cleanly, nothing changed. Once the disk is out of the guest the
 * flow only moves forward: a host disconnect that fails is retried with force, and the volume
 * is still released, so it can never stay `detaching`.
 */
import { toHitchError, type HitchError } from '../errors.ts';
import type { AttachmentRef } from '../ports/block-storage.ts';
import type { Span } from '../trace/span.ts';
import { refOf, targetDevOf, type FlowContext } from './attach-flow.ts';
import { connectionOf, deviceOf } from './mapping-data.ts';
import type { BdmRow, ServerRow } from './repository.ts';
import { pendingUndo, withRetries } from './undo.ts';

async function step<T>(ctx: FlowContext, parent: Span, name: string, n: number, fn: (s: Span) => Promise<T>): Promise<T> {
  await ctx.onStep?.(name);
  return parent.run(name, { step: n }, fn);
}

export async function runDetach(ctx: FlowContext, server: ServerRow, bdm: BdmRow, root: Span): Promise<void> {
  const ref = refOf(server, bdm);
  let begun = false;
  try {
    await step(ctx, root, 'begin-detaching', 1, async (s) => {
      await ctx.storage.beginDetaching(bdm.volume_id, s);
      begun = true;
      await ctx.repo.transitionBdm(bdm.id, ['attached'], 'detaching');
    });
  } catch (e) {
    // The volume is detaching but the mapping could not say so: put the volume back.
    if (begun) await rollBack(ctx, bdm, root, toHitchError(e));
    throw e;
  }

  try {
    await step(ctx, root, 'unplug', 2, async (s) => {
      const r = await ctx.hypervisor.detachDisk(server.domain_name, targetDevOf(bdm), { timeoutMs: ctx.detachTimeoutMs, span: s });
      s.set({ outcome: r.outcome, requests: r.requests });
    });
  } catch (e) {
    const err = toHitchError(e);
    await rollBack(ctx, bdm, root, err);
    throw err;
  }
  try {
    await finish(ctx, server, bdm, ref, root);
  } catch (e) {
    // The disk is out of the guest: the detach can only move forward, and recovery finishes it.
    throw pendingUndo(toHitchError(e));
  }
}

/**
 * Mapping attached, volume in-use again (each write retried as undos are). When that cannot be
 * written, the operation stays in the journal for recovery to finish.
 */
async function rollBack(ctx: FlowContext, bdm: BdmRow, root: Span, err: HitchError): Promise<void> {
  try {
    await root.run('rollback', {}, async (s) => {
      await withRetries(ctx.clock, () => ctx.repo.transitionBdm(bdm.id, ['detaching'], 'attached'));
      await withRetries(ctx.clock, () => ctx.storage.rollDetaching(bdm.volume_id, s));
    });
  } catch (c) {
    throw pendingUndo(err, [toHitchError(c)]);
  }
}

async function finish(ctx: FlowContext, server: ServerRow, bdm: BdmRow, ref: AttachmentRef, root: Span): Promise<void> {
  const info = connectionOf(bdm);
  const deviceInfo = deviceOf(bdm);
  const connector = await step(ctx, root, 'connector-properties', 3, (s) => ctx.connector.connectorProperties(s));
  if (info) {
    await step(ctx, root, 'disconnect-volume', 4, async (s) => {
      try {
        await ctx.connector.disconnect(info, deviceInfo, s, { force: false });
      } catch (e) {
        s.set({ first_attempt: toHitchError(e).code });
        await s.run('disconnect-volume.force', {}, (f) => ctx.connector.disconnect(info, deviceInfo, f, { force: true }));
      }
    });
  }
  await step(ctx, root, 'detach-volume', 5, (s) => ctx.storage.finishDetach(ref, connector, s));
  const secret = info ? ctx.connector.secretUsage(info, server.id) : null;
  if (secret !== null) await root.run('undefine-secret', {}, (s) => ctx.hypervisor.undefineSecret(secret, { span: s }));
  await step(ctx, root, 'bdm.destroy', 6, () => ctx.repo.deleteBdm(bdm.id));
}
