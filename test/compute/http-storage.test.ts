/**
 * The compute flows over the block storage REST API (as against a real Cinder): the same
 * attach and detach, driven through `BlockStorageClient` to Hitch's own block storage endpoint
 * on loopback — the attachments API at 3.44+, the legacy actions when configured so, and the
 * legacy actions chosen automatically when the endpoint is older than 3.44.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { httpVolumeProtocol } from '../../src/compute/http-volume-protocol.ts';
import type { VolumeAttachProtocol } from '../../src/ports/block-storage.ts';
import { leftovers } from '../../src/sim/inspect.ts';
import { BlockStorageClient } from '../../src/volume/client.ts';
import { startTestCloud, volumeAndServer, type TestCloud } from '../support/cloud.ts';

describe('attach and detach over the block storage REST API', () => {
  let t: TestCloud | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  const cases: Array<[string, 'attachments' | 'legacy', string, 'attachments' | 'legacy']> = [
    ['3.70 endpoint, attachments preferred', 'attachments', '3.70', 'attachments'],
    ['3.70 endpoint, legacy configured', 'legacy', '3.70', 'legacy'],
    ['endpoint capped at 3.27 (older than 3.44)', 'attachments', '3.27', 'legacy'],
  ];
  it.each(cases)('%s', async (_label, prefer, maxVersion, expected) => {
    const holder: { protocol?: VolumeAttachProtocol } = {};
    const calls: string[] = [];
    // The managers are built before the protocol can negotiate with the listening endpoint:
    // they get a forwarder, pointed at the protocol once it exists.
    const wrapper: VolumeAttachProtocol = new Proxy({} as VolumeAttachProtocol, {
      get: (_o, k) => {
        const p = holder.protocol as unknown as Record<string | symbol, unknown>;
        const v = p[k];
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(p) : v;
      },
    });
    t = await startTestCloud({ scenario: 'healthy-multipath' }, { wrapStorage: () => wrapper });
    const admin = await t.token('admin');
    const client = new BlockStorageClient({
      endpoint: `${t.url}/volume/v3/${admin.projectId}`,
      token: admin.token,
      maxVersion,
      log: (line) => calls.push(line),
    });
    holder.protocol = await httpVolumeProtocol(client, prefer, t.cloud.hosts[0]!.name);
    expect(holder.protocol.flow).toBe(expected);

    const { token, volumeId, serverId } = await volumeAndServer(t);
    const post = await t.api('POST', `/compute/v2.1/servers/${serverId}/os-volume_attachments`, { token, body: { volumeAttachment: { volumeId } } });
    expect(post.status).toBe(200);
    await t.cloud.settle();
    expect((await t.api('GET', `/volume/v3/volumes/${volumeId}`, { token })).body.volume.status).toBe('in-use');
    const del = await t.api('DELETE', `/compute/v2.1/servers/${serverId}/os-volume_attachments/${volumeId}`, { token });
    expect(del.status).toBe(202);
    await t.cloud.settle();
    expect((await t.api('GET', `/volume/v3/volumes/${volumeId}`, { token })).body.volume.status).toBe('available');
    expect(leftovers(t.cloud.sim!.host(t.cloud.hosts[0]!.name))).toEqual([]);

    // The REST calls really went over HTTP, in the chosen flow, with the token masked.
    const text = calls.join('\n');
    if (expected === 'attachments') {
      expect(text).toMatch(/-X POST \S+\/attachments\b/);
      expect(text).toMatch(/-X PUT \S+\/attachments\/[0-9a-f-]{36}/);
      expect(text).not.toContain('os-initialize_connection');
    } else {
      expect(text).toContain('os-reserve');
      expect(text).toContain('os-initialize_connection');
      expect(text).toContain('os-attach');
      expect(text).toContain('os-terminate_connection');
      expect(text).toContain('os-detach');
    }
    expect(text).toContain('X-Auth-Token: {SHA1}');
    expect(text).not.toContain(admin.token);
  });
});
