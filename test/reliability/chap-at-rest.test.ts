/**
 * Issue 23, deliver 7: CHAP secrets at rest. Before, `grep -a` of hitch.db's WAL printed a
 * volume's CHAP password nine times (the volume's provider_location, the attachment's and the
 * mapping's connection_info), and `GET /attachments/detail` gave it to any project member.
 *
 * Now those columns are sealed with AES-256-GCM under a key outside the database (the data dir's
 * secret.key, or the config key secretKey), a database an older Hitch left in clear is sealed at
 * start, and only an admin (compute's service user) is answered the password.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEALED_COLUMNS } from '../../src/db/sealed-columns.ts';
import { SecretBox } from '../../src/db/secret-box.ts';
import { findPgBin, peerRequired, startPostgres, type PgCluster } from '../../src/test-support/postgres.ts';
import { startTestCloud, volumeAndServer, type TestCloud } from '../support/cloud.ts';

/** How many times `needle` occurs in each file of `dir` whose name starts with `prefix`. */
function grepA(dir: string, prefix: string, needle: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of readdirSync(dir).filter((n) => n.startsWith(prefix))) {
    const buf = readFileSync(join(dir, f));
    let n = 0;
    for (let i = buf.indexOf(needle); i >= 0; i = buf.indexOf(needle, i + 1)) n++;
    out[f] = n;
  }
  return out;
}

/** A volume attached to a server through the compute API; its CHAP password as the admin reads it. */
async function attached(t: TestCloud): Promise<{ token: string; volumeId: string; serverId: string; attachmentId: string; password: string }> {
  const { token, volumeId, serverId } = await volumeAndServer(t);
  const a = await t.api('POST', `/compute/v2.1/servers/${serverId}/os-volume_attachments`, { token, body: { volumeAttachment: { volumeId } } });
  expect(a.status, JSON.stringify(a.body)).toBe(200);
  await t.cloud.settle();
  const admin = (await t.token('admin')).token;
  const h = { 'openstack-api-version': 'volume 3.44' };
  const list = await t.api('GET', `/volume/v3/attachments/detail?all_tenants=1&volume_id=${volumeId}`, { token: admin, headers: h });
  expect(list.status, JSON.stringify(list.body)).toBe(200);
  const att = list.body.attachments[0];
  expect(att.connection_info.data.auth_method).toBe('CHAP');
  const password = att.connection_info.data.auth_password as string;
  expect(password.length).toBeGreaterThanOrEqual(16);
  return { token, volumeId, serverId, attachmentId: att.id, password };
}

describe('CHAP secrets at rest (SQLite)', () => {
  let t: TestCloud;
  beforeAll(async () => {
    t = await startTestCloud({});
  });
  afterAll(async () => {
    await t?.close();
  });

  it('grep -a of hitch.db, -wal and -shm finds no CHAP password; the key is a 0600 file beside them', async () => {
    const { password } = await attached(t);
    const dir = t.config.dataDir;
    const found = grepA(dir, 'hitch.db', password);
    expect(Object.keys(found).sort()).toEqual(['hitch.db', 'hitch.db-shm', 'hitch.db-wal']);
    expect(found).toEqual({ 'hitch.db': 0, 'hitch.db-shm': 0, 'hitch.db-wal': 0 });
    expect((statSync(join(dir, 'secret.key')).mode & 0o777).toString(8)).toBe('600');
    // The rows as SQLite holds them: every secret column sealed.
    const raw = new SQLite(join(dir, 'hitch.db'), { readonly: true });
    try {
      for (const [table, cols] of Object.entries(SEALED_COLUMNS)) {
        for (const c of cols) {
          const vals = (raw.prepare(`SELECT ${c} AS v FROM ${table} WHERE ${c} IS NOT NULL`).all() as { v: string }[]).map((r) => r.v);
          for (const v of vals) expect(v, `${table}.${c}`).toMatch(/^hitch-sealed:v1:/);
        }
      }
      expect((raw.prepare('SELECT count(*) AS n FROM bdms WHERE connection_info IS NOT NULL').get() as { n: number }).n).toBeGreaterThan(0);
    } finally {
      raw.close();
    }
  });

  it('a project member is never answered the password; the admin (compute over REST) is', async () => {
    const { token, volumeId, attachmentId, password } = await attached(t);
    const h = { 'openstack-api-version': 'volume 3.44' };
    const answers = [
      await t.api('GET', `/volume/v3/attachments/detail?volume_id=${volumeId}`, { token, headers: h }),
      await t.api('GET', `/volume/v3/attachments/${attachmentId}`, { token, headers: h }),
    ];
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(JSON.stringify(a.body)).toContain('"auth_method":"CHAP"');
      expect(JSON.stringify(a.body)).not.toContain(password);
    }
    // The legacy initialize_connection, as a member and as the admin, of another volume.
    const { projectId } = await t.token('demo');
    const v = await t.api('POST', `/volume/v3/${projectId}/volumes`, { token, body: { volume: { size: 1, name: 'legacy' } } });
    const connector = { initiator: 'iqn.1993-08.org.debian:01:abc', ip: '127.0.0.1', host: 'compute-1', multipath: false, platform: 'x86_64', os_type: 'linux' };
    const member = await t.api('POST', `/volume/v3/volumes/${v.body.volume.id}/action`, { token, body: { 'os-initialize_connection': { connector } } });
    expect(member.status, JSON.stringify(member.body)).toBe(200);
    expect(member.body.connection_info.data.auth_method).toBe('CHAP');
    expect(member.body.connection_info.data.auth_password).toBeUndefined();
    const admin = await t.api('POST', `/volume/v3/volumes/${v.body.volume.id}/action`, { token: (await t.token('admin')).token, body: { 'os-initialize_connection': { connector } } });
    expect(admin.status, JSON.stringify(admin.body)).toBe(200);
    expect(admin.body.connection_info.data.auth_password).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('CHAP secrets an older Hitch stored in clear', () => {
  it('are sealed at the next start, gone from the files, and still answered to the admin', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hitch-chap-old-'));
    try {
      const first = await startTestCloud({ dataDir: dir });
      const { password, attachmentId } = await attached(first);
      await first.close();
      // As an older Hitch left it: every secret column in clear.
      const box = new SecretBox(Buffer.from(readFileSync(join(dir, 'secret.key'), 'utf8').trim(), 'base64'));
      const raw = new SQLite(join(dir, 'hitch.db'));
      for (const [table, cols] of Object.entries(SEALED_COLUMNS)) {
        for (const c of cols) {
          for (const r of raw.prepare(`SELECT id, ${c} AS v FROM ${table} WHERE ${c} IS NOT NULL`).all() as { id: string; v: string }[]) {
            raw.prepare(`UPDATE ${table} SET ${c} = ? WHERE id = ?`).run(box.open(r.v), r.id);
          }
        }
      }
      raw.pragma('wal_checkpoint(TRUNCATE)');
      raw.close();
      expect(grepA(dir, 'hitch.db', password)['hitch.db']).toBeGreaterThan(0);

      const again = await startTestCloud({ dataDir: dir });
      try {
        expect(Object.values(grepA(dir, 'hitch.db', password))).toEqual([0, 0, 0]);
        const h = { 'openstack-api-version': 'volume 3.44' };
        const a = await again.api('GET', `/volume/v3/attachments/${attachmentId}`, { token: (await again.token('admin')).token, headers: h });
        expect(a.body.attachment.connection_info.data.auth_password).toBe(password);
      } finally {
        await again.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a database sealed under another key answers 503 naming the fix, never the value', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hitch-chap-key-'));
    try {
      const first = await startTestCloud({ dataDir: dir });
      const { attachmentId, password } = await attached(first);
      await first.close();
      const other = await startTestCloud({ dataDir: dir, secretKey: randomBytes(32).toString('base64') });
      try {
        const h = { 'openstack-api-version': 'volume 3.44' };
        const a = await other.api('GET', `/volume/v3/attachments/${attachmentId}`, { token: (await other.token('admin')).token, headers: h });
        expect(a.status).toBe(503);
        expect(a.body.serviceUnavailable.message).toContain("does not open with this process's key");
        expect(JSON.stringify(a.body)).not.toContain(password);
      } finally {
        await other.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const pgMissing = !findPgBin() && !process.env['HITCH_TEST_PG_URL'];
if (pgMissing && !peerRequired()) console.warn('[hitch] skipping CHAP-at-rest on PostgreSQL: PostgreSQL not installed (scripts/install-test-peers.sh)');

(pgMissing && !peerRequired() ? describe.skip : describe)('CHAP secrets at rest (PostgreSQL)', () => {
  let cluster: PgCluster;
  let t: TestCloud;
  let url: string;
  beforeAll(async () => {
    cluster = await startPostgres();
    url = await cluster.createDatabase();
    t = await startTestCloud({ databaseUrl: url });
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await cluster?.stop();
  });

  it('no text column of any table holds the password; the secret columns are sealed', async () => {
    const { password } = await attached(t);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const cols = (await c.query<{ table_name: string; column_name: string }>(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'json', 'jsonb')",
      )).rows;
      expect(cols.length).toBeGreaterThan(20);
      const hits: string[] = [];
      for (const { table_name: tb, column_name: col } of cols) {
        const r = await c.query(`SELECT count(*)::int AS n FROM "${tb}" WHERE "${col}"::text LIKE $1`, [`%${password}%`]);
        if (r.rows[0].n > 0) hits.push(`${tb}.${col}`);
      }
      expect(hits).toEqual([]);
      const sealed = await c.query<{ connection_info: string }>('SELECT connection_info FROM bdms WHERE connection_info IS NOT NULL');
      expect(sealed.rows.length).toBeGreaterThan(0);
      for (const r of sealed.rows) expect(r.connection_info).toMatch(/^hitch-sealed:v1:/);
    } finally {
      await c.end();
    }
  });
});
