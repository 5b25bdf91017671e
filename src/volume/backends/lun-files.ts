/**
 * What the file-backed backends (tgt, nvmet) do alike with the sparse files that hold volumes:
 * copy one for a snapshot or a clone, and report the space of the directory they live in.
 * Both run on the Host port; the caller checks the paths are its own.
 */
import { HitchError } from '../../errors.ts';
import type { Host } from '../../ports/host.ts';
import type { BackendCapacity } from '../../ports/volume-backend.ts';

const GiB = 1024 ** 3;

/** Time for a copy: a minute, plus ten seconds per GiB (a full, unsparse file at ~100 MB/s). */
function copyTimeoutMs(sizeGiB: number): number {
  return 60_000 + sizeGiB * 10_000;
}

/** Copy a volume file: reflink or hole-keeping copy into `.part`, then rename into place. */
export async function copyVolumeFile(host: Host, src: string, dst: string, sizeGiB: number, kind: string): Promise<void> {
  if (!(await host.exists(src))) throw new HitchError('HITCH_NOT_FOUND', { kind, id: src });
  const part = `${dst}.part`;
  await host.exec('cp', ['--reflink=auto', '--sparse=always', '--', src, part], { timeoutMs: copyTimeoutMs(sizeGiB) });
  await host.exec('mv', ['-f', '--', part, dst], { timeoutMs: 30_000 });
}

/** The directory's filesystem: its size and what is free on it (the files are sparse). */
export async function directoryCapacity(host: Host, dir: string): Promise<BackendCapacity> {
  const r = await host.exec('df', ['-B1', '--output=size,avail', '--', dir], { timeoutMs: 10_000, okCodes: 'any' });
  // "     1B-blocks        Avail\n270553174016  81367179264"
  const m = /(\d+)\s+(\d+)\s*$/.exec(r.stdout.trim());
  if (r.code !== 0 || !m) return { totalGiB: null, freeGiB: null };
  return { totalGiB: Math.floor(Number(m[1]) / GiB), freeGiB: Math.floor(Number(m[2]) / GiB) };
}
