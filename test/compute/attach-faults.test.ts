/**
 * A fault at each step of the attach, in turn, for both Cinder flows: every one must end with
 * the volume `available`, no block-device mapping, no export on the array, and a compute host
 * with no node record, session, SCSI disk or multipath map left — asserted from the
 * simulator's own state, not from what Hitch believes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { VolumeAttachProtocol } from '../../src/ports/block-storage.ts';
import type { ConnectorProperties } from '../../src/ports/attach.ts';
import { HitchError } from '../../src/errors.ts';
import { leftovers } from '../../src/sim/inspect.ts';
import type { SimHypervisor } from '../../src/sim/sim-hypervisor.ts';
import { startTestCloud, volumeAndServer, type TestCloud } from '../support/cloud.ts';

type StorageCall = 'getVolume' | 'initialize' | 'complete';

/** A storage protocol whose `call` answers like a Cinder returning 500. */
function failing(inner: VolumeAttachProtocol, call: StorageCall | null): VolumeAttachProtocol {
  const boom = (): never => {
    throw new HitchError('HITCH_UPSTREAM_ERROR', { service: 'block-storage', status: 500, method: 'POST', path: call ?? '', detail: 'injected 500' });
  };
  return {
    flow: inner.flow,
    getVolume: (id, s) => (call === 'getVolume' && s.record !== null ? boom() : inner.getVolume(id, s)),
    reserve: (id, i, s) => inner.reserve(id, i, s),
    attachmentsOf: (id, i, s) => inner.attachmentsOf(id, i, s),
    initialize: (r, c: ConnectorProperties, s) => (call === 'initialize' ? boom() : inner.initialize(r, c, s)),
    complete: (r, s) => (call === 'complete' ? boom() : inner.complete(r, s)),
    release: (r, c, s) => inner.release(r, c, s),
    beginDetaching: (id, s) => inner.beginDetaching(id, s),
    rollDetaching: (id, s) => inner.rollDetaching(id, s),
    finishDetach: (r, c, s) => inner.finishDetach(r, c, s),
    extendFailed: (id, s) => inner.extendFailed(id, s),
  };
}

type Fault =
  | { kind: 'storage'; call: StorageCall }
  | { kind: 'sim'; spec: Parameters<NonNullable<TestCloud['cloud']['sim']>['injectFault']>[0]; label: string }
  | { kind: 'hypervisor' };

const FAULTS: Array<[string, Fault]> = [
  ['block storage 500 on GET volume', { kind: 'storage', call: 'getVolume' }],
  ['block storage 500 on initialize connection', { kind: 'storage', call: 'initialize' }],
  ['login fails on every portal', { kind: 'sim', spec: { fault: 'login-auth-failure' }, label: 'auth' }],
  ['the device never appears', { kind: 'sim', spec: { fault: 'device-never-appears' }, label: 'device' }],
  ['the hypervisor refuses the disk', { kind: 'hypervisor' }],
  ['block storage 500 on complete', { kind: 'storage', call: 'complete' }],
];

describe.each(['attachments', 'legacy'] as const)('attach faults, %s flow', (flow) => {
  let t: TestCloud | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it.each(FAULTS)('%s: the volume is available again and nothing is left anywhere', async (_label, fault) => {
    t = await startTestCloud(
      { scenario: 'healthy-multipath', cinderFlow: flow },
      { wrapStorage: (p) => failing(p, fault.kind === 'storage' ? fault.call : null) },
    );
    const { token, volumeId, serverId } = await volumeAndServer(t);
    const sim = t.cloud.sim!;
    const hostName = t.cloud.hosts[0]!.name;
    if (fault.kind === 'sim') sim.injectFault(fault.spec);
    if (fault.kind === 'hypervisor') (t.cloud.hosts[0]!.hypervisor as SimHypervisor).injectFault({ op: 'attach' });

    const post = await t.api('POST', `/compute/v2.1/servers/${serverId}/os-volume_attachments`, { token, body: { volumeAttachment: { volumeId } } });
    expect(post.status).toBe(200);
    await t.cloud.settle();

    const op = (await t.api('GET', `/compute/v2.1/servers/${serverId}/os-volume_attachments/${volumeId}/trace`, { token })).body.operations[0];
    expect(op.state).toBe('rolled_back');
    expect(op.error.code).toMatch(/^HITCH_/);
    expect((await t.api('GET', `/volume/v3/volumes/${volumeId}`, { token })).body.volume.status).toBe('available');
    expect((await t.api('GET', `/compute/v2.1/servers/${serverId}/os-volume_attachments`, { token })).body.volumeAttachments).toEqual([]);
    expect(await t.cloud.computeRepository.listBdms(serverId)).toEqual([]);
    expect(leftovers(sim.host(hostName))).toEqual([]);
    const exported = sim.arrays().flatMap((a) => a.exports()).filter((e) => e.target.endsWith(volumeId)).flatMap((e) => e.acls);
    expect(exported).toEqual([]);
    const domain = (t.cloud.hosts[0]!.hypervisor as SimHypervisor).domains()[0]!;
    expect(domain.liveDisks).toEqual([]);
    expect(domain.configDisks).toEqual([]);

  });
});

describe('leftovers a cleanup could not remove', () => {
  let t: TestCloud | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  const hungLogouts = { fault: 'command-hangs', command: 'iscsiadm', match: '--logout', until: 150_000 } as const;

  it('a failed attach whose logouts hang: the manager reaps the sessions, node records and late disks once iscsiadm answers', async () => {
    t = await startTestCloud({ scenario: 'healthy-multipath' });
    const { token, volumeId, serverId } = await volumeAndServer(t);
    const sim = t.cloud.sim!;
    // The disks come 20 s after their scan (the connect gives up at 15 s); logouts hang meanwhile.
    sim.injectFault({ fault: 'device-appears-late', delayMs: 20_000 });
    sim.injectFault(hungLogouts);
    const post = await t.api('POST', `/compute/v2.1/servers/${serverId}/os-volume_attachments`, { token, body: { volumeAttachment: { volumeId } } });
    expect(post.status).toBe(200);
    await t.cloud.settle();
    expect((await t.api('GET', `/volume/v3/volumes/${volumeId}`, { token })).body.volume.status).toBe('available');
    const reap = t.cloud.hosts[0]!.manager.lastReap;
    expect(reap?.reaped.length).toBeGreaterThan(0);
    expect(reap?.atMs).toBeGreaterThanOrEqual(150_000);
    expect(leftovers(sim.host(t.cloud.hosts[0]!.name))).toEqual([]);
  });

  it('a detach whose logouts hang ends the detach, and the manager reaps the sessions later', async () => {
    t = await startTestCloud({ scenario: 'healthy-multipath' });
    const { token, volumeId, serverId } = await volumeAndServer(t);
    const sim = t.cloud.sim!;
    await t.api('POST', `/compute/v2.1/servers/${serverId}/os-volume_attachments`, { token, body: { volumeAttachment: { volumeId } } });
    await t.cloud.settle();
    sim.injectFault({ ...hungLogouts, at: sim.clock.now(), until: sim.clock.now() + 150_000 });
    const del = await t.api('DELETE', `/compute/v2.1/servers/${serverId}/os-volume_attachments/${volumeId}`, { token });
    expect(del.status).toBe(202);
    await t.cloud.settle();
    const op = (await t.api('GET', `/compute/v2.1/servers/${serverId}/os-volume_attachments/${volumeId}/trace`, { token })).body.operations[0];
    expect(op.state).toBe('done');
    expect((await t.api('GET', `/volume/v3/volumes/${volumeId}`, { token })).body.volume.status).toBe('available');
    expect(t.cloud.hosts[0]!.manager.lastReap?.reaped.length).toBeGreaterThan(0);
    expect(leftovers(sim.host(t.cloud.hosts[0]!.name))).toEqual([]);
  });
});
