/**
 * Issue 23, defect 10: start-up that fails fast and clearly, and request bodies held to what
 * OpenStack accepts. Each case as it was found:
 * - `--data-dir /proc/x` spun in a recursive mkdir forever: now one line naming the path;
 * - `--bind 'bad host'` failed as an internal error (and, before, after credentials were
 *   written): now a 400-style argument error naming the value, with nothing written;
 * - a read-only data dir said "ENOENT mkdir": now it names the read-only file system;
 * - a corrupt database's error omitted its path; a 0-byte `hitch.db`, a file that is not SQLite
 *   and another program's SQLite database silently became a new, empty cloud: now each is
 *   refused with its path and the fix, and the file is left as it was;
 * - `text/plain`, form and XML bodies were parsed as JSON and accepted: now 415;
 * - a 10,000-character metadata key was accepted: now Cinder's 255 (keys and values).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type HitchTestApp } from '../../src/test-support/build-app.ts';
import { exitOf, ROOT, startHitch } from '../support/processes.ts';

const root = mkdtempSync(join(tmpdir(), 'hitch-start-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** `hitch serve` with `args`; it must exit non-zero with one line naming `expect`. */
async function refused(args: string[]): Promise<string> {
  const p = startHitch(['serve', '--port', '0', '--log-level', 'silent', ...args]);
  const { code } = await exitOf(p);
  expect(code, p.out() + p.err()).not.toBe(0);
  expect(p.out()).not.toContain('Hitch is running');
  return p.err();
}

describe('start-up fails fast and clearly', () => {
  it('--data-dir /proc/x: an error naming the path, no spin', async () => {
    const err = await refused(['--data-dir', '/proc/x']);
    expect(err).toMatch(/HITCH_DATA_DIR_UNUSABLE: The data directory \/proc\/x cannot be used: cannot create \/proc\/x/);
  });

  it("--bind 'bad host': refused before anything is written", async () => {
    const dir = join(root, 'bad-bind');
    const err = await refused(['--bind', 'bad host', '--data-dir', dir]);
    expect(err).toMatch(/HITCH_INVALID_ARGUMENT: .*--bind "bad host" is neither an IP address nor a host name/);
    expect(existsSync(dir), 'the data dir was created').toBe(false);
  });

  it('a read-only data dir names the read-only file system', async () => {
    const ro = join(root, 'ro');
    mkdirSync(ro);
    // A read-only tmpfs in a mount namespace of its own: read-only even for root.
    const r = spawnSync('unshare', ['-m', 'sh', '-c', `mount -t tmpfs -o ro tmpfs '${ro}' && exec '${process.execPath}' '${join(ROOT, 'bin/hitch.js')}' serve --port 0 --data-dir '${ro}/data'`], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { PATH: process.env['PATH'], HOME: process.env['HOME'], XDG_STATE_HOME: join(root, 'state') },
      timeout: 180_000,
    });
    expect(r.status, r.stdout + r.stderr).not.toBe(0);
    expect(r.stderr).toMatch(new RegExp(`HITCH_DATA_DIR_UNUSABLE: The data directory ${ro}/data cannot be used: ${ro}: it is on a read-only file system`));
  });

  for (const [name, make, says] of [
    ['a 0-byte hitch.db', (f: string) => writeFileSync(f, ''), /the file is empty \(0 bytes\), not a Hitch database/],
    ['a file that is not SQLite', (f: string) => writeFileSync(f, 'volume list\n'.repeat(100)), /it is not a SQLite database/],
    [
      "another program's SQLite database",
      (f: string) => {
        const db = new SQLite(f);
        db.exec('CREATE TABLE notes (x TEXT)');
        db.close();
      },
      /it is another program's SQLite database \(tables notes\)/,
    ],
  ] as const) {
    it(`${name} is refused with its path, not reinitialised`, async () => {
      const dir = join(root, name.replace(/\W+/g, '-'));
      mkdirSync(dir, { mode: 0o700 });
      const file = join(dir, 'hitch.db');
      make(file);
      const before = readFileSync(file);
      const err = await refused(['--data-dir', dir]);
      expect(err).toContain(`HITCH_DATABASE_UNUSABLE: The database ${file} cannot be used`);
      expect(err).toMatch(says);
      expect(readFileSync(file).equals(before), 'the file was changed').toBe(true);
      expect(readdirSync(dir)).toEqual(['hitch.db']);
    });
  }

  it("a corrupt database's error names its path", async () => {
    const dir = join(root, 'corrupt');
    mkdirSync(dir, { mode: 0o700 });
    const file = join(dir, 'hitch.db');
    // A real Hitch database first, then its schema pages overwritten.
    const p = startHitch(['serve', '--port', '0', '--log-level', 'silent', '--data-dir', dir]);
    await p.waitFor('Hitch is running');
    await p.stop();
    const bytes = readFileSync(file);
    bytes.fill(0xa5, 100, Math.min(bytes.length, 8192));
    writeFileSync(file, bytes);
    rmSync(`${file}-wal`, { force: true });
    rmSync(`${file}-shm`, { force: true });
    const err = await refused(['--data-dir', dir]);
    expect(err).toContain(`HITCH_DATABASE_UNUSABLE: The database ${file} cannot be used: it is corrupt`);
    expect(statSync(file).size).toBe(bytes.length);
  }, 400_000);
});

describe('request bodies: JSON only, metadata as Cinder limits it', () => {
  let t: HitchTestApp;
  let token = '';
  let project = '';
  beforeAll(async () => {
    t = await buildApp({ dbUrl: 'sqlite::memory:' });
    const r = await t.app.inject({
      method: 'POST',
      url: '/identity/v3/auth/tokens',
      payload: { auth: { identity: { methods: ['password'], password: { user: { name: 'demo', domain: { id: 'default' }, password: 'hitch-demo-secret' } } }, scope: { project: { name: 'demo', domain: { id: 'default' } } } } },
    });
    token = String(r.headers['x-subject-token']);
    project = (r.json() as { token: { project: { id: string } } }).token.project.id;
  });
  afterAll(async () => {
    await t?.close();
  });
  const post = (type: string | undefined, payload: string) =>
    t.app.inject({ method: 'POST', url: `/volume/v3/${project}/volumes`, headers: { 'x-auth-token': token, ...(type ? { 'content-type': type } : {}) }, payload });

  it('text/plain, form and XML bodies get 415 and create nothing', async () => {
    const body = JSON.stringify({ volume: { size: 1, name: 'sneaky' } });
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'text/xml; charset=utf-8']) {
      const r = await post(type, body);
      expect(r.statusCode, `${type}: ${r.body}`).toBe(415);
      expect(r.json()).toMatchObject({ badMediaType: { code: 415 } });
      expect(r.body).toContain('Unsupported Content-Type');
    }
    const list = await t.app.inject({ method: 'GET', url: `/volume/v3/${project}/volumes`, headers: { 'x-auth-token': token } });
    expect((list.json() as { volumes: unknown[] }).volumes).toEqual([]);
    // JSON in its spellings, and no content type at all, still work.
    for (const type of ['application/json', 'application/json; charset=UTF-8', undefined]) expect((await post(type, body)).statusCode, String(type)).toBe(202);
  });

  it('a metadata key or value over 255 characters is a 400', async () => {
    const create = (metadata: Record<string, string>) => post('application/json', JSON.stringify({ volume: { size: 1, metadata } }));
    expect((await create({ ['k'.repeat(10_000)]: 'v' })).statusCode).toBe(400);
    expect((await create({ ['k'.repeat(256)]: 'v' })).statusCode).toBe(400);
    expect((await create({ k: 'v'.repeat(256) })).statusCode).toBe(400);
    expect((await create({ '': 'v' })).statusCode).toBe(400);
    expect((await create({ ['k'.repeat(255)]: 'v'.repeat(255) })).statusCode).toBe(202);
  });
});
