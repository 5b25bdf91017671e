/**
 * Debian's real OpenStack clients against the compute API: `openstack server create / add
 * volume / remove volume` (openstacksdk) and `nova volume-attach / volume-detach`
 * (novaclient), authenticated through Hitch's Keystone, on the simulated data plane.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingClients, PythonClients } from '../../src/test-support/python-clients.ts';
import { peerRequired } from '../../src/test-support/postgres.ts';
import { DEMO_PASSWORD, startTestCloud, type TestCloud } from '../support/cloud.ts';
import { TINY_IMAGE_ID } from '../../src/compute/images.ts';

const missing = missingClients(['openstack', 'nova']);
if (missing.length > 0 && !peerRequired()) console.warn(`[hitch] skipping compute client tests: ${missing.join(', ')} not installed (scripts/install-test-peers.sh)`);
const d = missing.length > 0 && !peerRequired() ? describe.skip : describe;

d('real OpenStack clients against the compute API', () => {
  let t: TestCloud;
  let clients: PythonClients;
  beforeAll(async () => {
    expect(missing, 'OpenStack clients must be installed').toEqual([]);
    t = await startTestCloud({ scenario: 'healthy-multipath' });
    clients = new PythonClients({ baseUrl: t.url, username: 'demo', password: DEMO_PASSWORD, projectName: 'demo' });
  });
  afterAll(async () => {
    clients?.dispose();
    await t?.close();
  });

  async function volumeStatus(id: string): Promise<string> {
    const { token } = await t.token('demo');
    return (await t.api('GET', `/volume/v3/volumes/${id}`, { token })).body.volume.status;
  }

  it('openstack server create, server add volume, server remove volume', async () => {
    const vol = await clients.run('openstack', ['volume', 'create', '--size', '1', 'osc-vol', '-f', 'json']);
    expect(vol.code, vol.stderr).toBe(0);
    const volumeId = JSON.parse(vol.stdout).id as string;

    const srv = await clients.run('openstack', ['server', 'create', '--image', 'hitch-tiny', '--flavor', 'm1.tiny', 'osc-vm', '-f', 'json']);
    expect(srv.code, srv.stderr).toBe(0);
    const serverId = JSON.parse(srv.stdout).id as string;
    await t.cloud.settle();
    const shown = await clients.run('openstack', ['server', 'show', 'osc-vm', '-f', 'json']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout).status).toBe('ACTIVE');

    const add = await clients.run('openstack', ['server', 'add', 'volume', serverId, volumeId, '--device', '/dev/vdb']);
    expect(add.code, add.stderr).toBe(0);
    await t.cloud.settle();
    expect(await volumeStatus(volumeId)).toBe('in-use');

    const list = await clients.run('openstack', ['server', 'volume', 'list', serverId, '-f', 'json']);
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout).map((a: Record<string, string>) => a['Device'])).toEqual(['/dev/vdb']);

    const remove = await clients.run('openstack', ['server', 'remove', 'volume', serverId, volumeId]);
    expect(remove.code, remove.stderr).toBe(0);
    await t.cloud.settle();
    expect(await volumeStatus(volumeId)).toBe('available');
  });

  it('nova volume-attach and volume-detach', async () => {
    const { token, projectId } = await t.token('demo');
    const v = await t.api('POST', `/volume/v3/${projectId}/volumes`, { token, body: { volume: { size: 1, name: 'nova-vol' } } });
    const s = await t.api('POST', '/compute/v2.1/servers', { token, body: { server: { name: 'nova-vm', imageRef: TINY_IMAGE_ID, flavorRef: '1' } } });
    await t.cloud.settle();
    const volumeId = v.body.volume.id as string;
    const serverId = s.body.server.id as string;

    const attach = await clients.run('nova', ['volume-attach', serverId, volumeId, '/dev/vdc']);
    expect(attach.code, attach.stderr).toBe(0);
    expect(attach.stdout).toMatch(/\| device\s+\| \/dev\/vdc/);
    await t.cloud.settle();
    expect(await volumeStatus(volumeId)).toBe('in-use');

    const atts = await clients.run('nova', ['volume-attachments', serverId]);
    expect(atts.code, atts.stderr).toBe(0);
    expect(atts.stdout).toContain(volumeId);

    const detach = await clients.run('nova', ['volume-detach', serverId, volumeId]);
    expect(detach.code, detach.stderr).toBe(0);
    await t.cloud.settle();
    expect(await volumeStatus(volumeId)).toBe('available');
  });
});
