/**
 * The attach and detach flows over small in-memory storage and host fakes and the simulated
 * hypervisor: the order of steps, and the rollback of every step in turn. (The end-to-end
 * version over the simulated data plane and the real HTTP APIs lives in test/compute/.)
 */
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../db/open-database.ts';
import { HitchError } from '../errors.ts';
import { VirtualClock } from '../sim/clock.ts';
import { Trace, type Span } from '../trace/span.ts';
import { SimHypervisor } from '../sim/sim-hypervisor.ts';
import { reserveAttach, runAttach, type FlowContext } from './attach-flow.ts';
import { runDetach } from './detach-flow.ts';
import type { AttachmentRef, VolumeAttachProtocol, VolumeSummary } from '../ports/block-storage.ts';
import type { AttachedVolume, HostExtendOutcome, HostVolumeConnector, ReapOutcome } from '../ports/host-connector.ts';
import type { ConnectionInfo, ConnectorProperties } from '../ports/attach.ts';
import { ComputeRepository, type ServerRow } from './repository.ts';
import { migrateCompute } from './schema.ts';

type FaultPoint = 'reserve' | 'getVolume' | 'initialize' | 'connect' | 'attachDisk' | 'complete' | 'beginDetaching' | 'detachDisk';

class FakeStorage implements VolumeAttachProtocol {
  readonly flow = 'attachments' as const;
  status = 'available';
  exported: string | null = null;
  readonly calls: string[] = [];
  /** How many more times `complete` fails when it is not in `fault` (a Cinder answering 500 for a while). */
  completeFailures = 0;
  constructor(readonly fault: Set<FaultPoint>) {}
  #maybe(p: FaultPoint): void {
    this.calls.push(p);
    const transient = p === 'complete' && this.completeFailures > 0 && this.completeFailures--;
    if (this.fault.has(p) || transient) throw new HitchError('HITCH_UPSTREAM_ERROR', { service: 'block-storage', status: 500, method: 'POST', path: p, detail: 'injected' });
  }
  async getVolume(id: string): Promise<VolumeSummary> {
    this.#maybe('getVolume');
    return { id, projectId: 'p1', status: this.status, multiattach: false, size: 1 };
  }
  async reserve(): Promise<{ attachmentId: string | null }> {
    this.#maybe('reserve');
    this.status = 'reserved';
    return { attachmentId: 'att-1' };
  }
  async initialize(_ref: AttachmentRef, c: ConnectorProperties): Promise<ConnectionInfo> {
    this.#maybe('initialize');
    this.status = 'attaching';
    this.exported = c.host ?? null;
    return { driver_volume_type: 'iscsi', data: { target_iqn: 'iqn.2010-10.org.openstack:volume-1', target_portal: '127.0.0.1:3260', target_lun: 1, access_mode: 'rw' } };
  }
  async attachmentsOf(): Promise<Array<string | null>> {
    return this.status === 'reserved' ? ['att-1'] : [];
  }
  async complete(): Promise<void> {
    this.#maybe('complete');
    this.status = 'in-use';
  }
  async release(_ref: AttachmentRef, c: ConnectorProperties | null): Promise<void> {
    this.calls.push(`release(${c ? 'exported' : 'reserved'})`);
    this.exported = null;
    this.status = 'available';
  }
  async beginDetaching(): Promise<void> {
    this.#maybe('beginDetaching');
    this.status = 'detaching';
  }
  async rollDetaching(): Promise<void> {
    this.calls.push('rollDetaching');
    this.status = 'in-use';
  }
  async extendFailed(): Promise<void> {
    this.calls.push('extendFailed');
    this.status = 'error_extending';
  }
  async finishDetach(): Promise<void> {
    this.calls.push('finishDetach');
    this.exported = null;
    this.status = 'available';
  }
}

class FakeHost implements HostVolumeConnector {
  connected = 0;
  readonly calls: string[] = [];
  constructor(readonly fault: Set<FaultPoint>) {}
  async connectorProperties(): Promise<ConnectorProperties> {
    return { host: 'compute1', initiator: 'iqn.1993-08.org.debian:01:abc', multipath: false };
  }
  async connect(_i: ConnectionInfo, span: Span): Promise<AttachedVolume> {
    this.calls.push('connect');
    if (this.fault.has('connect')) throw new HitchError('HITCH_ISCSI_LOGIN_FAILED', { target: 't', detail: 'injected' });
    span.event('device appeared');
    this.connected++;
    return { source: { kind: 'block' as const, path: '/dev/disk/by-path/ip-127.0.0.1:3260-iscsi-iqn.2010-10.org.openstack:volume-1-lun-1' }, deviceInfo: { type: 'block', path: '/dev/sdb', scsi_wwn: '36001405deadbeef' } };
  }
  async disconnect(): Promise<void> {
    this.calls.push('disconnect');
    this.connected = Math.max(0, this.connected - 1);
  }
  secretUsage(): string | null {
    return null;
  }
  async extend(): Promise<HostExtendOutcome> {
    this.calls.push('extend');
    return { sizeBytes: null };
  }
  async reap(): Promise<ReapOutcome> {
    return { reaped: [], failures: [], pending: [] };
  }
}

async function setup(faults: FaultPoint[]) {
  const clock = new VirtualClock();
  const hdb = await openDatabase('sqlite::memory:');
  await migrateCompute(hdb.db);
  const repo = new ComputeRepository(hdb.db);
  const hypervisor = new SimHypervisor({ clock, unplugAckMs: 100 });
  const fault = new Set(faults);
  const storage = new FakeStorage(fault);
  const host = new FakeHost(fault);
  if (fault.has('attachDisk')) hypervisor.injectFault({ op: 'attach' });
  if (fault.has('detachDisk')) hypervisor.injectFault({ op: 'detach', times: Infinity });
  const server: ServerRow = await repo.insertServer({
    id: '11111111-2222-3333-4444-555555555555', project_id: 'p1', user_id: 'u1', name: 'vm', status: 'ACTIVE', task_state: null,
    flavor_id: '1', image_id: 'i', host: 'compute1', domain_name: 'instance-00000001', metadata: '{}',
  });
  await hypervisor.defineAndStart({ name: server.domain_name, uuid: server.id, memoryMiB: 128, vcpus: 1, virtType: 'qemu' });
  const ctx: FlowContext = { repo, storage, connector: host, hypervisor, detachTimeoutMs: 5_000, clock };
  const trace = new Trace(clock);
  return { clock, hdb, repo, hypervisor, storage, host, server, ctx, trace };
}

const VOL = 'cf158d73-c1d2-4a58-b8b6-35f0da74a4be';

describe('attach flow', () => {
  it('runs the steps in the seed order and leaves the volume in-use with connection_info on the BDM', async () => {
    const t = await setup([]);
    const bdm = await reserveAttach(t.ctx, t.server, VOL, null, t.trace.root());
    await runAttach(t.ctx, t.server, bdm, t.trace.root());
    expect(t.trace.spans.filter((s) => s.parentId === null).map((s) => s.name)).toEqual([
      'reserve', 'get-volume', 'connector-properties', 'initialize-connection', 'connect-volume', 'hotplug', 'complete',
    ]);
    expect(t.storage.status).toBe('in-use');
    const row = await t.repo.getBdm(t.server.id, VOL);
    expect(row?.status).toBe('attached');
    expect(row?.device_name).toBe('/dev/vdb');
    expect(JSON.parse(row?.connection_info ?? '{}').driver_volume_type).toBe('iscsi');
    const disks = t.hypervisor.domain(t.server.domain_name)?.liveDisks ?? [];
    expect(disks.map((d) => [d.target, d.serial])).toEqual([['vdb', VOL]]);
    await t.hdb.close();
  });

  const cases: Array<[FaultPoint, string[]]> = [
    ['getVolume', ['release(reserved)']],
    ['initialize', ['release(reserved)']],
    ['connect', ['release(exported)']],
    ['attachDisk', ['disconnect', 'release(exported)']],
    ['complete', ['unplug', 'disconnect', 'release(exported)']],
  ];
  it.each(cases)('a failure at %s unwinds everything before it, in reverse', async (fault, undone) => {
    const t = await setup([fault]);
    const bdm = await reserveAttach(t.ctx, t.server, VOL, null, t.trace.root());
    const err = await runAttach(t.ctx, t.server, bdm, t.trace.root()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HitchError);
    const rollbacks = t.trace.spans.filter((s) => s.name.startsWith('rollback.')).map((s) => s.name.slice('rollback.'.length));
    expect(rollbacks).toEqual([...undone.map((u) => (u.startsWith('release') ? 'release-volume' : u === 'disconnect' ? 'disconnect-volume' : u)), 'bdm.destroy']);
    expect(t.storage.status).toBe('available');
    expect(t.storage.exported).toBeNull();
    expect(t.host.connected).toBe(0);
    expect(await t.repo.listBdms(t.server.id)).toEqual([]);
    expect(t.hypervisor.domain(t.server.domain_name)?.liveDisks).toEqual([]);
    expect(t.hypervisor.domain(t.server.domain_name)?.configDisks).toEqual([]);
    await t.hdb.close();
  });

  it('a guest that keeps the disk after a failed complete: nothing is pulled from under it, the attach rolls forward', async () => {
    const t = await setup([]);
    t.storage.completeFailures = 2; // the step itself, then the roll-forward's first attempt
    t.hypervisor.setUnplugBehaviour(t.server.domain_name, 'never');
    const bdm = await reserveAttach(t.ctx, t.server, VOL, null, t.trace.root());
    await runAttach(t.ctx, t.server, bdm, t.trace.root());
    const spans = t.trace.spans;
    expect(spans.find((s) => s.name === 'rollback.unplug')?.outcome).toBe('error');
    // Everything the guest's disk stands on stays: secret, host connection, export, mapping.
    for (const u of ['disconnect-volume', 'release-volume', 'bdm.destroy']) {
      expect(spans.find((s) => s.name === `rollback.${u}`)?.attrs['skipped']).toBe(true);
    }
    expect(spans.find((s) => s.name === 'roll-forward')?.outcome).toBe('ok');
    expect(t.host.calls).toEqual(['connect']);
    expect(t.host.connected).toBe(1);
    expect(t.storage.calls.filter((c) => c.startsWith('release'))).toEqual([]);
    expect(t.storage.status).toBe('in-use');
    expect((await t.repo.getBdm(t.server.id, VOL))?.status).toBe('attached');
    expect(t.hypervisor.domain(t.server.domain_name)?.liveDisks.map((d) => d.serial)).toEqual([VOL]);
    await t.hdb.close();
  });

  it('a guest that keeps the disk and a complete that never succeeds: the attach fails, the disk keeps its device', async () => {
    const t = await setup(['complete']);
    t.hypervisor.setUnplugBehaviour(t.server.domain_name, 'never');
    const bdm = await reserveAttach(t.ctx, t.server, VOL, null, t.trace.root());
    const err = (await runAttach(t.ctx, t.server, bdm, t.trace.root()).catch((e: unknown) => e)) as HitchError & { cleanup?: HitchError[] };
    expect(err.code).toBe('HITCH_UPSTREAM_ERROR');
    expect(err.cleanup?.map((c) => c.message).join(' ')).toMatch(/mapping stays attaching with the disk in the guest/);
    expect(t.host.calls).toEqual(['connect']);
    expect(t.storage.exported).not.toBeNull();
    expect((await t.repo.getBdm(t.server.id, VOL))?.status).toBe('attaching');
    await t.hdb.close();
  });

  it('a hypervisor call that fails after the disk reached the guest: the disk is unplugged before the host lets go of it', async () => {
    const t = await setup([]);
    const hv = t.hypervisor;
    // virsh timing out after QEMU finished device_add: the disk is in, the call says it failed.
    const attachDisk = async (...a: Parameters<SimHypervisor['attachDisk']>): Promise<void> => {
      await hv.attachDisk(...a);
      throw new HitchError('HITCH_HYPERVISOR_ERROR', { detail: 'Timed out during operation: cannot acquire state change lock' });
    };
    const late = new Proxy(hv, {
      get: (target, prop) => {
        if (prop === 'attachDisk') return attachDisk;
        const v: unknown = Reflect.get(target, prop, target);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const ctx: FlowContext = { ...t.ctx, hypervisor: late };
    const bdm = await reserveAttach(ctx, t.server, VOL, null, t.trace.root());
    await expect(runAttach(ctx, t.server, bdm, t.trace.root())).rejects.toBeInstanceOf(HitchError);
    const rollbacks = t.trace.spans.filter((s) => s.name.startsWith('rollback.')).map((s) => s.name);
    expect(rollbacks).toEqual(['rollback.unplug', 'rollback.disconnect-volume', 'rollback.release-volume', 'rollback.bdm.destroy']);
    expect(hv.domain(t.server.domain_name)?.liveDisks).toEqual([]);
    expect(t.host.connected).toBe(0);
    expect(t.storage.status).toBe('available');
    await t.hdb.close();
  });

  it('a failed reserve leaves no mapping behind', async () => {
    const t = await setup(['reserve']);
    await expect(reserveAttach(t.ctx, t.server, VOL, null, t.trace.root())).rejects.toBeInstanceOf(HitchError);
    expect(await t.repo.listBdms(t.server.id)).toEqual([]);
    await t.hdb.close();
  });

  it('refuses a second mapping of the same volume and a taken device name', async () => {
    const t = await setup([]);
    await reserveAttach(t.ctx, t.server, VOL, '/dev/vdc', t.trace.root());
    await expect(reserveAttach(t.ctx, t.server, VOL, null, t.trace.root())).rejects.toThrow(/already attached/);
    await expect(reserveAttach(t.ctx, t.server, '00000000-0000-0000-0000-000000000001', 'vdc', t.trace.root())).rejects.toThrow(/in use/);
    await t.hdb.close();
  });
});

describe('detach flow', () => {
  it('unplugs, disconnects, releases the volume and drops the mapping', async () => {
    const t = await setup([]);
    const bdm = await reserveAttach(t.ctx, t.server, VOL, null, t.trace.root());
    await runAttach(t.ctx, t.server, bdm, t.trace.root());
    const attached = await t.repo.getBdm(t.server.id, VOL);
    const d = new Trace(t.clock);
    await runDetach(t.ctx, t.server, attached!, d.root());
    expect(d.spans.filter((s) => s.parentId === null).map((s) => s.name)).toEqual([
      'begin-detaching', 'unplug', 'connector-properties', 'disconnect-volume', 'detach-volume', 'bdm.destroy',
    ]);
    expect(t.storage.status).toBe('available');
    expect(t.host.connected).toBe(0);
    expect(await t.repo.listBdms(t.server.id)).toEqual([]);
    expect(t.hypervisor.domain(t.server.domain_name)?.liveDisks).toEqual([]);
    await t.hdb.close();
  });

  it('a guest that will not let go puts the volume back in-use and keeps the mapping', async () => {
    const t = await setup([]);
    const bdm = await reserveAttach(t.ctx, t.server, VOL, null, t.trace.root());
    await runAttach(t.ctx, t.server, bdm, t.trace.root());
    t.hypervisor.setUnplugBehaviour(t.server.domain_name, 'never');
    const attached = await t.repo.getBdm(t.server.id, VOL);
    const err = await runDetach(t.ctx, t.server, attached!, new Trace(t.clock).root()).catch((e: unknown) => e);
    expect((err as HitchError).code).toBe('HITCH_HYPERVISOR_DETACH_TIMEOUT');
    expect(t.storage.status).toBe('in-use');
    expect((await t.repo.getBdm(t.server.id, VOL))?.status).toBe('attached');
    expect(t.host.connected).toBe(1);
    await t.hdb.close();
  });
});
