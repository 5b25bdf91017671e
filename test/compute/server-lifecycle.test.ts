/**
 * Servers through the compute API: create (placed on a compute host, built in the background),
 * list, detail, show with microversion-gated fields, flavors, and delete — which detaches every
 * volume first, as Nova does, so no volume stays in-use on a server that is gone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leftovers } from '../../src/sim/inspect.ts';
import { startTestCloud, volumeAndServer, type TestCloud } from '../support/cloud.ts';
import { TINY_IMAGE_ID } from '../../src/compute/images.ts';

describe('server lifecycle', () => {
  let t: TestCloud;
  beforeAll(async () => {
    t = await startTestCloud({ scenario: 'healthy-multipath' });
  });
  afterAll(async () => t?.close());

  it('answers version discovery and negotiates microversions, old and new header', async () => {
    const root = await t.api('GET', '/compute/v2.1');
    expect(root.body.version).toMatchObject({ id: 'v2.1', status: 'CURRENT', min_version: '2.1', version: '2.90' });
    const { token } = await t.token('demo');
    const a = await t.api('GET', '/compute/v2.1/flavors', { token, headers: { 'X-OpenStack-Nova-API-Version': '2.60' } });
    expect(a.headers.get('openstack-api-version')).toBe('compute 2.60');
    const b = await t.api('GET', '/compute/v2.1/flavors/detail', { token, headers: { 'OpenStack-API-Version': 'compute latest' } });
    expect(b.headers.get('openstack-api-version')).toBe('compute 2.90');
    expect(b.body.flavors.map((f: { name: string }) => f.name)).toContain('m1.tiny');
    const bad = await t.api('GET', '/compute/v2.1/flavors', { token, headers: { 'OpenStack-API-Version': 'compute 2.999' } });
    expect(bad.status).toBe(406);
  });

  it('create, show by microversion, list, and delete detaching the volume first', async () => {
    const { token, volumeId, serverId } = await volumeAndServer(t);
    const old = await t.api('GET', `/compute/v2.1/servers/${serverId}`, { token });
    expect(old.body.server).toMatchObject({ id: serverId, status: 'ACTIVE', flavor: { id: '1' } });
    expect(old.body.server).not.toHaveProperty('locked');
    const recent = await t.api('GET', `/compute/v2.1/servers/${serverId}`, { token, headers: { 'OpenStack-API-Version': 'compute 2.79' } });
    expect(recent.body.server).toMatchObject({ locked: false, tags: [], flavor: { original_name: 'm1.tiny', vcpus: 1 } });
    expect((await t.api('GET', '/compute/v2.1/servers', { token })).body.servers.map((s: { id: string }) => s.id)).toContain(serverId);

    await t.api('POST', `/compute/v2.1/servers/${serverId}/os-volume_attachments`, { token, body: { volumeAttachment: { volumeId } } });
    await t.cloud.settle();
    const attached = await t.api('GET', `/compute/v2.1/servers/${serverId}`, { token, headers: { 'OpenStack-API-Version': 'compute 2.79' } });
    expect(attached.body.server['os-extended-volumes:volumes_attached']).toEqual([{ id: volumeId, delete_on_termination: false }]);

    expect((await t.api('DELETE', `/compute/v2.1/servers/${serverId}`, { token })).status).toBe(204);
    await t.cloud.settle();
    expect((await t.api('GET', `/compute/v2.1/servers/${serverId}`, { token })).status).toBe(404);
    expect((await t.api('GET', `/volume/v3/volumes/${volumeId}`, { token })).body.volume.status).toBe('available');
    expect(leftovers(t.cloud.sim!.host(t.cloud.hosts[0]!.name))).toEqual([]);
    const hv = t.cloud.hosts[0]!.hypervisor as unknown as { domains(): Array<{ uuid: string }> };
    expect(hv.domains().map((d) => d.uuid)).not.toContain(serverId);
  });

  it('lists in pages: name (whole and ^prefix), status, changes-since, sort keys, limit and marker, all_tenants for admins only', async () => {
    const { token } = await t.token('demo');
    const admin = (await t.token('admin')).token;
    const made: string[] = [];
    for (const name of ['web-1', 'web-2', 'db-1', 'web-3', 'w_b']) {
      made.push((await t.api('POST', '/compute/v2.1/servers', { token, body: { server: { name, imageRef: TINY_IMAGE_ID, flavorRef: '1' } } })).body.server.id);
    }
    await t.cloud.settle();
    const names = async (q: string, tok = token) => {
      const r = await t.api('GET', `/compute/v2.1/servers?${q}`, { token: tok });
      expect(r.status, q).toBe(200);
      return r.body.servers.map((s: { name: string }) => s.name);
    };
    expect(await names('name=web-2')).toEqual(['web-2']);
    expect((await names('name=^web-&sort_key=display_name&sort_dir=asc'))).toEqual(['web-1', 'web-2', 'web-3']);
    // LIKE and GLOB wildcards in a prefix are literal.
    expect(await names('name=^w_')).toEqual(['w_b']);
    expect(await names('name=^w%25')).toEqual([]);
    expect(await names('status=active&name=db-1')).toEqual(['db-1']);
    // Pages of two through the name order, following servers_links.
    const seen: string[] = [];
    let url: string | undefined = '/compute/v2.1/servers?sort_key=display_name&sort_dir=asc&limit=2';
    for (let i = 0; url && i < 10; i++) {
      const r: { body: { servers: { name: string }[]; servers_links?: { rel: string; href: string }[] } } = await t.api('GET', url, { token });
      seen.push(...r.body.servers.map((s) => s.name));
      url = r.body.servers_links?.find((l) => l.rel === 'next')?.href.replace(/^http:\/\/[^/]+/, '');
    }
    expect(seen).toEqual(['db-1', 'w_b', 'web-1', 'web-2', 'web-3']);
    // Default order: newest first; a marker continues after it.
    const all = await names('');
    expect(all.slice(0, 5)).toEqual(['w_b', 'web-3', 'db-1', 'web-2', 'web-1']);
    const detail = await t.api('GET', `/compute/v2.1/servers/detail?limit=1&marker=${made[4]}`, { token });
    expect(detail.body.servers.map((s: { name: string }) => s.name)).toEqual(['web-3']);
    expect((await t.api('GET', '/compute/v2.1/servers?marker=00000000-0000-4000-8000-000000000000', { token })).status).toBe(400);
    expect((await t.api('GET', '/compute/v2.1/servers?limit=-1', { token })).status).toBe(400);
    expect((await t.api('GET', '/compute/v2.1/servers?sort_key=flavor', { token })).status).toBe(400);
    expect((await t.api('GET', '/compute/v2.1/servers?changes-since=yesterday', { token })).status).toBe(400);
    // changes-since: what changed at or after a time, deleted servers included (as Nova does).
    const mark = new Date().toISOString();
    expect(await names(`changes-since=${mark}`)).toEqual([]);
    expect((await t.api('DELETE', `/compute/v2.1/servers/${made[2]}`, { token })).status).toBe(204);
    await t.cloud.settle();
    expect(await names(`changes-since=${mark}`)).toEqual(['db-1']);
    expect(await names('name=db-1')).toEqual([]);
    // all_tenants: the admin sees the demo project's servers; a member only its own project's.
    expect(await names('all_tenants=1&name=web-1', admin)).toEqual(['web-1']);
    expect(await names('name=web-1', admin)).toEqual([]);
  });
});
