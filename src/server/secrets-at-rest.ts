/**
 * The data directory holds the credentials, clouds.yaml and (with SQLite) the database: password
 * hashes, CHAP secrets, connection_info. It is the owner's alone — the directory 0700, those files
 * 0600. New ones are created so (`writeSecret`, `db/private-file.ts`); a data directory left by an
 * older Hitch, or loosened by hand, is tightened at start, each change said in one line.
 */
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tightenMode } from '../db/private-file.ts';
import type { HitchConfig } from './config.ts';

/** The files of `config` that hold secrets: credentials, clouds.yaml, the key that seals CHAP secrets, and the SQLite database with its WAL and SHM. */
export function secretFiles(config: Pick<HitchConfig, 'dataDir' | 'databaseUrl'>): string[] {
  const files = [join(config.dataDir, 'credentials.json'), join(config.dataDir, 'clouds.yaml'), join(config.dataDir, 'secret.key')];
  if (config.databaseUrl.startsWith('sqlite:')) {
    const db = config.databaseUrl.slice('sqlite:'.length);
    if (db !== ':memory:') files.push(...['', '-wal', '-shm'].map((x) => `${resolve(db)}${x}`));
  }
  return files;
}

/** Tighten the data directory to 0700 and its secret files to 0600; the warnings to print. */
export function tightenDataDir(config: Pick<HitchConfig, 'dataDir' | 'databaseUrl'>): string[] {
  const out: string[] = [];
  if (tightenMode(config.dataDir, 0o700)) out.push(`warning: ${config.dataDir} was readable by other users; made it 0700 (it holds the credentials and the database)`);
  else if ((statSync(config.dataDir).mode & 0o077) !== 0) out.push(`warning: ${config.dataDir} is open to other users and not this user's to change (shared or sticky); give Hitch a directory of its own with --data-dir`);
  for (const f of secretFiles(config)) if (tightenMode(f, 0o600)) out.push(`warning: ${f} was readable by other users; made it 0600 (it holds secrets)`);
  return out;
}
