/**
 * Issue 23, defect 7: secrets at rest were world-readable — hitch.db, -wal and -shm created 0644
 * (password hashes, CHAP secrets and connection_info inside), and HITCH_ADMIN_PASSWORD echoed in
 * the first-start banner. Now the data directory is 0700 and every file in it 0600, an older
 * loose one is tightened at start with a warning, and a password the operator gave is not printed.
 */
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startServer } from '../../src/server/serve.ts';

const root = mkdtempSync(join(tmpdir(), 'hitch-secrets-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Every path under `dir` (itself included) with its permission bits, in octal. */
function modes(dir: string): Record<string, string> {
  const out: Record<string, string> = { '.': (statSync(dir).mode & 0o7777).toString(8) };
  const walk = (d: string, rel: string): void => {
    for (const f of readdirSync(d)) {
      const st = statSync(join(d, f));
      out[`${rel}${f}`] = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) walk(join(d, f), `${rel}${f}/`);
    }
  };
  walk(dir, '');
  return out;
}

describe('secrets at rest', () => {
  it('a fresh data dir: the directory 0700, every file in it 0600, while running and after', async () => {
    const dir = join(root, 'fresh');
    const lines: string[] = [];
    const srv = await startServer({ dataDir: dir, port: 0, simSpeed: 0, logLevel: 'silent' }, {}, (l) => lines.push(l));
    try {
      const running = modes(dir);
      // The files that hold secrets are all there (the WAL and SHM while the database is open).
      expect(Object.keys(running).sort()).toEqual(expect.arrayContaining(['.', 'clouds.yaml', 'credentials.json', 'hitch.db', 'hitch.db-shm', 'hitch.db-wal']));
      for (const [p, m] of Object.entries(running)) expect(m, p).toBe(statSync(join(dir, p)).isDirectory() ? '700' : '600');
      expect(lines.filter((l) => l.startsWith('warning:'))).toEqual([]);
    } finally {
      await srv.stop();
    }
    for (const [p, m] of Object.entries(modes(dir))) expect(m, p).toBe(statSync(join(dir, p)).isDirectory() ? '700' : '600');
  });

  it('a data dir left loose is tightened at start, each change said', async () => {
    const dir = join(root, 'loose');
    const first = await startServer({ dataDir: dir, port: 0, simSpeed: 0, logLevel: 'silent' }, {}, () => undefined);
    await first.stop();
    chmodSync(dir, 0o755);
    for (const f of ['hitch.db', 'credentials.json', 'clouds.yaml']) chmodSync(join(dir, f), 0o644);
    const lines: string[] = [];
    const srv = await startServer({ dataDir: dir, port: 0, simSpeed: 0, logLevel: 'silent' }, {}, (l) => lines.push(l));
    try {
      expect(lines.filter((l) => l.startsWith('warning:'))).toEqual([
        `warning: ${dir} was readable by other users; made it 0700 (it holds the credentials and the database)`,
        ...['credentials.json', 'clouds.yaml', 'hitch.db'].map((f) => `warning: ${join(dir, f)} was readable by other users; made it 0600 (it holds secrets)`),
      ]);
      for (const [p, m] of Object.entries(modes(dir))) expect(m, p).toBe(statSync(join(dir, p)).isDirectory() ? '700' : '600');
    } finally {
      await srv.stop();
    }
  });

  it('a shared directory (sticky, like /tmp) is not changed, but the operator is told', async () => {
    const dir = join(root, 'shared');
    mkdirSync(dir);
    chmodSync(dir, 0o1777);
    writeFileSync(join(dir, 'unrelated'), 'x', { mode: 0o644 });
    const lines: string[] = [];
    const srv = await startServer({ dataDir: dir, port: 0, simSpeed: 0, logLevel: 'silent' }, {}, (l) => lines.push(l));
    try {
      expect(lines).toContain(`warning: ${dir} is open to other users and not this user's to change (shared or sticky); give Hitch a directory of its own with --data-dir`);
      expect(modes(dir)).toMatchObject({ '.': '1777', unrelated: '644', 'hitch.db': '600', 'credentials.json': '600', 'clouds.yaml': '600' });
    } finally {
      await srv.stop();
    }
  });

  it('HITCH_ADMIN_PASSWORD is never printed; a generated password is, once', async () => {
    const dir = join(root, 'env');
    const secret = 'Zq-operator-chose-this-9f3';
    const lines: string[] = [];
    const srv = await startServer({ dataDir: dir, port: 0, simSpeed: 0, logLevel: 'silent' }, { HITCH_ADMIN_PASSWORD: secret }, (l) => lines.push(l));
    try {
      expect(lines.join('\n')).not.toContain(secret);
      expect(lines).toContain('  admin  password as given (HITCH_ADMIN_PASSWORD or the config file; not printed)');
      expect(lines.some((l) => /^ {2}demo {3}password \S{10,}$/.test(l))).toBe(true);
      // It is the admin's password all the same.
      const r = await fetch(`${srv.url}/identity/v3/auth/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: 'admin', domain: { id: 'default' }, password: secret } } } } }),
      });
      expect(r.status).toBe(201);
    } finally {
      await srv.stop();
    }
  });
});
