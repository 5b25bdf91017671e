/**
 * Issue 23, defect 5: with `BEGIN EXCLUSIVE` held on the SQLite database by another process,
 * writes answered 500 "database is locked" after 5 s, and `/healthz` waited as long, because
 * better-sqlite3's busy wait blocked the event loop. Now the wait is asynchronous: `/healthz`
 * answers while a write waits, the write ends 503 with `Retry-After` in Cinder's error body,
 * reads work meanwhile (WAL), and once the lock is released, writes work again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCredentials, startServer, type RunningServer } from '../../src/server/serve.ts';
import { ROOT } from '../cli/support.ts';

let dir: string;
let srv: RunningServer;
let holder: ChildProcess | undefined;

/** Another process holding the database in an exclusive transaction until its stdin closes. */
function holdExclusive(file: string): Promise<ChildProcess> {
  const code = `const D = require('better-sqlite3'); const db = new D(${JSON.stringify(file)}); db.exec('BEGIN EXCLUSIVE'); process.stdout.write('locked\\n'); process.stdin.on('end', () => { db.exec('ROLLBACK'); db.close(); process.exit(0); }); process.stdin.resume();`;
  const child = spawn(process.execPath, ['-e', code], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout?.once('data', () => resolve(child));
    child.once('exit', (c) => reject(new Error(`the lock holder exited with ${c}`)));
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hitch-db-locked-'));
  srv = await startServer({ dataDir: join(dir, 'data'), port: 0, simSpeed: 0, logLevel: 'silent' }, {}, () => undefined);
});
afterAll(async () => {
  holder?.stdin?.end();
  await srv?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a SQLite database locked by another process', () => {
  it('keeps /healthz answering while a write waits, answers the write 503 with Retry-After, reads meanwhile, and writes once released', async () => {
    const creds = readCredentials(join(dir, 'data'));
    const login = await fetch(`${srv.url}/identity/v3/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: 'demo', domain: { id: 'default' }, password: creds?.demo.password } } }, scope: { project: { name: 'demo', domain: { id: 'default' } } } } }),
    });
    expect(login.status).toBe(201);
    const token = String(login.headers.get('x-subject-token'));
    const project = ((await login.json()) as { token: { project: { id: string } } }).token.project.id;
    const volumes = `${srv.url}/volume/v3/${project}/volumes`;
    const headers = { 'x-auth-token': token, 'content-type': 'application/json' };
    const create = (name: string) => fetch(volumes, { method: 'POST', headers, body: JSON.stringify({ volume: { size: 1, name } }) });

    holder = await holdExclusive(join(dir, 'data', 'hitch.db'));
    let settled = false;
    const write = create('while-locked').then((r) => ((settled = true), r));
    // Served while the write is still waiting for the lock: the event loop is free. (Reads wait
    // their turn for the one SQLite connection the write holds.)
    const health = await fetch(`${srv.url}/healthz`);
    expect(health.status).toBe(200);
    expect(settled).toBe(false);

    const r = await write;
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toBe('1');
    const body = (await r.json()) as Record<string, { code: number; message: string }>;
    expect(Object.values(body)[0]).toMatchObject({ code: 503, message: expect.stringMatching(/^The database is locked by another process; gave up after \d+ ms/) });
    expect(JSON.stringify(body)).not.toMatch(/SQLITE_BUSY|SqliteError|: database is locked/);
    // Reads work under the lock; nothing was created by the refused write.
    const names = ((await (await fetch(`${volumes}/detail`, { headers })).json()) as { volumes: { name: string }[] }).volumes.map((v) => v.name);
    expect(names).not.toContain('while-locked');

    holder.stdin?.end();
    await new Promise((res) => holder?.once('exit', res));
    holder = undefined;
    const after = await create('after-release');
    expect(after.status, await after.clone().text()).toBe(202);
  });
});
