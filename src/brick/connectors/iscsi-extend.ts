/**
 * Online extend on the host (os-brick's `extend_volume` for iSCSI): after the storage grew a LUN
 * that is attached, make the host see the new size. Each path re-reads its capacity (a write to
 * the SCSI device's `rescan`: the kernel re-reads READ CAPACITY before the write returns), then
 * the multipath map is reloaded at its paths' size (`multipathd resize map`). The hypervisor's
 * `blockresize` comes after, in compute.
 *
 * os-brick runs `multipathd reconfigure` first and retries `resize map` with fixed sleeps while
 * the (asynchronous) reconfigure makes it answer `timeout`. Hitch never starts a reconfigure, so
 * `resize map` answers at once; a `timeout` still seen (someone else's reconfigure) is retried
 * with growing pauses on the host's clock, bounded. Every step checks what the kernel reports
 * instead of trusting the command: each path and the map must end at the size the paths read.
 */
import { HitchError } from '../../errors.ts';
import type { IscsiVolume } from '../connection-info.ts';
import { readIfPresent } from '../tools/files.ts';
import { MULTIPATH_TIMEOUT_MS } from '../tools/multipath.ts';
import { run, type BrickContext } from '../tools/run.ts';
import { dmName, holders } from '../tools/scsi.ts';
import { findSession, sessionTargets, targetDisk } from './iscsi-sysfs.ts';

/** Pauses before retrying a `resize map` answered `timeout` (a reconfigure in progress), ≈ 30 s in all. */
export const RESIZE_RETRY_MS = [250, 1_000, 3_000, 8_000, 18_000] as const;

export interface ExtendedPath {
  readonly dev: string;
  readonly beforeBytes: number;
  readonly afterBytes: number;
}

export interface IscsiExtendResult {
  /** The size the guest's disk can grow to: the map's, or the path's. */
  readonly sizeBytes: number;
  readonly paths: readonly ExtendedPath[];
  readonly map: { readonly name: string; readonly dm: string; readonly beforeBytes: number; readonly afterBytes: number } | null;
}

function failed(volume: string, step: string, detail: string): HitchError {
  return new HitchError('HITCH_VOLUME_EXTEND_FAILED', { volume, step, detail });
}

/** A block device's size in bytes from `/sys/block/NAME/size` (512-byte sectors); null if gone. */
async function sizeOf(ctx: BrickContext, name: string): Promise<number | null> {
  const text = await readIfPresent(ctx, `/sys/block/${name}/size`);
  const n = text === null ? NaN : Number(text.trim());
  return Number.isFinite(n) ? n * 512 : null;
}

/**
 * Make the host see the volume's new size. `multipath`: whether the volume's paths sit under a
 * map on this host. Throws `HITCH_VOLUME_EXTEND_FAILED` naming the step.
 */
export async function extendIscsiVolume(ctx: BrickContext, v: IscsiVolume, opts: { readonly multipath: boolean }): Promise<IscsiExtendResult> {
  const volume = v.volumeId ?? v.targets[0]?.iqn ?? 'volume';
  // The volume's paths: the disk of its LUN on each session to its targets.
  const devs = await ctx.span.run('find-paths', {}, async (s) => {
    const found: string[] = [];
    for (const t of v.targets) {
      const session = await findSession(ctx, t);
      if (!session) continue;
      for (const st of await sessionTargets(ctx, session)) {
        const d = await targetDisk(ctx, st, t.lun);
        if (d && !found.includes(d.dev)) found.push(d.dev);
      }
    }
    s.set({ paths: found.join(',') });
    return found;
  });
  if (devs.length === 0) throw failed(volume, 'find-paths', 'no path of the volume is on this host (no session to its target has its LUN)');

  const paths: ExtendedPath[] = [];
  const refused: string[] = [];
  for (const dev of devs) {
    const p = await ctx.span.run('rescan-path', { dev }, async (s) => {
      const before = await sizeOf(ctx, dev);
      try {
        await ctx.host.writeFile(`/sys/block/${dev}/device/rescan`, '1');
      } catch (e) {
        // A dead path cannot re-read its capacity; the live ones carry the volume (multipathd
        // resizes the map once the paths it uses agree).
        s.set({ refused: e instanceof Error ? e.message : String(e) });
        refused.push(dev);
        return null;
      }
      const after = await sizeOf(ctx, dev);
      s.set({ before_bytes: before ?? -1, after_bytes: after ?? -1 });
      if (before === null || after === null) return null;
      return { dev, beforeBytes: before, afterBytes: after };
    });
    if (p) paths.push(p);
  }
  if (paths.length === 0) throw failed(volume, 'rescan-path', `no path re-read its capacity (${refused.join(', ') || devs.join(', ')} refused or went away)`);
  const pathBytes = Math.max(...paths.map((p) => p.afterBytes));

  let map: IscsiExtendResult['map'] = null;
  const dm = opts.multipath ? (await holders(ctx, paths[0]?.dev ?? ''))[0] : undefined;
  if (dm !== undefined) {
    const name = (await dmName(ctx, dm)) ?? dm;
    map = await ctx.span.run('resize-map', { map: name, dm }, async (s) => {
      const before = (await sizeOf(ctx, dm)) ?? -1;
      for (let attempt = 0; ; attempt++) {
        const r = await run(ctx, 'multipathd', ['resize', 'map', name], { okCodes: 'any', timeoutMs: MULTIPATH_TIMEOUT_MS });
        const answer = r.stdout.trim();
        if (r.code === 0 && answer === 'ok') break;
        const pause = RESIZE_RETRY_MS[attempt];
        if (answer === 'timeout' && pause !== undefined) {
          s.event('resize-map.retry', { answer, pause_ms: pause });
          await ctx.host.clock.sleep(pause, ctx.signal);
          continue;
        }
        throw failed(volume, 'resize-map', `multipathd resize map ${name} answered "${answer || r.stderr.trim()}" (exit ${r.code})`);
      }
      const after = (await sizeOf(ctx, dm)) ?? -1;
      s.set({ before_bytes: before, after_bytes: after });
      if (after < pathBytes) throw failed(volume, 'resize-map', `map ${name} (${dm}) is ${after} bytes after the resize, its paths ${pathBytes}`);
      return { name, dm, beforeBytes: before, afterBytes: after };
    });
  }
  return { sizeBytes: map?.afterBytes ?? pathBytes, paths, map };
}
