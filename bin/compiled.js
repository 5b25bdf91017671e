// Which entry `hitch` runs: the compiled dist/cli/main.js while it is up to date with src/,
// else null (bin/hitch.js then compiles the sources on the fly through tsx). Up to date means
// dist/.sources exists (scripts/build.mjs writes it last) and no source file it lists has been
// modified since that build started. A file added since is reached only through an import
// from a listed file, whose change is seen. Plain JavaScript: it runs before anything compiles.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** @param {string} root the repository (or package) directory */
export function compiledEntry(root) {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(join(root, 'dist', '.sources'), 'utf8'));
  } catch {
    return null;
  }
  if (typeof manifest?.startedMs !== 'number' || !Array.isArray(manifest.files)) return null;
  for (const f of manifest.files) {
    const st = statSync(join(root, f), { throwIfNoEntry: false });
    // A listed file that is gone or changed: the build no longer matches the sources. (A
    // package shipped without src/ has no sources to be newer than dist/.)
    if (st === undefined) {
      if (statSync(join(root, 'src'), { throwIfNoEntry: false }) === undefined) continue;
      return null;
    }
    if (st.mtimeMs > manifest.startedMs) return null;
  }
  return pathToFileURL(join(root, 'dist', 'cli', 'main.js')).href;
}
