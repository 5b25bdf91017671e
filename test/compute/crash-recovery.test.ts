/**
 * Crash recovery, in process: the compute service "dies" as an attach or a detach is about to
 * start each of its steps (the flow freezes there, nothing of it runs again — no rollback, no
 * cleanup), and a new compute service starts on the same database and the same hosts (the
 * simulated kernel, array and hypervisor keep whatever state the crash left). Recovery must
 * leave every volume in a stable status that agrees with the mapping, the guest and the host.
 */
import { describe, expect, it } from 'vitest';
import { HitchError } from '../../src/errors.ts';
import { createCloud, type Cloud, type CloudOptions } from '../../src/server/cloud.ts';
import { leftovers } from '../../src/sim/inspect.ts';
import type { SimHypervisor } from '../../src/sim/sim-hypervisor.ts';
import { ADMIN_PASSWORD, DEMO_PASSWORD, startTestCloud, volumeAndServer, type TestCloud } from '../support/cloud.ts';

const ATTACH_STEPS = ['reserve', 'get-volume', 'connector-properties', 'initialize-connection', 'connect-volume', 'hotplug', 'complete'];
const DETACH_STEPS = ['begin-detaching', 'unplug', 'connector-properties', 'disconnect-volume', 'detach-volume', 'bdm.destroy'];

/** The invariants after recovery, from the simulator's and the hypervisor's own state. */
async function checkInvariants(cloud: Cloud, volumeId: string, serverId: string): Promise<'available' | 'in-use'> {
  const vol = await cloud.volumes.get({ userId: 'test', projectId: 'x', isAdmin: true }, volumeId);
  expect(['available', 'in-use']).toContain(vol.status);
  const ops = await cloud.computeRepository.listOperations(serverId, volumeId);
  expect(ops.filter((o) => o.state === 'running')).toEqual([]);
  const bdm = await cloud.computeRepository.getBdm(serverId, volumeId);
  const hv = cloud.hosts[0]!.hypervisor as SimHypervisor;
  const domain = hv.domains().find((d) => d.uuid === serverId)!;
  const sim = cloud.sim!;
  const acls = sim.arrays().flatMap((a) => a.exports()).filter((e) => e.target.endsWith(volumeId)).flatMap((e) => e.acls);
  if (vol.status === 'in-use') {
    expect(bdm?.status).toBe('attached');
    expect(domain.liveDisks.map((d) => d.serial)).toEqual([volumeId]);
    expect(sim.inspectHost(cloud.hosts[0]!.name).sessions.length).toBeGreaterThan(0);
    expect(acls.length).toBe(1);
  } else {
    expect(bdm).toBeUndefined();
    expect(domain.liveDisks).toEqual([]);
    expect(domain.configDisks).toEqual([]);
    expect(leftovers(sim.host(cloud.hosts[0]!.name))).toEqual([]);
    expect(acls).toEqual([]);
  }
  return vol.status as 'available' | 'in-use';
}

interface CrashOptions {
  /** Before the restart: the world as the crash left it (a guest that stopped answering, …). */
  readonly before?: (t: TestCloud, serverId: string) => void;
  /** The restarted service's block storage. */
  readonly wrapStorage?: CloudOptions['wrapStorage'];
}

async function crashAt(kind: 'attach' | 'detach', step: string, o: CrashOptions = {}): Promise<{ t: TestCloud; restarted: Cloud; volumeId: string; serverId: string }> {
  let crashed!: () => void;
  const reached = new Promise<void>((r) => (crashed = r));
  let armed = kind === 'attach';
  const t = await startTestCloud(
    { scenario: 'healthy-multipath' },
    {
      onStep: (op, s) => {
        if (armed && op.kind === kind && s === step) {
          crashed();
          return new Promise<void>(() => undefined); // the process is gone: this flow never continues
        }
        return undefined;
      },
    },
  );
  const { token, volumeId, serverId } = await volumeAndServer(t);
  const ctx = await t.cloud.identity.authenticate(token);
  if (kind === 'detach') {
    await t.cloud.compute.attachVolume(ctx, serverId, volumeId, null, 'req-test').then((h) => h.done);
    armed = true;
    void t.cloud.compute.detachVolume(ctx, serverId, volumeId, 'req-test').catch(() => undefined);
  } else {
    void t.cloud.compute.attachVolume(ctx, serverId, volumeId, null, 'req-test').catch(() => undefined);
  }
  await reached;
  // Let whatever the kernel and array were already doing finish (iscsid and udev do not die with nova-compute).
  await t.cloud.dataPlane.hosts[0]!.brick.settled();
  await t.cloud.app.close();
  await t.cloud.db.close();
  o.before?.(t, serverId);
  const restarted = await createCloud({
    config: t.config,
    credentials: { adminPassword: ADMIN_PASSWORD, demoPassword: DEMO_PASSWORD },
    dataPlane: t.cloud.dataPlane,
    ...(o.wrapStorage ? { wrapStorage: o.wrapStorage } : {}),
  });
  return { t, restarted, volumeId, serverId };
}

describe.each([
  ['attach', ATTACH_STEPS],
  ['detach', DETACH_STEPS],
] as const)('a crash during %s, at each step boundary', (kind, steps) => {
  it.each(steps)(`crash as ${kind} step %s begins: recovery leaves the volume stable and nothing leaked`, async (step) => {
    const { t, restarted, volumeId, serverId } = await crashAt(kind, step);
    try {
      await restarted.settle();
      const status = await checkInvariants(restarted, volumeId, serverId);
      // Nothing is stuck: the volume can be attached or detached normally after recovery.
      const ctx = await restarted.identity.authenticate((await t.token('demo')).token);
      if (status === 'available') {
        await (await restarted.compute.attachVolume(ctx, serverId, volumeId, null, 'req-after')).done;
        await restarted.settle();
        expect(await checkInvariants(restarted, volumeId, serverId)).toBe('in-use');
      } else {
        await (await restarted.compute.detachVolume(ctx, serverId, volumeId, 'req-after')).done;
        await restarted.settle();
        expect(await checkInvariants(restarted, volumeId, serverId)).toBe('available');
      }
    } finally {
      await restarted.close();
    }
  });
});

describe('recovery never undoes what a guest still holds', () => {
  const guestKeepsDisks = (t: TestCloud, serverId: string): void => {
    const hv = t.cloud.hosts[0]!.hypervisor as SimHypervisor;
    hv.setUnplugBehaviour(hv.domains().find((d) => d.uuid === serverId)!.name, 'never');
  };

  it('a detach interrupted before the unplug, on a guest that keeps the disk, is rolled back: mapping attached, volume in-use', async () => {
    const { restarted, volumeId, serverId } = await crashAt('detach', 'unplug', { before: guestKeepsDisks });
    try {
      await restarted.settle();
      expect(await checkInvariants(restarted, volumeId, serverId)).toBe('in-use');
      const [op] = await restarted.computeRepository.listOperations(serverId, volumeId);
      expect(op?.kind).toBe('detach');
      expect(op?.state).toBe('rolled_back');
    } finally {
      await restarted.close();
    }
  });

  it('an attach interrupted before complete, whose complete first fails, on a guest that keeps the disk, is completed', async () => {
    let failures = 1;
    const { restarted, volumeId, serverId } = await crashAt('attach', 'complete', {
      before: guestKeepsDisks,
      wrapStorage: (p) => ({
        flow: p.flow,
        getVolume: (id, s) => p.getVolume(id, s),
        reserve: (id, i, s) => p.reserve(id, i, s),
        attachmentsOf: (id, i, s) => p.attachmentsOf(id, i, s),
        initialize: (r, c, s) => p.initialize(r, c, s),
        complete: async (r, s) => {
          if (failures-- > 0) throw new HitchError('HITCH_UPSTREAM_ERROR', { service: 'block-storage', status: 500, method: 'POST', path: 'complete', detail: 'injected 500' });
          await p.complete(r, s);
        },
        release: (r, c, s) => p.release(r, c, s),
        beginDetaching: (id, s) => p.beginDetaching(id, s),
        rollDetaching: (id, s) => p.rollDetaching(id, s),
        finishDetach: (r, c, s) => p.finishDetach(r, c, s),
        extendFailed: (id, s) => p.extendFailed(id, s),
      }),
    });
    try {
      await restarted.settle();
      expect(await checkInvariants(restarted, volumeId, serverId)).toBe('in-use');
      expect(failures).toBeLessThan(0);
    } finally {
      await restarted.close();
    }
  });
});
