/**
 * The attach flow: the seed's nine steps as Hitch runs them.
 *
 *   1 reserve                device name, BDM row, volume reserved      (under the instance lock)
 *   2 lock-instance          the instance lock for the rest of the flow (taken by the manager)
 *   3 get-volume             GET the volume from block storage
 *   4 connector-properties   what this host is (initiator, multipath, ip)
 *   5 initialize-connection  the storage side exports the LUN to this initiator
 *   6 connect-volume         iSCSI logins, LUN scan, device, multipath map (brick)
 *   7 hotplug                disk XML, plug live + persistent, connection_info saved on the BDM
 *   8 complete               attachment complete / os-attach: the volume is in-use
 *   9 unlock-instance
 *
 * Every step that changes the world pushes its undo first-thing after it succeeds; a failure at
 * any step unwinds the stack in reverse, so the volume is `available` again, the BDM gone and
 * nothing is left on the host or in the guest. The BDM is written with the connection_info
 * before the host connect and with the device before the plug: that is the journal crash
 * recovery reads to find what may need undoing.
 *
 * When the disk cannot be taken back out of the guest (a guest that never acknowledges the
 * unplug, a hypervisor that keeps refusing), the rollback stops there: the secret, the host
 * connection, the export and the mapping all sit under a disk the guest still uses, so undoing
 * any of them would leave the guest on a dead device and Nova and Cinder disagreeing. The attach
 * then rolls FORWARD instead — every effect but the last step is in place, so it retries
 * `complete` (patiently: the usual cause is a block storage service answering 500 for a while)
 * and keeps the attachment. The user asked for the volume to be attached and it is; the trace
 * shows the failed step, the unplug that could not happen and the roll-forward. Only if
 * `complete` still fails after every retry does the attach fail with the mapping left
 * `attaching` and the disk in the guest — a state that needs an operator, named in the error.
 */
import { HitchError, isHitchError, toHitchError } from '../errors.ts';
import type { Clock } from '../ports/host.ts';
import type { Span } from '../trace/span.ts';
import { buildDiskXml } from '../virt/disk-xml.ts';
import type { DiskSource } from '../ports/hypervisor.ts';
import type { HypervisorDriver } from '../ports/hypervisor.ts';
import { pickDeviceName } from './device-name.ts';
import type { AttachmentRef, VolumeAttachProtocol } from '../ports/block-storage.ts';
import type { HostVolumeConnector } from '../ports/host-connector.ts';
import type { ConnectorProperties } from '../ports/attach.ts';
import type { BdmRow, ComputeRepository, ServerRow } from './repository.ts';
import { UndoStack, cleanupError, pendingUndo, withRetries } from './undo.ts';

/**
 * Pauses between the roll-forward's `complete` attempts (≈ 2 min in all): long enough to ride out
 * a block storage service that answers 500 for a while, short enough to end the operation.
 */
export const ROLL_FORWARD_RETRY_MS = [1_000, 5_000, 15_000, 30_000, 60_000] as const;

export interface FlowContext {
  readonly repo: ComputeRepository;
  readonly storage: VolumeAttachProtocol;
  readonly connector: HostVolumeConnector;
  readonly hypervisor: HypervisorDriver;
  /** How long the guest may take to release a disk on unplug. */
  readonly detachTimeoutMs: number;
  /** The host's clock: undo retries wait on it (virtual on the simulator). */
  readonly clock: Clock;
  /** Called as each step begins (journal, crash-test hooks). */
  readonly onStep?: (step: string) => Promise<void> | void;
}

export function refOf(server: ServerRow, bdm: BdmRow): AttachmentRef {
  return { volumeId: bdm.volume_id, instanceUuid: server.id, attachmentId: bdm.attachment_id, mountpoint: bdm.device_name };
}

export function targetDevOf(bdm: BdmRow): string {
  return bdm.device_name.replace(/^\/dev\//, '');
}

async function step<T>(ctx: FlowContext, parent: Span, name: string, n: number, fn: (s: Span) => Promise<T>): Promise<T> {
  await ctx.onStep?.(name);
  return parent.run(name, { step: n }, fn);
}

/**
 * Step 1, under the instance lock: pick the device, record the mapping, reserve the volume.
 * A failure leaves no mapping and the volume as it was.
 */
export async function reserveAttach(
  ctx: FlowContext,
  server: ServerRow,
  volumeId: string,
  requestedDevice: string | null,
  root: Span,
  /** A volume the server boots with: its device (the root `/dev/vda` too), named at create. */
  opts: { readonly bootDevice?: string } = {},
): Promise<BdmRow> {
  return step(ctx, root, 'reserve', 1, async (span) => {
    const existing = await ctx.repo.listBdms(server.id);
    if (existing.some((b) => b.volume_id === volumeId)) {
      throw new HitchError('HITCH_DEVICE_IN_USE', { device: '-', volume: volumeId }, {
        message: `Volume ${volumeId} is already attached to server ${server.id}.`,
      });
    }
    const boot = opts.bootDevice;
    if (boot !== undefined && existing.some((b) => b.device_name === boot)) {
      throw new HitchError('HITCH_DEVICE_IN_USE', { device: boot, volume: volumeId }, { message: `The supplied device path (${boot}) is in use.` });
    }
    const device =
      boot ??
      pickDeviceName(
        existing.map((b) => b.device_name),
        requestedDevice,
      );
    span.set({ device });
    const bdm = await span.run('bdm.create', { device }, () =>
      ctx.repo.insertBdm({
        id: crypto.randomUUID(),
        server_id: server.id,
        volume_id: volumeId,
        device_name: device,
        attachment_id: null,
        status: 'reserved',
        connection_info: null,
        device_info: null,
        cinder_flow: ctx.storage.flow,
      }),
    );
    let reserved: { attachmentId: string | null } | null = null;
    try {
      reserved = await ctx.storage.reserve(volumeId, server.id, span);
      const { attachmentId } = reserved;
      if (attachmentId !== null) await ctx.repo.updateBdm(bdm.id, { attachment_id: attachmentId });
      return { ...bdm, attachment_id: attachmentId };
    } catch (e) {
      // The reservation may stand although a later write failed: undo it before the mapping, or
      // the volume stays reserved with nothing left that names it.
      try {
        const got = reserved;
        if (got !== null) {
          const ref = { volumeId, instanceUuid: server.id, attachmentId: got.attachmentId, mountpoint: device };
          await span.run('rollback.release-volume', {}, (s) => withRetries(ctx.clock, () => ctx.storage.release(ref, null, s)));
        }
        await span.run('rollback.bdm.destroy', {}, () => withRetries(ctx.clock, () => ctx.repo.deleteBdm(bdm.id)));
      } catch (c) {
        throw pendingUndo(toHitchError(e), [toHitchError(c)]);
      }
      throw e;
    }
  });
}

/**
 * Steps 3–8 for a reserved mapping, with the instance lock held by the caller. On failure the
 * undo stack runs; the error thrown is the step's own (cleanup failures are attached to it as
 * `cleanup`).
 */
export async function runAttach(ctx: FlowContext, server: ServerRow, bdm: BdmRow, root: Span, opts: { readonly bootDevice?: string } = {}): Promise<void> {
  const ref = refOf(server, bdm);
  const undo = new UndoStack(ctx.clock);
  let exportedTo: ConnectorProperties | null = null;
  // The mapping and the export stay while the guest holds the disk: they are what it runs on.
  // The mapping goes last, and only once the volume is released: it is the journal's record of
  // what is still to undo (recovery finds the reservation through it).
  undo.push('bdm.destroy', () => ctx.repo.deleteBdm(bdm.id), { requires: ['unplug', 'release-volume'] });
  undo.push('release-volume', (s) => ctx.storage.release(ref, exportedTo, s), { requires: ['unplug'] });
  try {
    const volume = await step(ctx, root, 'get-volume', 3, (s) => ctx.storage.getVolume(bdm.volume_id, s));
    const connector = await step(ctx, root, 'connector-properties', 4, (s) => ctx.connector.connectorProperties(s));
    const info = await step(ctx, root, 'initialize-connection', 5, async (s) => {
      const ci = await ctx.storage.initialize(ref, connector, s).catch((e: unknown) => {
        // Exported, but answered with a connection this host cannot use: the export is there to undo.
        if (isHitchError(e, 'HITCH_INVALID_CONNECTION_INFO') || isHitchError(e, 'HITCH_UNSUPPORTED_PROTOCOL')) exportedTo = connector;
        throw e;
      });
      exportedTo = connector;
      s.set({ driver_volume_type: ci.driver_volume_type });
      return ci;
    });
    await ctx.repo.updateBdm(bdm.id, { status: 'attaching', connection_info: JSON.stringify(info) });

    const device = await step(ctx, root, 'connect-volume', 6, async (s) => {
      const d = await ctx.connector.connect(info, s, { instance: server.id });
      s.set({ path: describeSource(d.source) });
      return d;
    });
    // Never disconnect a device a guest still has plugged in (see the note at the top).
    undo.push('disconnect-volume', (s) => ctx.connector.disconnect(info, device.deviceInfo, s, { force: true }), { requires: ['unplug'] });

    await step(ctx, root, 'hotplug', 7, async (s) => {
      await ctx.repo.updateBdm(bdm.id, { device_info: JSON.stringify(device.deviceInfo) });
      const { source, secret } = device;
      if (secret) {
        await ctx.hypervisor.defineSecret(secret.usage, secret.value, { span: s });
        undo.push('undefine-secret', (u) => ctx.hypervisor.undefineSecret(secret.usage, { span: u }), { requires: ['unplug'] });
      }
      const accessMode = info.data.access_mode === 'ro' ? 'ro' : 'rw';
      // A multiattach volume is opened by several guests: QEMU's image lock refuses the second
      // writer unless the disk is shareable.
      const xml = buildDiskXml({ source, targetDev: targetDevOf(bdm), serial: bdm.volume_id, accessMode, ...(volume.multiattach ? { shareable: true } : {}) });
      s.set({ disk_xml: xml });
      const pushUnplug = (): void =>
        undo.push('unplug', (u) =>
          ctx.hypervisor.detachDisk(server.domain_name, targetDevOf(bdm), { timeoutMs: ctx.detachTimeoutMs, span: u }).then(() => undefined),
        );
      try {
        // A volume the server boots with goes into the definition of a domain not yet started
        // (its first start opens it); every other disk is plugged into the running guest too.
        const live = opts.bootDevice === undefined || (await ctx.hypervisor.domainState(server.domain_name, { span: s })) === 'running';
        s.set({ live });
        await ctx.hypervisor.attachDisk(server.domain_name, xml, { live, persistent: true, span: s });
      } catch (e) {
        // A hypervisor call can fail after the device reached the guest (virsh timing out while
        // QEMU finished device_add). Ask the guest: if it has our disk on our target, unplug it
        // before anything under it is undone. Another disk on that target is not ours to touch.
        const ours = await ctx.hypervisor.listDisks(server.domain_name, { span: s }).then(
          (disks) => disks.some((d) => d.target === targetDevOf(bdm) && d.source === sourceLabel(source)),
          // Cannot tell: do not risk unplugging a disk that is not ours.
          () => false,
        );
        if (ours) pushUnplug();
        throw e;
      }
      pushUnplug();
    });

    await step(ctx, root, 'complete', 8, (s) => ctx.storage.complete(ref, s));
    await ctx.repo.updateBdm(bdm.id, { status: 'attached' });
    undo.clear();
  } catch (e) {
    const err = toHitchError(e);
    let unplugFailed = false;
    let stateLeft = false;
    const failures = await root.run('rollback', { undo: undo.pending().join(',') }, async (s) => {
      const r = await undo.unwind(s);
      unplugFailed = r.failed.includes('unplug');
      stateLeft = [...r.failed, ...r.skipped].some((n) => n === 'release-volume' || n === 'bdm.destroy');
      if (r.skipped.length > 0) s.set({ skipped: r.skipped.join(',') });
      if (r.failures.length > 0) throw cleanupError(r.failures);
      return r.failures;
    }).catch((c: unknown) => [toHitchError(c)]);
    if (unplugFailed) {
      await rollForward(ctx, bdm, ref, err, failures, root);
      return;
    }
    // The reservation or the mapping is still there: the operation stays in the journal.
    if (stateLeft) throw pendingUndo(err, failures);
    if (failures.length > 0) Object.assign(err, { cleanup: failures });
    throw err;
  }
}

/**
 * The disk is in the guest and could not be taken out: finish the attach instead of undoing it
 * (see the note at the top). Only the last step, `complete`, can have failed after the plug.
 */
async function rollForward(ctx: FlowContext, bdm: BdmRow, ref: AttachmentRef, cause: HitchError, failures: HitchError[], root: Span): Promise<void> {
  try {
    await root.run('roll-forward', { reason: `${cause.code}, and the guest kept the disk` }, async (s) => {
      await withRetries(
        ctx.clock,
        (attempt) => (attempt === 1 ? completeOnce(ctx, ref, s) : s.run(`attempt ${attempt}`, {}, (a) => completeOnce(ctx, ref, a))),
        ROLL_FORWARD_RETRY_MS,
      );
      await ctx.repo.updateBdm(bdm.id, { status: 'attached' });
    });
  } catch (e) {
    const stuck = new HitchError('HITCH_CLEANUP_FAILED', {
      count: failures.length + 1,
      detail:
        `the guest kept disk ${bdm.device_name} and block storage would not complete the attachment ` +
        `(${toHitchError(e).message}); the mapping stays attaching with the disk in the guest until complete succeeds or the guest releases it`,
    });
    // The journal keeps it: recovery tries again (complete, or the unplug once the guest lets go).
    throw pendingUndo(cause, [...failures, stuck]);
  }
}

/**
 * Complete the attachment; when that is refused, it may be because the storage side completed it
 * already (a write here failed after its answer): a volume of one attachment that is `in-use`
 * is complete.
 */
export async function completeOnce(ctx: FlowContext, ref: AttachmentRef, span: Span): Promise<void> {
  try {
    await ctx.storage.complete(ref, span);
  } catch (e) {
    const v = await ctx.storage.getVolume(ref.volumeId, span).catch(() => null);
    if (v !== null && v.status === 'in-use' && !v.multiattach) return;
    throw e;
  }
}

/** How the hypervisor's disk listing names a source (`DiskInfo.source`). */
function sourceLabel(source: DiskSource): string {
  return source.kind === 'block' ? source.path : `${source.iqn}/${source.lun}`;
}

/** A short label for a disk source, for traces and logs (no secrets in it). */
export function describeSource(source: DiskSource): string {
  if (source.kind === 'block') return source.path;
  return `iscsi://${source.host.name}:${source.host.port}/${source.iqn}/${source.lun}`;
}
