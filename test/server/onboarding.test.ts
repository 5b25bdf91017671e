/**
 * The traps a new user fell into, closed:
 * - a start that fails (a busy port) writes no credentials pointing at whoever holds the port;
 * - the banner says what this server is and suggests what works here, with its data directory;
 * - a client in a directory whose last server used another data directory says so;
 * - one size limit (config `maxVolumeSizeGiB`) for the API, the CLI and the dashboard;
 * - PostgreSQL that is not there, or not set up, is named with `hitch db init` as the way out.
 */
import { createServer, type Server } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordServe } from '../../src/cli/last-serve.ts';
import { openDatabase } from '../../src/db/open-database.ts';
import { isHitchError } from '../../src/errors.ts';
import { bannerLines, hitchFor, type BannerFacts } from '../../src/server/banner.ts';
import { resolveConfig } from '../../src/server/config.ts';
import { startServer, type RunningServer } from '../../src/server/serve.ts';
import { peerRequired, startPostgres, findPgBin, type PgCluster } from '../../src/test-support/postgres.ts';
import { cli, freePort } from '../cli/support.ts';

describe('a start on a busy port', () => {
  let holder: Server;
  let port: number;
  const dirs: string[] = [];
  beforeAll(async () => {
    port = await freePort();
    holder = createServer();
    await new Promise<void>((r) => holder.listen(port, '127.0.0.1', r));
  });
  afterAll(async () => {
    await new Promise((r) => holder.close(r));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('fails with the port named and writes no credentials', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hitch-busy-'));
    dirs.push(dir);
    const err = await startServer({ dataDir: dir, port, simSpeed: 0, logLevel: 'silent' }, {}, () => undefined).catch((e: unknown) => e);
    expect(isHitchError(err, 'HITCH_CONFLICT')).toBe(true);
    expect((err as Error).message).toBe(`cannot listen on 127.0.0.1:${port}: another process holds that port (EADDRINUSE). Stop it, or choose another port with --port.`);
    expect(existsSync(join(dir, 'credentials.json'))).toBe(false);
    expect(existsSync(join(dir, 'clouds.yaml'))).toBe(false);
  });

  it('leaves the credentials of the last start that worked as they were', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hitch-busy-'));
    dirs.push(dir);
    const first: RunningServer = await startServer({ dataDir: dir, port: 0, simSpeed: 0, logLevel: 'silent' }, {}, () => undefined);
    await first.stop();
    const before = readFileSync(join(dir, 'credentials.json'), 'utf8');
    await expect(startServer({ dataDir: dir, port, simSpeed: 0, logLevel: 'silent' }, {}, () => undefined)).rejects.toMatchObject({ code: 'HITCH_CONFLICT' });
    expect(readFileSync(join(dir, 'credentials.json'), 'utf8')).toBe(before);
    expect(before).toContain(first.url);
  });
});

describe('the banner', () => {
  const facts = (over: Partial<BannerFacts> & { cfg?: Record<string, unknown> } = {}): BannerFacts => {
    const { cfg, ...rest } = over;
    return {
      config: resolveConfig({ port: 8080, ...cfg }, {}),
      role: 'all-in-one',
      speed: 1,
      daemon: null,
      created: null,
      credentialsFile: '/somewhere/credentials.json',
      demoReady: true,
      agents: [],
      ...rest,
    };
  };

  it('suggests the demo attach with this server’s data directory when it is not the default', () => {
    expect(bannerLines(facts())).toContain('  try: hitch attach demo-server demo-volume');
    const lines = bannerLines(facts({ cfg: { dataDir: '.data-seed', scenario: 'seed' }, speed: 10 }));
    expect(lines).toContain('  try: hitch --data-dir ./.data-seed attach demo-server demo-volume');
    expect(lines).toContain('  data plane: simulated in this process, scenario seed, seed 1, 10x real time');
    expect(hitchFor(join(process.cwd(), '.data'))).toBe('hitch');
  });

  it('names the real data plane: the kernel\'s NVMe target on its portals, the hypervisor, the attach mode', () => {
    const lines = bannerLines(facts({ cfg: { backend: 'nvmet', virt: 'libvirt', nvmetPortals: '127.0.0.1:4420,127.0.0.2:4420' } }));
    expect(lines).toContain('  data plane: nvmet (NVMe/TCP) on 127.0.0.1:4420, 127.0.0.2:4420 + libvirt (qemu:///system), kernel initiator');
  });

  it('suggests no attach when the demo server or volume is not there', () => {
    const lines = bannerLines(facts({ demoReady: false }));
    expect(lines.some((l) => l.includes('attach'))).toBe(false);
    expect(lines).toContain('  try: hitch volume list; hitch server list');
  });

  it('for an API process: the daemon’s world it really uses, its agents, no demo server', () => {
    const lines = bannerLines(
      facts({ role: 'api', demoReady: false, cfg: { simSocket: '/tmp/hitch-sim.sock', databaseUrl: 'postgres://hitch:secret@127.0.0.1:5432/hitch' }, daemon: { scenario: 'three-hosts', seed: 7, hosts: ['compute-1', 'compute-2'] } }),
    );
    expect(lines).toContain('  data plane: simulated: the world of the simulator daemon at /tmp/hitch-sim.sock (scenario three-hosts, seed 7, hosts compute-1, compute-2; its clock, as the daemon paces it)');
    expect(lines.join('\n')).not.toContain('healthy-multipath');
    expect(lines.join('\n')).not.toContain('secret');
    expect(lines).toContain('  agents: none yet — start one per compute host: hitch agent --host NAME (same --database-url and data plane)');
    expect(lines.some((l) => l.includes('attach demo-server'))).toBe(false);
    expect(bannerLines(facts({ role: 'api', demoReady: false, agents: ['compute-1'] }))).toContain('  agents: compute-1');
  });

  it('says so when this data directory has no credentials that work', () => {
    const lines = bannerLines(facts({ credentialsFile: null, demoReady: false }));
    expect(lines.join('\n')).toContain("copy that process's credentials.json into");
    expect(lines.some((l) => l.includes('try:'))).toBe(false);
  });
});

describe('a client in a directory whose last server used another data directory', () => {
  const home = mkdtempSync(join(tmpdir(), 'hitch-lastserve-'));
  const here = mkdtempSync(join(tmpdir(), 'hitch-cwd-'));
  const before = process.cwd();
  let seedSrv: RunningServer;
  beforeAll(async () => {
    seedSrv = await startServer({ dataDir: join(here, '.data-seed'), port: 0, simSpeed: 0, logLevel: 'silent' }, {}, () => undefined);
    process.chdir(here);
    recordServe({ XDG_STATE_HOME: home }, here, { dataDir: seedSrv.config.dataDir, url: seedSrv.url });
  });
  afterAll(async () => {
    process.chdir(before);
    await seedSrv?.stop();
    for (const d of [home, here]) rmSync(d, { recursive: true, force: true });
  });

  it('names the last server and its data directory when ./.data has no credentials', async () => {
    const r = await cli(['volume', 'list'], { XDG_STATE_HOME: home });
    expect(r.code).toBe(1);
    expect(r.err).toBe(`hitch: HITCH_UNAUTHORIZED: no credentials in ./.data; the last server started in this directory (${seedSrv.url}) keeps them in ./.data-seed: run hitch --data-dir ./.data-seed …`);
  });

  it('says which it talks to when ./.data is another server’s, and nothing with --data-dir', async () => {
    const other = await startServer({ dataDir: join(here, '.data'), port: 0, simSpeed: 0, logLevel: 'silent' }, {}, () => undefined);
    try {
      const r = await cli(['volume', 'list'], { XDG_STATE_HOME: home });
      expect(r.code, r.err).toBe(0);
      expect(r.err).toBe(`hitch: note: using ./.data (${other.url}); the last server started in this directory was ${seedSrv.url} with ./.data-seed: add --data-dir ./.data-seed for that one`);
      const quiet = await cli(['--data-dir', '.data-seed', 'volume', 'list'], { XDG_STATE_HOME: home });
      expect(quiet.code).toBe(0);
      expect(quiet.err).toBe('');
    } finally {
      await other.stop();
    }
  });
});

describe('one size limit', () => {
  let srv: RunningServer;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hitch-size-'));
    srv = await startServer({ dataDir: dir, port: 0, simSpeed: 0, logLevel: 'silent' }, { HITCH_MAX_VOLUME_SIZE_GIB: '100' }, () => undefined);
  });
  afterAll(async () => {
    await srv?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the API refuses more than maxVolumeSizeGiB with Cinder’s 413, and the CLI says the same', async () => {
    const env = { HITCH_DATA_DIR: dir };
    const over = await cli(['volume', 'create', 'big', '--size', '101'], env);
    expect(over.code).toBe(1);
    expect(over.err).toBe("hitch: HITCH_VOLUME_TOO_LARGE: Requested volume size 101G is larger than maximum allowed limit 100G. Ask for 100 GiB or less (the server's maxVolumeSizeGiB setting).");
    const huge = await cli(['volume', 'create', 'huge', '--size', '999999999'], env);
    expect(huge.err).toMatch(/^hitch: HITCH_VOLUME_TOO_LARGE: Requested volume size 999999999G/);
    const ok = await cli(['volume', 'create', 'fits', '--size', '100', '--json'], env);
    expect(ok.code, ok.err).toBe(0);
    expect(JSON.parse(ok.out).size).toBe(100);
  });
});

const pgMissing = !findPgBin() && !process.env['HITCH_TEST_PG_URL'];
if (pgMissing && !peerRequired()) console.warn('skipping hitch db init: PostgreSQL is not installed (scripts/install-test-peers.sh)');
describe.skipIf(pgMissing && !peerRequired())('PostgreSQL for scale-out', () => {
  let cluster: PgCluster;
  beforeAll(async () => {
    cluster = await startPostgres();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  const targetUrl = (role: string): string => {
    const u = new URL(cluster.url);
    u.username = role;
    u.password = 'pw-not-printed';
    u.pathname = `/${role}`;
    return u.toString();
  };

  it('a role or database that does not exist yet is named, with hitch db init as the way out', async () => {
    const url = targetUrl(`hitch_missing_${process.pid}`);
    const e = await openDatabase(url).catch((x: unknown) => x);
    expect(isHitchError(e, 'HITCH_DATABASE_NOT_SET_UP')).toBe(true);
    const msg = (e as Error).message;
    expect(msg).toContain(`refused role hitch_missing_${process.pid} on database hitch_missing_${process.pid}`);
    expect(msg).toContain('hitch db init --database-url postgres://');
    expect(msg).not.toContain('pw-not-printed');
  });

  it('a server that is not there is named, not ECONNREFUSED alone', async () => {
    const port = await freePort();
    const e = await openDatabase(`postgres://hitch:pw-not-printed@127.0.0.1:${port}/hitch`).catch((x: unknown) => x);
    expect(isHitchError(e, 'HITCH_DATABASE_UNREACHABLE')).toBe(true);
    expect((e as Error).message).toMatch(new RegExp(`^Cannot reach PostgreSQL at 127\\.0\\.0\\.1:${port}: connection refused\\. Start PostgreSQL there`));
    expect((e as Error).message).not.toContain('pw-not-printed');
  });

  it('hitch db init creates the role, the database and the schema, and can run again', async () => {
    const role = `hitch_init_${process.pid}`;
    const url = targetUrl(role);
    const sql = await cli(['db', 'init', '--database-url', url, '--print-sql']);
    expect(sql.out.split('\n').slice(0, 2)).toEqual([`CREATE ROLE "${role}" LOGIN PASSWORD 'pw-not-printed';`, `CREATE DATABASE "${role}" OWNER "${role}";`]);
    const first = await cli(['db', 'init', '--database-url', url, '--admin-url', cluster.url]);
    expect(first.code, first.err).toBe(0);
    expect(first.out).toContain(': created the role, created the database; schema up to date');
    expect(first.out).not.toContain('pw-not-printed');
    const again = await cli(['db', 'init', '--database-url', url, '--admin-url', cluster.url]);
    expect(again.out).toContain(': the role was there, the database was there; schema up to date');
    // The schema belongs to the role: its tables are there and its own.
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const owners = await c.query("SELECT tablename, tableowner FROM pg_tables WHERE tablename IN ('volumes', 'servers', 'operations')");
      expect(owners.rows.map((r: { tablename: string }) => r.tablename).sort()).toEqual(['operations', 'servers', 'volumes']);
      expect(new Set(owners.rows.map((r: { tableowner: string }) => r.tableowner))).toEqual(new Set([role]));
    } finally {
      await c.end();
    }
  });
});
