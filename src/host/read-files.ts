/**
 * `Host.readFiles` for any Host: the Host's own batched read when it has one (one call, one
 * round trip to a remote host), else one `readFile` per path with "no such file" as null.
 */
import { isHitchError } from '../errors.ts';
import type { Host } from '../ports/host.ts';

export async function readFilesOf(host: Host, paths: readonly string[]): Promise<Array<string | null>> {
  if (host.readFiles) return host.readFiles(paths);
  return Promise.all(
    paths.map(async (p) => {
      try {
        return await host.readFile(p);
      } catch (e) {
        if (isHitchError(e, 'HITCH_PATH_NOT_FOUND')) return null;
        throw e;
      }
    }),
  );
}
