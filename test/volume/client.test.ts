/**
 * The block storage client against a running Hitch on loopback (both flows), and its retry
 * and logging rules against a scripted transport.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConnectionInfo } from '../../src/brick/index.ts';
import { isHitchError } from '../../src/errors.ts';
import { buildApp, type HitchTestApp } from '../../src/test-support/build-app.ts';
import { BlockStorageClient } from '../../src/volume/client.ts';
import { token } from './test-helpers.ts';
import { iscsiData } from '../../src/test-support/iscsi-info.ts';

const INSTANCE = '11111111-2222-3333-4444-555555555555';
const CONNECTOR = { initiator: 'iqn.1993-08.org.debian:01:abcdef', ip: '127.0.0.1', host: 'compute1', multipath: true, platform: 'x86_64', os_type: 'linux' };

describe('BlockStorageClient against Hitch', () => {
  let t: HitchTestApp;
  let tok: string;
  let endpoint: string;
  const lines: string[] = [];

  beforeAll(async () => {
    t = await buildApp({ dbUrl: 'sqlite::memory:' });
    await t.listen();
    const a = await token(t);
    tok = a.token;
    endpoint = `${t.url}/volume/v3/${a.projectId}`;
  });
  afterAll(async () => t?.close());

  const client = (maxVersion?: string) => new BlockStorageClient({ endpoint, token: tok, maxVersion, log: (l) => lines.push(l) });

  it('negotiates the microversion from version discovery', async () => {
    expect(await client().negotiate()).toBe('3.70');
    expect(await client('3.80').negotiate()).toBe('3.71');
    const legacy = client('3.0');
    await legacy.negotiate();
    expect(legacy.supportsAttachments).toBe(false);
  });

  it('attachments flow: create → update → complete → delete', async () => {
    const c = client('3.54');
    const v = await c.createVolume({ size: 1, name: 'client-vol' });
    const a = await c.createAttachment({ volumeId: v.id, instanceUuid: INSTANCE, mode: 'rw' });
    expect(a.status).toBe('reserved');
    const u = await c.updateAttachment(a.id, CONNECTOR);
    expect(u.connection_info).toMatchObject({ driver_volume_type: 'iscsi', data: { target_iqn: `iqn.2010-10.org.openstack:volume-${v.id}` } });
    await c.completeAttachment(a.id);
    expect((await c.getVolume(v.id)).status).toBe('in-use');
    expect((await c.listAttachments({ volumeId: v.id })).map((x) => x.status)).toEqual(['attached']);
    await c.deleteAttachment(a.id);
    expect((await c.getVolume(v.id)).status).toBe('available');
    await c.deleteVolume(v.id);
  });

  it('legacy flow: reserve → initialize → attach → begin_detaching → terminate → detach', async () => {
    const c = client('3.0');
    const v = await c.createVolume({ size: 1 });
    await c.reserve(v.id);
    const info = parseConnectionInfo(await c.initializeConnection(v.id, CONNECTOR));
    expect(iscsiData(info).target_portals).toHaveLength(2);
    await c.attach(v.id, { instanceUuid: INSTANCE, mountpoint: '/dev/vdb' });
    expect((await c.getVolume(v.id)).status).toBe('in-use');
    await c.beginDetaching(v.id);
    await c.terminateConnection(v.id, CONNECTOR);
    await c.detach(v.id);
    expect((await c.getVolume(v.id)).status).toBe('available');
  });

  it('maps Cinder errors to the catalog: 404 and 400 keep the upstream message', async () => {
    const c = client();
    await expect(c.getVolume('00000000-0000-4000-8000-000000000000')).rejects.toSatisfy((e: unknown) => isHitchError(e, 'HITCH_NOT_FOUND') && /could not be found/.test(e.message));
    const v = await c.createVolume({ size: 1 });
    await c.reserve(v.id);
    await expect(c.reserve(v.id)).rejects.toSatisfy((e: unknown) => isHitchError(e, 'HITCH_INVALID_ARGUMENT') && /status must be available to reserve/.test(e.message));
  });

  it('logs each request as a curl line with the token only as {SHA1}', () => {
    const sha1 = createHash('sha1').update(tok).digest('hex');
    const req = lines.filter((l) => l.startsWith('REQ: curl -g -i -X '));
    expect(req.length).toBeGreaterThan(5);
    expect(req.some((l) => l.includes(`-H "X-Auth-Token: {SHA1}${sha1}"`))).toBe(true);
    expect(lines.some((l) => l.includes(tok))).toBe(false);
    // CHAP secrets come back in responses; they are never logged.
    expect(lines.some((l) => l.includes('auth_password'))).toBe(false);
  });
});

describe('BlockStorageClient retries', () => {
  const discovery = { versions: [{ id: 'v3.0', status: 'CURRENT', version: '3.71', min_version: '3.0' }] };
  const scripted = (statuses: number[], calls: string[]) =>
    (async (url: string | URL | Request, init?: RequestInit) => {
      const u = String(url);
      calls.push(`${init?.method ?? 'GET'} ${new URL(u).pathname}`);
      if (u.endsWith('/volume/')) return new Response(JSON.stringify(discovery), { status: 300 });
      const s = statuses.shift() ?? 200;
      return new Response(s === 200 ? JSON.stringify({ volume: { id: 'v', status: 'available' } }) : '{"computeFault": {"code": 500, "message": "boom"}}', { status: s });
    }) as typeof fetch;
  const mk = (statuses: number[], calls: string[]) =>
    new BlockStorageClient({ endpoint: 'http://127.0.0.1:1/volume/v3/p', token: 't', fetch: scripted(statuses, calls), sleep: async () => {} });

  it('retries GET on 500, 503 and 504, then succeeds', async () => {
    const calls: string[] = [];
    expect((await mk([500, 503, 504], calls).getVolume('v')).status).toBe('available');
    expect(calls.filter((c) => c.startsWith('GET /volume/v3/p/volumes/v'))).toHaveLength(4);
  });

  it('gives up after the retry budget with HITCH_UPSTREAM_ERROR', async () => {
    const calls: string[] = [];
    await expect(mk([500, 500, 500, 500, 500], calls).getVolume('v')).rejects.toSatisfy((e: unknown) => isHitchError(e, 'HITCH_UPSTREAM_ERROR'));
    expect(calls.filter((c) => c.startsWith('GET /volume/v3/p/volumes/v'))).toHaveLength(4);
  });

  it('never retries a non-idempotent action (POST)', async () => {
    const calls: string[] = [];
    await expect(mk([503], calls).reserve('v')).rejects.toSatisfy((e: unknown) => isHitchError(e, 'HITCH_UPSTREAM_UNAVAILABLE'));
    expect(calls.filter((c) => c.startsWith('POST'))).toHaveLength(1);
  });

  it('does not retry a 502 or a 4xx', async () => {
    const calls: string[] = [];
    await expect(mk([502], calls).getVolume('v')).rejects.toThrow();
    expect(calls.filter((c) => c.startsWith('GET /volume/v3/p/volumes/v'))).toHaveLength(1);
  });

  it('a DELETE retried after a 503 that then finds nothing has succeeded', async () => {
    const calls: string[] = [];
    await mk([503, 404], calls).deleteAttachment('a');
    expect(calls.filter((c) => c.startsWith('DELETE'))).toHaveLength(2);
  });
});
