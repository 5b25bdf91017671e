/**
 * The operation history from the command line: failed attaches survive a restart with their
 * trace (`hitch operations list --status failed`, `hitch explain ID`), Debian's `openstack server
 * event list` answers from the same journal, and retention (operationRetentionDays) removes
 * what is older at the next start.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/serve.ts';
import { cli, ROOT } from './support.ts';

const OPENSTACK = '/usr/bin/openstack';

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string; err: string }> {
  return new Promise((res) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += String(d)));
    child.stderr.on('data', (d) => (err += String(d)));
    child.once('exit', (code) => res({ code: code ?? -1, out, err }));
  });
}

describe('hitch operations', () => {
  let dir: string;
  let srv: RunningServer;
  const start = async (extra: Record<string, unknown> = {}): Promise<RunningServer> =>
    startServer({ dataDir: dir, port: 0, scenario: join(dir, 'dead.json'), simSpeed: 0, logLevel: 'silent', ...extra }, {}, () => undefined);
  const env = (): NodeJS.ProcessEnv => ({ HITCH_DATA_DIR: dir });
  const failed: string[] = [];

  beforeAll(async () => {
    // The seed with both portals dead behind a 30 s login: every attach rolls back.
    dir = mkdtempSync(join(tmpdir(), 'hitch-ops-'));
    const seed = JSON.parse(readFileSync(join(ROOT, 'src/sim/scenarios/seed.json'), 'utf8'));
    for (const p of Object.values(seed.portals) as object[]) Object.assign(p, { state: 'dead', loginTimeoutMs: 30_000 });
    writeFileSync(join(dir, 'dead.json'), JSON.stringify(seed));
    srv = await start();
    for (let i = 0; i < 2; i++) {
      const r = await cli(['attach', 'demo-server', 'demo-volume'], env());
      expect(r.code).toBe(1);
      failed.unshift(/operation ([0-9a-f-]{36})/.exec(r.out)?.[1] ?? '');
      await srv.cloud.settle();
    }
    await srv.stop();
    srv = await start();
  }, 180_000);
  afterAll(async () => {
    await srv?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the failed attaches after a restart, newest first, with the step, the code and the request id', async () => {
    const r = await cli(['operations', 'list', '--status', 'failed'], env());
    expect(r.code, r.err).toBe(0);
    const lines = r.out.split('\n');
    expect(lines[0]).toMatch(/^ID +Kind +State +Server +Volume +Asked at +Took +Error +Request$/);
    const rows = lines.filter((l) => /^[0-9a-f-]{36} /.test(l));
    expect(rows.map((l) => l.slice(0, 36))).toEqual(failed);
    for (const row of rows) {
      expect(row).toMatch(/ attach +rolled back +demo-server \([0-9a-f]{8}\) +demo-volume \([0-9a-f]{8}\) +\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ +\d+(\.\d)? s +HITCH_ISCSI_LOGIN_FAILED at connect-volume +req-[0-9a-f-]{36}$/);
    }
    expect(r.out).toContain(`trace of one: hitch explain ${failed[0]}`);
    // Nothing is done or running.
    expect((await cli(['operations', 'list', '--status', 'done'], env())).out).toBe('no operations');
    // A page of one says how to get the next.
    const page = await cli(['operations', 'list', '--limit', '1', '--status', 'failed'], env());
    expect(page.out).toContain(`more: hitch operations list --marker ${failed[0]} --status failed`);
    const next = await cli(['operations', 'list', '--limit', '1', '--status', 'failed', '--marker', failed[0] as string, '--json'], env());
    expect((JSON.parse(next.out) as { operations: { id: string }[] }).operations.map((o) => o.id)).toEqual([failed[1]]);
  });

  it('explains a failed attach from the history: its trace and its rollback', async () => {
    const r = await cli(['explain', failed[0] as string], env());
    expect(r.code, r.err).toBe(0);
    expect(r.out.split('\n')[0]).toMatch(new RegExp(`^attach ${failed[0]}: rolled_back \\(HITCH_ISCSI_LOGIN_FAILED\\), volume [0-9a-f-]{36}, server [0-9a-f-]{36}, request req-[0-9a-f-]{36}$`));
    expect(r.out).toMatch(/^connect-volume /m);
    expect(r.out).toMatch(/^rollback /m);
  });

  it('openstack server event list demo-server lists the failed attaches', async () => {
    expect(existsSync(OPENSTACK), `${OPENSTACK} (python3-openstackclient, scripts/install-test-peers.sh)`).toBe(true);
    const clouds = { PATH: '/usr/bin:/bin', HOME: dir, LANG: 'C.UTF-8', NO_PROXY: '*', OS_CLIENT_CONFIG_FILE: join(dir, 'clouds.yaml'), OS_CLOUD: 'hitch' };
    const r = await run(OPENSTACK, ['server', 'event', 'list', 'demo-server', '-f', 'json'], clouds);
    expect(r.code, r.err).toBe(0);
    const events = JSON.parse(r.out) as { 'Request ID': string; Action: string }[];
    const history = JSON.parse((await cli(['operations', 'list', '--status', 'failed', '--json'], env())).out) as { operations: { request_id: string }[] };
    for (const op of history.operations) expect(events).toContainEqual(expect.objectContaining({ 'Request ID': op.request_id, Action: 'attach_volume' }));
  }, 60_000);

  it('removes operations older than operationRetentionDays at start', async () => {
    // The older failed attach was asked for long ago.
    await sql`update operations set created_at = ${'2001-01-01T00:00:00.000Z'} where id = ${failed[1]}`.execute(srv.cloud.db.db);
    await srv.stop();
    srv = await start({ operationRetentionDays: 365 });
    const after = JSON.parse((await cli(['operations', 'list', '--json'], env())).out) as { operations: { id: string }[] };
    expect(after.operations.map((o) => o.id)).toEqual([failed[0]]);
    // Its trace went with it.
    const gone = await cli(['explain', failed[1] as string], env());
    expect(gone.code).toBe(1);
  });
});
