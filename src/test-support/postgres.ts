/**
 * A throwaway PostgreSQL cluster for tests, from Debian's postgresql-15 binaries.
 *
 * initdb into a temp dir, start on a free loopback port with its unix socket in that same dir,
 * hand out one fresh database per caller, stop and remove everything at the end. As root,
 * PostgreSQL refuses to run, so every binary runs as the `postgres` user through runuser.
 *
 * If `HITCH_TEST_PG_URL` is set (e.g. by a vitest globalSetup that started one cluster for the
 * whole run, see `pg-global-setup.ts`), that server is used instead and nothing is started.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

const PG_BIN_DIRS = ['/usr/lib/postgresql/17/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/15/bin'];

export interface PgCluster {
  /** Admin URL (database `postgres`). */
  readonly url: string;
  /** Create an empty database and return its URL. */
  createDatabase(name?: string): Promise<string>;
  stop(): Promise<void>;
}

/** The directory of initdb/pg_ctl, or null when PostgreSQL is not installed. */
export function findPgBin(): string | null {
  return PG_BIN_DIRS.find((d) => existsSync(join(d, 'pg_ctl'))) ?? null;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function asPostgres(bin: string, args: string[]): [string, string[]] {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  return isRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
}

let dbCounter = 0;

function clusterFromUrl(url: string, stop: () => Promise<void>): PgCluster {
  return {
    url,
    async createDatabase(name?: string) {
      const dbName = name ?? `hitch_${process.pid}_${Date.now().toString(36)}_${dbCounter++}`;
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE "${dbName.replace(/"/g, '')}"`);
      } finally {
        await client.end();
      }
      const u = new URL(url);
      u.pathname = `/${dbName}`;
      return u.toString();
    },
    stop,
  };
}

export interface StartPostgresOptions {
  /**
   * Keep the cluster in this directory (its data in `dir/data`) across runs: made the first time,
   * started again after, and left on disk at `stop()`. The bench keeps its million-volume fleet
   * so: loading it takes minutes on a shared machine, measuring it seconds.
   */
  readonly keepDir?: string;
}

/** Start a private cluster (or reuse `HITCH_TEST_PG_URL`). */
export async function startPostgres(o: StartPostgresOptions = {}): Promise<PgCluster> {
  const shared = process.env.HITCH_TEST_PG_URL;
  if (shared && !o.keepDir) return clusterFromUrl(shared, async () => {});
  const binDir = findPgBin();
  if (!binDir) throw new Error('PostgreSQL is not installed (run scripts/install-test-peers.sh)');
  const dir = o.keepDir ?? mkdtempSync(join(tmpdir(), 'hitch-pg-'));
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o777);
  const data = join(dir, 'data');
  const port = await freePort();
  const sh = async (bin: string, args: string[]) => {
    const [cmd, argv] = asPostgres(join(binDir, bin), args);
    return run(cmd, argv, { timeout: 60_000 });
  };
  if (!existsSync(join(data, 'PG_VERSION'))) await sh('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  await sh('pg_ctl', [
    '-D', data, '-l', join(dir, 'log'), '-w', '-t', '60',
    '-o', `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c max_connections=200`,
    'start',
  ]);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return clusterFromUrl(url, async () => {
    if (o.keepDir) {
      // A clean stop: the next start finds the data as it was, without recovery.
      await sh('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
      return;
    }
    try {
      await sh('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

/**
 * Whether tests that need `peer` must fail (CI) or may skip. Outside CI a missing peer is a
 * skip with a clear message; under `CI=true` it is a failure.
 */
export function peerRequired(): boolean {
  return process.env.CI === 'true';
}
