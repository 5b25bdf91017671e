/**
 * Which server was last started in a directory, so a client command there can say when it
 * talks to another one. The README's seed server runs with `--data-dir .data-seed`; a plain
 * `hitch volume list` in the same directory reads `./.data` and would talk, silently, to another
 * server (or none). `hitch serve` and `hitch api` note their data directory and URL per working
 * directory in `$XDG_STATE_HOME/hitch/servers.json` (default `~/.local/state`); a command that
 * uses the default data directory while the last server started here used another says so.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface ServeRecord {
  readonly dataDir: string;
  readonly url: string;
}

function stateFile(env: NodeJS.ProcessEnv): string | null {
  const base = env['XDG_STATE_HOME'] || (env['HOME'] ? join(env['HOME'], '.local', 'state') : null);
  return base ? join(base, 'hitch', 'servers.json') : null;
}

function readAll(file: string): Record<string, ServeRecord> {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, ServeRecord>) : {};
  } catch {
    return {};
  }
}

/** The server last started in `cwd`, if one was noted. */
export function lastServe(env: NodeJS.ProcessEnv, cwd: string): ServeRecord | null {
  const file = stateFile(env);
  const r = file ? readAll(file)[cwd] : undefined;
  return r && typeof r.dataDir === 'string' && typeof r.url === 'string' ? r : null;
}

/** Note that a server started in `cwd` (best effort: a read-only home changes nothing else). */
export function recordServe(env: NodeJS.ProcessEnv, cwd: string, r: ServeRecord): void {
  const file = stateFile(env);
  if (!file) return;
  try {
    const all = readAll(file);
    all[cwd] = { dataDir: r.dataDir, url: r.url };
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(`${file}.tmp`, `${JSON.stringify(all, null, 2)}\n`, { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  } catch {
    // Only a convenience for the next client command.
  }
}
