/**
 * Servers through the compute API: create (placed on a compute host, built in the background),
 * list, detail, show with microversion-gated fields, flavors, and delete — which detaches every
 * volume first, as Nova does, so no volume stays in-use on a server that is gone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leftovers } from '../../src/sim/inspect.ts';
import { startTestCloud, volumeAndServer, type TestCloud } from '../support/cloud.ts';

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
});
