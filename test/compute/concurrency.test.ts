/**
 * Concurrency through the compute API on one simulated host: attaches to different servers run
 * at once (per-instance locks, per-target locks in brick), attaches to one server queue behind
 * its instance lock and get distinct device names.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { leftovers } from '../../src/sim/inspect.ts';
import { startTestCloud, type TestCloud } from '../support/cloud.ts';
import { TINY_IMAGE_ID } from '../../src/compute/images.ts';

describe('concurrent attaches on one compute host', () => {
  let t: TestCloud | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  async function volumes(n: number, token: string, projectId: string): Promise<string[]> {
    // More than Cinder's default quota of 10 volumes: the operator lifts it first.
    await t!.cloud.volumes.quotas.setProject(projectId, { volumes: -1 });
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = await t!.api('POST', `/volume/v3/${projectId}/volumes`, { token, body: { volume: { size: 1, name: `v${i}` } } });
      expect(r.status).toBe(202);
      ids.push(r.body.volume.id);
    }
    return ids;
  }

  async function servers(n: number, token: string): Promise<string[]> {
    const ids: string[] = [];
    // More servers than Nova's default quota of 10 instances.
    const projectId = (await t!.token('demo')).projectId;
    await t!.cloud.compute.quotas.set(projectId, { instances: -1, cores: -1, ram: -1 });
    for (let i = 0; i < n; i++) {
      const r = await t!.api('POST', '/compute/v2.1/servers', { token, body: { server: { name: `vm${i}`, imageRef: TINY_IMAGE_ID, flavorRef: '1' } } });
      expect(r.status).toBe(202);
      ids.push(r.body.server.id);
    }
    await t!.cloud.settle();
    return ids;
  }

  it('20 attaches to 20 servers run side by side: the total is one attach, not twenty', async () => {
    t = await startTestCloud({ scenario: 'healthy-multipath' });
    const { token, projectId } = await t.token('demo');
    const vols = await volumes(20, token, projectId);
    const srvs = await servers(20, token);
    const posts = await Promise.all(
      srvs.map((s, i) => t!.api('POST', `/compute/v2.1/servers/${s}/os-volume_attachments`, { token, body: { volumeAttachment: { volumeId: vols[i] } } })),
    );
    expect(posts.map((p) => p.status)).toEqual(Array(20).fill(200));
    await t.cloud.settle();
    const ops = await Promise.all(srvs.map(async (s, i) => (await t!.api('GET', `/compute/v2.1/servers/${s}/os-volume_attachments/${vols[i]}/trace`, { token })).body.operations[0]));
    expect(ops.map((o) => o.state)).toEqual(Array(20).fill('done'));
    const durations = ops.map((o) => o.ended_ms - o.started_ms);
    const start = Math.min(...ops.map((o) => o.started_ms));
    const end = Math.max(...ops.map((o) => o.ended_ms));
    // Side by side: the whole batch takes about as long as its slowest attach, far from the sum.
    expect(end - start).toBeLessThan(Math.max(...durations) * 1.5);
    expect(end - start).toBeLessThan(durations.reduce((a, b) => a + b, 0) / 4);
    for (const v of vols) expect((await t.api('GET', `/volume/v3/volumes/${v}`, { token })).body.volume.status).toBe('in-use');
  });

  it('5 attaches to one server queue behind its lock and get distinct devices; detaching all leaves the host clean', async () => {
    t = await startTestCloud({ scenario: 'healthy-multipath' });
    const { token, projectId } = await t.token('demo');
    const vols = await volumes(5, token, projectId);
    const [srv] = await servers(1, token);
    const posts = await Promise.all(vols.map((v) => t!.api('POST', `/compute/v2.1/servers/${srv}/os-volume_attachments`, { token, body: { volumeAttachment: { volumeId: v } } })));
    expect(posts.map((p) => p.status)).toEqual(Array(5).fill(200));
    const devices = posts.map((p) => p.body.volumeAttachment.device).sort();
    expect(devices).toEqual(['/dev/vdb', '/dev/vdc', '/dev/vdd', '/dev/vde', '/dev/vdf']);
    await t.cloud.settle();
    const ops = await Promise.all(vols.map(async (v) => (await t!.api('GET', `/compute/v2.1/servers/${srv}/os-volume_attachments/${v}/trace`, { token })).body.operations[0]));
    expect(ops.map((o) => o.state)).toEqual(Array(5).fill('done'));
    // Serialised: the steps 2-9 of one attach never overlap another's on the same server.
    const windows = ops
      .map((o) => {
        const lock = o.spans.find((s: { name: string }) => s.name === 'lock-instance');
        const unlock = o.spans.find((s: { name: string }) => s.name === 'unlock-instance');
        return [lock.end_ms, unlock.start_ms] as [number, number];
      })
      .sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < windows.length; i++) expect(windows[i]![0]).toBeGreaterThanOrEqual(windows[i - 1]![1]);

    await Promise.all(vols.map((v) => t!.api('DELETE', `/compute/v2.1/servers/${srv}/os-volume_attachments/${v}`, { token })));
    await t.cloud.settle();
    for (const v of vols) expect((await t.api('GET', `/volume/v3/volumes/${v}`, { token })).body.volume.status).toBe('available');
    expect(leftovers(t.cloud.sim!.host(t.cloud.hosts[0]!.name))).toEqual([]);
  });
});
