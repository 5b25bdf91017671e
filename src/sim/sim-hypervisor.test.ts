import { describe, expect, it } from 'vitest';
import { isHitchError, type ErrorCode } from '../errors.ts';
import { Trace } from '../trace/span.ts';
import { buildDiskXml } from '../virt/disk-xml.ts';
import type { DomainSpec } from '../ports/hypervisor.ts';
import { hypervisorDriverConformance } from '../virt/driver.conformance.ts';
import { SimHypervisor, type SimHypervisorOptions } from './sim-hypervisor.ts';
import { VirtualClock } from './clock.ts';

let serial = 0;
function spec(tag: string): DomainSpec {
  serial += 1;
  const n = serial.toString(16).padStart(12, '0');
  return { name: `conf-${tag}-${serial}`, uuid: `00000000-0000-4000-8000-${n}`, memoryMiB: 64, vcpus: 1, virtType: 'qemu' };
}

const PATHS = [
  '/dev/disk/by-id/dm-uuid-mpath-36006016015e03a00ab2df25bb82d0ea9',
  '/dev/disk/by-path/ip-192.168.1.60:3260-iscsi-iqn.1992-04.com.emc:cx.apm00150602415.b0-lun-192',
  '/dev/sdc',
];

function harness(opts: Partial<SimHypervisorOptions>, guestReleasesDisks: boolean) {
  return async () => {
    const sim = new SimHypervisor({
      clock: new VirtualClock(),
      probeNetworkSource: (p) => (p.chapPassword === 'open-sesame' ? null : 'iSCSI: Failed to connect to LUN : Failed to log in to target. Status: Authentication failure(513)'),
      ...opts,
    });
    return {
      driver: sim,
      domainSpec: spec,
      diskSource: (i: number) => ({ kind: 'block' as const, path: PATHS[i] ?? `/dev/sd${'defgh'[i] ?? 'z'}` }),
      chapSource: (usage: string) => ({
        source: {
          kind: 'iscsi' as const,
          iqn: 'iqn.2010-10.org.openstack:volume-chap',
          lun: 1,
          host: { name: '127.0.0.1', port: 3260 },
          auth: { username: 'chapuser', secretUsage: usage },
        },
        password: 'open-sesame',
      }),
      detachTimeoutMs: 20_000,
      guestReleasesDisks,
    };
  };
}

hypervisorDriverConformance('sim, guest releases disks after 100 ms', harness({ unplugAckMs: 100 }, true));
hypervisorDriverConformance('sim, no guest OS (unplug never acknowledged)', harness({ unplugAckMs: 'never' }, false));

async function failure(p: Promise<unknown>): Promise<{ code: ErrorCode; message: string }> {
  try {
    await p;
  } catch (e) {
    if (isHitchError(e)) return { code: e.code, message: e.summary };
    throw e;
  }
  throw new Error('expected a failure');
}

const BOTH = { live: true, persistent: true };

async function setup(opts: Partial<SimHypervisorOptions> = {}) {
  const clock = new VirtualClock();
  const sim = new SimHypervisor({ clock, ...opts });
  const s = spec('sim');
  await sim.defineAndStart(s);
  const xml = (i: number, dev: string, extra: { accessMode?: 'ro' } = {}) =>
    buildDiskXml({ source: { kind: 'block', path: PATHS[i] ?? '/dev/sdz' }, targetDev: dev, serial: `vol-${i}`, ...extra });
  return { clock, sim, name: s.name, xml };
}

describe('SimHypervisor', () => {
  it('costs virtual time per call and exposes domains and disks for invariant checks', async () => {
    const { clock, sim, name, xml } = await setup();
    expect(clock.now()).toBe(30 + 250);
    await sim.attachDisk(name, xml(0, 'vdb'), BOTH);
    expect(clock.now()).toBe(280 + 35);
    expect(sim.domain(name)).toMatchObject({
      state: 'running',
      persistent: true,
      liveDisks: [{ target: 'vdb', type: 'block', source: PATHS[0], serial: 'vol-0', readOnly: false }],
      configDisks: [{ target: 'vdb' }],
      pendingUnplugs: [],
    });
    expect(sim.domain(name)?.liveDisks[0]?.xml).toBe(xml(0, 'vdb'));
  });

  it('models the guest releasing a disk after its delay', async () => {
    const { clock, sim, name, xml } = await setup({ unplugAckMs: 1500 });
    await sim.attachDisk(name, xml(0, 'vdb'), BOTH);
    const t0 = clock.now();
    expect(await sim.detachDisk(name, 'vdb', { timeoutMs: 10_000 })).toEqual({ outcome: 'detached', requests: 1 });
    expect(clock.now() - t0).toBe(20 + 1500);
    expect(sim.domain(name)).toMatchObject({ liveDisks: [], configDisks: [], pendingUnplugs: [] });
  });

  it('a guest that never answers: bounded wait, disk still attached in both copies, unplug left pending', async () => {
    const { clock, sim, name, xml } = await setup();
    await sim.attachDisk(name, xml(0, 'vdb'), BOTH);
    sim.setUnplugBehaviour(name, 'never');
    const t0 = clock.now();
    const err = await failure(sim.detachDisk(name, 'vdb', { timeoutMs: 3000 }));
    expect(err).toEqual({
      code: 'HITCH_HYPERVISOR_DETACH_TIMEOUT',
      message: `The guest did not release disk vdb of domain ${name} within 3000 ms`,
    });
    expect(clock.now() - t0).toBe(20 + 3000);
    expect(sim.domain(name)).toMatchObject({ liveDisks: [{ target: 'vdb' }], configDisks: [{ target: 'vdb' }], pendingUnplugs: ['vdb'] });
    // As with QEMU, the pending unplug keeps the target busy.
    expect((await failure(sim.attachDisk(name, xml(1, 'vdb'), BOTH))).message).toMatch(/target 'vdb' duplicated/);
  });

  it('a slow guest that answers after the bound: timeout now, disk gone later', async () => {
    const { clock, sim, name, xml } = await setup({ unplugAckMs: 5000 });
    await sim.attachDisk(name, xml(0, 'vdb'), BOTH);
    expect((await failure(sim.detachDisk(name, 'vdb', { timeoutMs: 1000 }))).code).toBe('HITCH_HYPERVISOR_DETACH_TIMEOUT');
    await clock.sleep(5000);
    expect(sim.domain(name)).toMatchObject({ liveDisks: [], configDisks: [{ target: 'vdb' }], pendingUnplugs: [] });
    // Retrying converges: nothing live to unplug, the persistent copy goes.
    expect(await sim.detachDisk(name, 'vdb', { timeoutMs: 1000 })).toEqual({ outcome: 'absent', requests: 0 });
    expect(sim.domain(name)?.configDisks).toEqual([]);
  });

  it('injected faults fail the matching calls with the given message, then clear', async () => {
    const { sim, name, xml } = await setup();
    sim.injectFault({ op: 'attach', domain: name, message: "internal error: unable to execute QEMU command 'device_add': Bus 'pci.0' does not support hotplugging" });
    const err = await failure(sim.attachDisk(name, xml(0, 'vdb'), BOTH));
    expect(err).toEqual({
      code: 'HITCH_HYPERVISOR_ERROR',
      message: "Hypervisor error: internal error: unable to execute QEMU command 'device_add': Bus 'pci.0' does not support hotplugging",
    });
    expect(sim.domain(name)?.liveDisks).toEqual([]);
    await sim.attachDisk(name, xml(0, 'vdb'), BOTH);

    sim.injectFault({ op: 'detach', times: 2 });
    expect((await failure(sim.detachDisk(name, 'vdb', { timeoutMs: 1000 }))).message).toMatch(/device_del/);
    expect((await failure(sim.detachDisk(name, 'vdb', { timeoutMs: 1000 }))).code).toBe('HITCH_HYPERVISOR_ERROR');
    expect((await sim.detachDisk(name, 'vdb', { timeoutMs: 1000 })).outcome).toBe('detached');

    sim.injectFault({ op: 'define' });
    const s2 = spec('faulty');
    expect((await failure(sim.defineAndStart(s2))).message).toMatch(/cannot define domain/);
    expect(sim.domain(s2.name)).toBeUndefined();
    sim.injectFault({ op: 'list', times: Infinity });
    expect((await failure(sim.listDisks(name))).code).toBe('HITCH_HYPERVISOR_ERROR');
    expect((await failure(sim.listDisks(name))).code).toBe('HITCH_HYPERVISOR_ERROR');
    sim.clearFaults();
    expect(await sim.listDisks(name)).toEqual([]);
  });

  it('refuses a block device that is missing on the host, or already opened read-write elsewhere', async () => {
    const present = new Set([PATHS[0], PATHS[1]]);
    const { sim, name, xml } = await setup({ blockSourceExists: (p) => present.has(p) });
    expect((await failure(sim.attachDisk(name, xml(2, 'vdb'), BOTH))).message).toBe(
      "Hypervisor error: Cannot access storage file '/dev/sdc': No such file or directory",
    );
    await sim.attachDisk(name, xml(0, 'vdb'), BOTH);
    const other = spec('other');
    await sim.defineAndStart(other);
    expect((await failure(sim.attachDisk(other.name, xml(0, 'vdb'), BOTH))).message).toMatch(/Failed to get "write" lock/);
    // Read-only on both sides shares the image.
    await sim.attachDisk(name, xml(1, 'vdc', { accessMode: 'ro' }), BOTH);
    await sim.attachDisk(other.name, xml(1, 'vdb', { accessMode: 'ro' }), BOTH);
  });

  it('redefining a name with another uuid, or a uuid under another name, is refused', async () => {
    const { sim, name } = await setup();
    const s = sim.domain(name);
    expect((await failure(sim.defineAndStart({ ...spec('x'), name }))).message).toMatch(/already exists with uuid/);
    expect((await failure(sim.defineAndStart({ ...spec('y'), uuid: s?.uuid ?? '' }))).message).toMatch(/already defined with uuid/);
  });

  it('undefining a running domain makes it transient; destroying it then removes it', async () => {
    const { sim, name, xml } = await setup();
    await sim.undefine(name);
    expect(sim.domain(name)).toMatchObject({ state: 'running', persistent: false });
    expect((await failure(sim.attachDisk(name, xml(0, 'vdb'), BOTH))).message).toMatch(/transient domain/);
    await sim.attachDisk(name, xml(0, 'vdb'), { live: true, persistent: false });
    await sim.destroy(name);
    expect(sim.domains()).toEqual([]);
  });

  it('keeps secret values to itself and passes CHAP to the network probe', async () => {
    const seen: (string | undefined)[] = [];
    const { sim, name } = await setup({ probeNetworkSource: (p) => (seen.push(p.chapPassword), null) });
    await sim.defineSecret('vol-chap', 's3cret');
    expect(sim.secrets()).toEqual([{ usage: 'vol-chap', uuid: expect.stringMatching(/^[0-9a-f-]{36}$/) }]);
    expect(sim.secretHasValue('vol-chap', 's3cret')).toBe(true);
    expect(JSON.stringify(sim.secrets())).not.toContain('s3cret');
    const xml = buildDiskXml({
      source: { kind: 'iscsi', iqn: 'iqn.2010-10.org.openstack:volume-1', lun: 1, host: { name: '127.0.0.1', port: 3260 }, auth: { username: 'u', secretUsage: 'vol-chap' } },
      targetDev: 'vdb',
      serial: 'vol-1',
    });
    await sim.attachDisk(name, xml, BOTH);
    expect(seen).toEqual(['s3cret']);
    expect(await sim.listDisks(name)).toEqual([{ type: 'network', device: 'disk', target: 'vdb', source: 'iqn.2010-10.org.openstack:volume-1/1' }]);
  });

  it('records a span per call when given one', async () => {
    const clock = new VirtualClock();
    const sim = new SimHypervisor({ clock });
    const trace = new Trace(clock);
    const s = spec('traced');
    await sim.defineAndStart(s, { span: trace.root() });
    await failure(sim.listDisks('nope', { span: trace.root() }));
    expect(trace.toText()).toBe(
      [
        `1 - 0 280 ok virt.define_and_start domain="${s.name}" hypervisor="sim"`,
        '2 - 280 300 error virt.list_disks domain="nope" hypervisor="sim" error=HITCH_HYPERVISOR_DOMAIN_NOT_FOUND',
      ].join('\n'),
    );
  });
});
