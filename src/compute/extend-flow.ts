/**
 * Online extend, the compute side (Nova's `extend_volume` on a `volume-extended` event): block
 * storage has grown the LUN of a volume attached to this server and says so. Under the instance
 * lock, as Nova's libvirt driver runs it:
 *
 *   1 get-volume       the size block storage gives the volume now
 *   2 extend-host      the host re-reads it: each path rescanned, the multipath map resized (brick)
 *   3 resize-disk      the hypervisor grows the guest's disk (libvirt `blockresize`, in bytes)
 *
 * Nothing here is undone on a failure: the LUN has grown and stays so; a host that saw part of
 * it sees the rest at the next extend. The failure is journalled with the step and reason, and
 * the volume is put in block storage's `error_extending` (as Cinder marks an extend that
 * compute could not finish), so the user sees it and an operator resets it.
 */
import { HitchError } from '../errors.ts';
import type { Span } from '../trace/span.ts';
import { targetDevOf, type FlowContext } from './attach-flow.ts';
import { connectionOf } from './mapping-data.ts';
import type { BdmRow, ServerRow } from './repository.ts';

const GiB = 1024 ** 3;

async function step<T>(ctx: FlowContext, parent: Span, name: string, n: number, fn: (s: Span) => Promise<T>): Promise<T> {
  await ctx.onStep?.(name);
  return parent.run(name, { step: n }, fn);
}

export interface ExtendOutcome {
  /** The size the guest's disk was grown to, in bytes. */
  readonly sizeBytes: number;
}

export async function runExtend(ctx: FlowContext, server: ServerRow, bdm: BdmRow, root: Span): Promise<ExtendOutcome> {
  const volume = await step(ctx, root, 'get-volume', 1, async (s) => {
    const v = await ctx.storage.getVolume(bdm.volume_id, s);
    s.set({ size_gib: v.size, status: v.status });
    return v;
  });
  const wantBytes = volume.size * GiB;
  const info = connectionOf(bdm);
  if (!info) {
    throw new HitchError('HITCH_VOLUME_EXTEND_FAILED', { volume: bdm.volume_id, step: 'extend-host', detail: `the mapping on ${server.id} holds no connection (the attach never connected it)` });
  }
  const host = await step(ctx, root, 'extend-host', 2, async (s) => {
    const r = await ctx.connector.extend(info, s);
    s.set({ host_bytes: r.sizeBytes ?? -1, volume_bytes: wantBytes });
    return r;
  });
  // The host's own device says how far QEMU may grow the disk; QEMU's session reads the LUN.
  const sizeBytes = host.sizeBytes ?? wantBytes;
  if (sizeBytes < wantBytes) {
    throw new HitchError('HITCH_VOLUME_EXTEND_FAILED', {
      volume: bdm.volume_id,
      step: 'extend-host',
      detail: `the host sees ${sizeBytes} bytes after the rescan, but the volume has ${wantBytes} (${volume.size} GiB): the target does not show the new size yet`,
    });
  }
  await step(ctx, root, 'resize-disk', 3, (s) => ctx.hypervisor.resizeDisk(server.domain_name, targetDevOf(bdm), sizeBytes, { span: s }));
  return { sizeBytes };
}
