/**
 * Compute against the block storage service of another process (`hitch serve --block-storage-url`,
 * issue 17): three processes —
 *
 *   the simulator daemon    `hitch sim serve` — the world: the array, the compute host's kernel, its hypervisor
 *   block storage           `hitch serve` (B) — its Keystone and its Cinder API export volumes on the array
 *   compute                 `hitch serve --block-storage-url http://B/identity/v3` (A) — its compute
 *                           authenticates at B's Keystone, takes the volume endpoint from the catalog,
 *                           and makes every storage call of attach and detach over HTTP to B
 *
 * A and B are one cloud's services on one database (as Nova and Cinder share a Keystone, so a
 * server's project is the volume's); the block storage calls cross processes. Both Cinder flows:
 * the attachments API and the legacy actions. A volume created on B is attached through A's
 * compute API, seen in-use on B, detached; then nothing is left on the host or the array.
 *
 * Nothing here is timed: every wait is bounded (BOUND_MS).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TINY_IMAGE_ID } from '../../src/compute/images.ts';
import { isHitchError } from '../../src/errors.ts';
import { printableConfig, resolveConfig } from '../../src/server/config.ts';
import { silentLogger } from '../../src/server/log.ts';
import { remoteBlockStorage } from '../../src/server/remote-block-storage.ts';
import { SimClient } from '../../src/sim/remote/client.ts';
import type { WorldSnapshot } from '../../src/sim/remote/protocol.ts';
import { freePort } from '../support/cloud.ts';
import { BOUND_MS, login, startHitch, until, type Api, type Proc } from '../support/processes.ts';

/** The API requests a process logged (its JSON log lines): `METHOD route status`. */
function requestsIn(out: string): Array<{ line: string; user: string | null }> {
  const found: Array<{ line: string; user: string | null }> = [];
  for (const l of out.split('\n')) {
    if (!l.startsWith('{')) continue;
    const r = JSON.parse(l) as { method?: string; route?: string; status?: number; user_id?: string | null };
    if (r.method && r.route && typeof r.status === 'number') found.push({ line: `${r.method} ${r.route} ${r.status}`, user: r.user_id ?? null });
  }
  return found;
}

/** The initiators the array exports volume `id`'s target to (its target is named after it). */
function aclsOf(w: WorldSnapshot, id: string): string[] {
  const targets = w.arrays.flatMap((a) => a.exports).filter((e) => e.target.endsWith(id));
  expect(targets).toHaveLength(1);
  return targets.flatMap((e) => e.acls.map((x) => x.initiator));
}

describe('compute in one process, block storage in another (blockStorageUrl)', () => {
  let dir = '';
  let socket = '';
  let daemon: Proc;
  let world: SimClient;
  let storage: Proc;
  let storageUrl = '';
  let storageDir = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hitch-remote-bs-'));
    socket = join(dir, 'sim.sock');
    daemon = startHitch(['sim', 'serve', '--scenario', 'healthy-multipath', '--socket', socket]);
    await daemon.waitFor('listening on');
    world = await SimClient.connect(socket);
    storageDir = join(dir, 'block-storage');
    const port = await freePort();
    storageUrl = `http://127.0.0.1:${port}`;
    storage = startHitch(['serve', '--port', String(port), '--data-dir', storageDir, '--sim-socket', socket, '--sim-speed', '0', '--log-format', 'json']);
    await storage.waitFor('Hitch is running');
  }, 2 * BOUND_MS);

  afterAll(async () => {
    await storage?.stop();
    await world?.close();
    await daemon?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each(['attachments', 'legacy'] as const)(
    'cinderFlow %s: attach through the compute API of one process, the volume in-use on the other, detach, nothing left',
    async (flow) => {
      const adminPassword = (JSON.parse(readFileSync(join(storageDir, 'credentials.json'), 'utf8')) as { admin: { password: string } }).admin.password;
      const port = await freePort();
      const computeUrl = `http://127.0.0.1:${port}`;
      const compute = startHitch(
        [
          'serve',
          '--port', String(port),
          '--data-dir', join(dir, `compute-${flow}`),
          '--database-url', `sqlite:${join(storageDir, 'hitch.db')}`,
          '--sim-socket', socket,
          '--sim-speed', '0',
          '--log-format', 'json',
          '--cinder-flow', flow,
          '--block-storage-url', `${storageUrl}/identity/v3`,
        ],
        // The password is never a flag (a process list would show it).
        { HITCH_BLOCK_STORAGE_PASSWORD: adminPassword },
      );
      try {
        await compute.waitFor('Hitch is running');
        expect(compute.out()).toContain(`compute uses the block storage service at ${storageUrl}/volume/v3/`);
        const onCompute: Api = await login(computeUrl, storageDir, 'demo');
        const onStorage: Api = await login(storageUrl, storageDir, 'demo');
        const status = async (id: string): Promise<{ status: string; attachments: Array<{ server_id: string }> }> =>
          (await onStorage.call('GET', `/volume/v3/${onStorage.projectId}/volumes/${id}`)).body.volume;

        const server = await onCompute.call('POST', '/compute/v2.1/servers', { server: { name: `guest-${flow}`, imageRef: TINY_IMAGE_ID, flavorRef: '1' } });
        expect(server.status).toBe(202);
        const serverId: string = server.body.server.id;
        await until('server ACTIVE', () => onCompute.call('GET', `/compute/v2.1/servers/${serverId}`), (r) => r.body?.server?.status === 'ACTIVE');
        const made = await onStorage.call('POST', `/volume/v3/${onStorage.projectId}/volumes`, { volume: { size: 1, name: `vol-${flow}` } });
        expect(made.status).toBe(202);
        const volumeId: string = made.body.volume.id;
        await until('volume available', () => status(volumeId), (v) => v.status === 'available');
        const before = requestsIn(storage.out()).length;

        const post = await onCompute.call('POST', `/compute/v2.1/servers/${serverId}/os-volume_attachments`, { volumeAttachment: { volumeId } });
        expect(post.status).toBe(200);
        const inUse = await until('volume in-use on the block storage process', () => status(volumeId), (v) => v.status === 'in-use');
        expect(inUse.attachments.map((a) => a.server_id)).toEqual([serverId]);
        // The host really connected: its initiator holds an ACL on the array's export, a session is up.
        const host = (await world.world()).hosts[0]!;
        expect(host.snapshot.sessions.length).toBeGreaterThan(0);
        expect(aclsOf(await world.world(), volumeId)).toEqual([host.initiator]);

        // The storage calls went over HTTP to the block storage process, as compute's admin, in this flow.
        const calls = requestsIn(storage.out()).slice(before).map((c) => c.line);
        if (flow === 'attachments') {
          expect(calls).toEqual(expect.arrayContaining([expect.stringMatching(/^POST \S*\/attachments 200$/), expect.stringMatching(/^PUT \S*\/attachments\/:\w+ 200$/), expect.stringMatching(/^POST \S*\/attachments\/:\w+\/action 204$/)]));
        } else {
          expect(calls.filter((l) => /^POST \S*\/volumes\/:\w+\/action 20\d$/.test(l)).length).toBeGreaterThanOrEqual(3);
          expect(calls.some((l) => /attachments/.test(l))).toBe(false);
        }
        // … and none to the compute process's own block storage API.
        expect(requestsIn(compute.out()).filter((c) => c.line.includes('/volume/'))).toEqual([]);

        const del = await onCompute.call('DELETE', `/compute/v2.1/servers/${serverId}/os-volume_attachments/${volumeId}`);
        expect(del.status).toBe(202);
        const after = await until('volume available again on the block storage process', () => status(volumeId), (v) => v.status === 'available');
        expect(after.attachments).toEqual([]);
        // The detach's last step forgets the mapping: then the operation is over.
        await until('no volume mapped to the server', () => onCompute.call('GET', `/compute/v2.1/servers/${serverId}/os-volume_attachments`), (r) => r.body?.volumeAttachments?.length === 0);
        const w = await world.world();
        for (const h of w.hosts) expect(h.leftovers, h.name).toEqual([]);
        expect(aclsOf(w, volumeId)).toEqual([]);
      } finally {
        await compute.stop();
      }
    },
    2 * BOUND_MS,
  );
});

describe('the blockStorageUrl configuration', () => {
  const env = { HITCH_BLOCK_STORAGE_PASSWORD: 's3cret-Pw' };

  it('takes a Keystone v3 URL and a password, and masks the password when printed', () => {
    const cfg = resolveConfig({ blockStorageUrl: 'http://127.0.0.1:9/identity/v3/' }, env);
    expect(cfg.blockStorageUrl).toBe('http://127.0.0.1:9/identity/v3');
    expect([cfg.blockStorageUser, cfg.blockStorageProject]).toEqual(['admin', 'admin']);
    expect(JSON.stringify(printableConfig(cfg))).not.toContain('s3cret-Pw');
    expect(resolveConfig({}, {}).blockStorageUrl).toBeNull();
  });

  it('refuses a URL that is not a Keystone v3 endpoint, and a URL without a password', () => {
    expect(() => resolveConfig({ blockStorageUrl: 'http://127.0.0.1:9' }, env)).toThrow(/blockStorageUrl: .*ending in \/v3 \(a Hitch: http:\/\/HOST:PORT\/identity\/v3\)/);
    expect(() => resolveConfig({ blockStorageUrl: 'ftp://h/v3' }, env)).toThrow(/blockStorageUrl/);
    expect(() => resolveConfig({ blockStorageUrl: 'http://user:pw@h/v3' }, env)).toThrow(/blockStorageUrl/);
    expect(() => resolveConfig({ blockStorageUrl: 'http://127.0.0.1:9/identity/v3' }, {})).toThrow(/blockStoragePassword: needed with blockStorageUrl/);
  });

  it('refuses an in-process simulated data plane, whose world cannot reach the remote targets', async () => {
    const cfg = resolveConfig({ blockStorageUrl: 'http://127.0.0.1:9/identity/v3' }, env);
    await expect(remoteBlockStorage(cfg, silentLogger())).rejects.toThrow(/--sim-socket/);
  });

  it('names the Keystone it cannot reach, never the password', async () => {
    const port = await freePort();
    const cfg = resolveConfig({ blockStorageUrl: `http://127.0.0.1:${port}/identity/v3`, simSocket: '/nonexistent/sim.sock' }, env);
    const e = await remoteBlockStorage(cfg, silentLogger()).catch((x: unknown) => x);
    expect(isHitchError(e, 'HITCH_UPSTREAM_UNAVAILABLE')).toBe(true);
    expect((e as Error).message).toContain(`http://127.0.0.1:${port}/identity/v3/auth/tokens`);
    expect(JSON.stringify(e)).not.toContain('s3cret-Pw');
  });
});
