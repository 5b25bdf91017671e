import { describe, expect, it } from 'vitest';
import { isHitchError, type ErrorCode } from '../errors.ts';
import { Trace } from '../trace/span.ts';
import { buildDiskXml } from './disk-xml.ts';
import { buildDomainXml } from './domain-xml.ts';
import type { DomainSpec } from '../ports/hypervisor.ts';
import { LibvirtDriver } from './libvirt-driver.ts';
import { buildSecretXml, secretUuidForUsage } from './secret-xml.ts';
import { VirtualClock } from '../sim/clock.ts';
import { ScriptedHost, type ScriptedCall } from '../test-support/scripted-host.ts';
import { hypervisorDriverConformance } from './driver.conformance.ts';
import { SimHypervisor } from '../sim/sim-hypervisor.ts';
import { virshEmulatorHost } from '../test-support/virsh-emulator-host.ts';

const C = ['-c', 'qemu:///system'];
const v = (args: string[], answer: Omit<ScriptedCall, 'args'> = {}): ScriptedCall => ({ args: [...C, ...args], ...answer });

const SPEC: DomainSpec = { name: 'instance-0000002a', uuid: '62b302e5-6d95-4e61-8dd4-6aa8b1049545', memoryMiB: 128, vcpus: 1, virtType: 'qemu' };
const DOM = SPEC.name;
const SEED_XML = buildDiskXml({
  source: { kind: 'block', path: '/dev/disk/by-id/dm-uuid-mpath-36006016015e03a00ab2df25bb82d0ea9' },
  targetDev: 'vdb',
  serial: '5ed0cc5c-158c-4857-9bd5-3556884a23f0',
});

const LIST_HEADER = ' Type    Device   Target   Source\n-------------------------------------------------------------\n';
const LIST_VDB = `${LIST_HEADER} block   disk     vdb      /dev/disk/by-id/dm-uuid-mpath-36006016015e03a00ab2df25bb82d0ea9\n\n`;
const LIST_EMPTY = ' Type   Device   Target   Source\n----------------------------------\n\n';

function driverOver(script: ScriptedCall[]) {
  const host = new ScriptedHost(script);
  return { host, driver: new LibvirtDriver({ host }) };
}

async function failure(p: Promise<unknown>): Promise<{ code: ErrorCode; message: string }> {
  try {
    await p;
  } catch (e) {
    if (isHitchError(e)) return { code: e.code, message: e.summary };
    throw e;
  }
  throw new Error('expected a failure');
}

describe('LibvirtDriver: the exact virsh commands', () => {
  it('defines from stdin, then starts', async () => {
    const { host, driver } = driverOver([
      v(['domstate', DOM], { code: 1, stderr: `error: failed to get domain '${DOM}'\n` }),
      v(['define', '/dev/stdin'], { stdout: `Domain '${DOM}' defined from /dev/stdin\n` }),
      v(['start', DOM], { stdout: `Domain '${DOM}' started\n` }),
    ]);
    await driver.defineAndStart(SPEC);
    expect(host.remaining).toEqual([]);
    expect(host.calls[1]?.input).toBe(buildDomainXml(SPEC));
    expect(host.calls.every((c) => c.cmd === 'virsh' && c.timeoutMs === 30_000)).toBe(true);
  });

  it('re-run after a crash: never redefines an existing domain (that would drop its disks); starts it only if off', async () => {
    const { host, driver } = driverOver([
      v(['domstate', DOM], { stdout: 'running\n\n' }),
      v(['domuuid', DOM], { stdout: `${SPEC.uuid}\n\n` }),
      v(['domstate', DOM], { stdout: 'shut off\n\n' }),
      v(['domuuid', DOM], { stdout: `${SPEC.uuid}\n\n` }),
      v(['start', DOM], { code: 1, stderr: `error: Failed to start domain '${DOM}'\nerror: Requested operation is not valid: domain is already active\n` }),
      v(['domstate', DOM], { stdout: 'running\n\n' }),
      v(['domuuid', DOM], { stdout: 'e755b0a0-5ae4-4890-951e-00447b1baf47\n\n' }),
    ]);
    await driver.defineAndStart(SPEC);
    await driver.defineAndStart(SPEC);
    expect(await failure(driver.defineAndStart(SPEC))).toEqual({
      code: 'HITCH_HYPERVISOR_ERROR',
      message: `Hypervisor error: operation failed: domain '${DOM}' already exists with uuid e755b0a0-5ae4-4890-951e-00447b1baf47`,
    });
    expect(host.remaining).toEqual([]);
  });

  it('attaches live and persistent with the XML on stdin', async () => {
    const { host, driver } = driverOver([v(['attach-device', DOM, '/dev/stdin', '--live', '--config'], { stdout: 'Device attached successfully\n' })]);
    await driver.attachDisk(DOM, SEED_XML, { live: true, persistent: true });
    expect(host.calls[0]?.input).toBe(SEED_XML);
    const { host: h2, driver: d2 } = driverOver([v(['attach-device', DOM, '/dev/stdin', '--config'])]);
    await d2.attachDisk(DOM, SEED_XML, { live: false, persistent: true });
    expect(h2.remaining).toEqual([]);
  });

  it("turns virsh's error lines into the catalog error (fixtures: duplicated target, missing domain)", async () => {
    const { driver } = driverOver([
      v(['attach-device', DOM, '/dev/stdin', '--live', '--config'], {
        code: 1,
        stderr: "error: Failed to attach device from /dev/stdin\nerror: XML error: target 'vdb' duplicated for disk sources '/dev/sdb' and '/dev/sdc'\n",
      }),
      v(['attach-device', 'ghost', '/dev/stdin', '--live', '--config'], { code: 1, stderr: "error: failed to get domain 'ghost'\n" }),
    ]);
    expect(await failure(driver.attachDisk(DOM, SEED_XML, { live: true, persistent: true }))).toEqual({
      code: 'HITCH_HYPERVISOR_ERROR',
      message: "Hypervisor error: Failed to attach device from /dev/stdin; XML error: target 'vdb' duplicated for disk sources '/dev/sdb' and '/dev/sdc'",
    });
    expect(await failure(driver.attachDisk('ghost', SEED_XML, { live: true, persistent: true }))).toEqual({
      code: 'HITCH_HYPERVISOR_DOMAIN_NOT_FOUND',
      message: "Hypervisor error: failed to get domain 'ghost'",
    });
  });

  it('runs nothing for invalid input', async () => {
    const { host, driver } = driverOver([]);
    expect((await failure(driver.attachDisk(DOM, SEED_XML.replace('vdb', 'hda'), { live: true, persistent: true }))).code).toBe('HITCH_INVALID_ARGUMENT');
    expect((await failure(driver.attachDisk('--all', SEED_XML, { live: true, persistent: true }))).code).toBe('HITCH_INVALID_ARGUMENT');
    expect((await failure(driver.detachDisk(DOM, 'vdb', { timeoutMs: Number.NaN }))).code).toBe('HITCH_INVALID_ARGUMENT');
    expect(host.calls).toEqual([]);
  });

  it('lists disks with domblklist --details', async () => {
    const { driver } = driverOver([v(['domblklist', DOM, '--details'], { stdout: LIST_VDB })]);
    expect(await driver.listDisks(DOM)).toEqual([
      { type: 'block', device: 'disk', target: 'vdb', source: '/dev/disk/by-id/dm-uuid-mpath-36006016015e03a00ab2df25bb82d0ea9' },
    ]);
  });

  it('detach: unplugs live, checks domblklist until the disk is gone, then drops it from the config', async () => {
    const { host, driver } = driverOver([
      v(['domstate', DOM], { stdout: 'running\n\n' }),
      v(['domblklist', DOM, '--details'], { stdout: LIST_VDB }),
      v(['detach-disk', DOM, 'vdb', '--live'], { stdout: 'Disk detached successfully\n', durationMs: 200 }),
      v(['domblklist', DOM, '--details'], { stdout: LIST_VDB }),
      v(['domblklist', DOM, '--details'], { stdout: LIST_EMPTY }),
      v(['detach-disk', DOM, 'vdb', '--config'], { stdout: 'Disk detached successfully\n' }),
    ]);
    expect(await driver.detachDisk(DOM, 'vdb', { timeoutMs: 20_000 })).toEqual({ outcome: 'detached', requests: 1 });
    expect(host.remaining).toEqual([]);
    // The second check came one poll interval after the first.
    expect(host.calls.map((c) => c.atMs)).toEqual([0, 0, 0, 200, 700, 700]);
  });

  it("detach: does not trust 'Disk detached successfully' from a guest that never lets go; re-requests, then times out", async () => {
    const never = { stdout: 'Disk detached successfully\n', durationMs: 5000 };
    const { host, driver } = driverOver([
      v(['domstate', DOM], { stdout: 'running\n' }),
      v(['domblklist', DOM, '--details'], { stdout: LIST_VDB }),
      v(['detach-disk', DOM, 'vdb', '--live'], never),
      v(['domblklist', DOM, '--details'], { stdout: LIST_VDB }),
      v(['detach-disk', DOM, 'vdb', '--live'], {
        code: 1,
        stderr: "error: Failed to detach disk\nerror: operation failed: unplug of device was rejected by the guest\n",
        durationMs: 5000,
      }),
      v(['domblklist', DOM, '--details'], { stdout: LIST_VDB }),
    ]);
    expect(await failure(driver.detachDisk(DOM, 'vdb', { timeoutMs: 8000 }))).toEqual({
      code: 'HITCH_HYPERVISOR_DETACH_TIMEOUT',
      message: `The guest did not release disk vdb of domain ${DOM} within 8000 ms`,
    });
    expect(host.remaining).toEqual([]);
    // Nothing removed from the persistent definition: the disk is still attached, in both copies.
    expect(host.calls.some((c) => c.args.includes('--config'))).toBe(false);
  });

  it('detach: the first unplug request failing is an error', async () => {
    const { driver } = driverOver([
      v(['domstate', DOM], { stdout: 'running\n' }),
      v(['domblklist', DOM, '--details'], { stdout: LIST_VDB }),
      v(['detach-disk', DOM, 'vdb', '--live'], { code: 1, stderr: "error: Failed to detach disk\nerror: internal error: unable to execute QEMU command 'device_del': Bus 'pci.0' does not support hotplugging\n" }),
    ]);
    expect((await failure(driver.detachDisk(DOM, 'vdb', { timeoutMs: 8000 }))).message).toMatch(/does not support hotplugging/);
  });

  it('detach: absent from the guest converges the config and reports absent; a stopped domain edits the config only', async () => {
    const { host, driver } = driverOver([
      v(['domstate', DOM], { stdout: 'running\n' }),
      v(['domblklist', DOM, '--details'], { stdout: LIST_EMPTY }),
      v(['detach-disk', DOM, 'vdb', '--config'], { code: 1, stderr: 'error: No disk found whose source path or target is vdb\n' }),
      v(['domstate', DOM], { stdout: 'shut off\n' }),
      v(['detach-disk', DOM, 'vdb', '--config'], { stdout: 'Disk detached successfully\n' }),
      v(['domstate', 'ghost'], { code: 1, stderr: "error: failed to get domain 'ghost'\n" }),
    ]);
    expect(await driver.detachDisk(DOM, 'vdb', { timeoutMs: 1000 })).toEqual({ outcome: 'absent', requests: 0 });
    expect(await driver.detachDisk(DOM, 'vdb', { timeoutMs: 1000 })).toEqual({ outcome: 'detached', requests: 0 });
    expect((await failure(driver.detachDisk('ghost', 'vdb', { timeoutMs: 1000 }))).code).toBe('HITCH_HYPERVISOR_DOMAIN_NOT_FOUND');
    expect(host.remaining).toEqual([]);
  });

  it('destroy, undefine and domstate tolerate what cleanup meets', async () => {
    const { host, driver } = driverOver([
      v(['destroy', DOM], { code: 1, stderr: `error: Failed to destroy domain '${DOM}'\nerror: Requested operation is not valid: domain is not running\n` }),
      v(['destroy', 'ghost'], { code: 1, stderr: "error: failed to get domain 'ghost'\n" }),
      v(['undefine', 'ghost'], { code: 1, stderr: "error: failed to get domain 'ghost'\n" }),
      v(['undefine', DOM], { stdout: `Domain '${DOM}' has been undefined\n` }),
      v(['domstate', 'ghost'], { code: 1, stderr: "error: failed to get domain 'ghost'\n" }),
      v(['destroy', DOM], { code: 1, stderr: `error: Failed to destroy domain '${DOM}'\nerror: operation failed: failed to kill qemu process with SIGTERM\n` }),
    ]);
    await driver.destroy(DOM);
    await driver.destroy('ghost');
    await driver.undefine('ghost');
    await driver.undefine(DOM);
    expect(await driver.domainState('ghost')).toBeNull();
    expect((await failure(driver.destroy(DOM))).message).toMatch(/failed to kill qemu process/);
    expect(host.remaining).toEqual([]);
  });

  it('secrets: defined from stdin under a uuid derived from the usage; the value goes on stdin, masked, never in argv', async () => {
    const usage = 'hitch-volume-5ed0cc5c';
    const uuid = secretUuidForUsage(usage);
    const value = 'Chap-Pa55!word';
    const { host, driver } = driverOver([
      v(['secret-define', '/dev/stdin'], { stdout: `Secret ${uuid} created\n` }),
      v(['secret-set-value', uuid, '--file', '/dev/stdin', '--plain'], { stdout: 'Secret value set\n' }),
      v(['secret-define', '/dev/stdin'], { stdout: `Secret ${uuid} created\n` }),
      v(['secret-set-value', uuid, '--file', '/dev/stdin', '--plain'], { code: 1, stderr: `error: invalid secret ${value}\n` }),
      v(['secret-undefine', uuid], { stdout: `Secret ${uuid} deleted\n` }),
      v(['secret-undefine', uuid], { code: 1, stderr: `error: failed to get secret '${uuid}'\nerror: Secret not found: no secret with matching uuid '${uuid}'\n` }),
    ]);
    expect(await driver.defineSecret(usage, value)).toEqual({ uuid, usage });
    expect(host.calls[0]?.input).toBe(buildSecretXml(usage));
    expect(host.calls[1]).toMatchObject({ input: value, secrets: [value] });
    const err = await failure(driver.defineSecret(usage, value));
    expect(err).toEqual({ code: 'HITCH_HYPERVISOR_ERROR', message: 'Hypervisor error: invalid secret ***' });
    await driver.undefineSecret(usage);
    await driver.undefineSecret(usage);
    expect(host.calls.some((c) => c.args.some((a) => a.includes(value)))).toBe(false);
    expect(buildSecretXml(usage)).toBe(`<secret ephemeral="no" private="yes">
  <uuid>${uuid}</uuid>
  <description>Hitch iSCSI CHAP secret ${usage}</description>
  <usage type="iscsi">
    <target>${usage}</target>
  </usage>
</secret>`);
  });

  it('traces each driver call with one virsh child span per command and its exit code', async () => {
    const clock = new VirtualClock();
    const host = new ScriptedHost([v(['attach-device', DOM, '/dev/stdin', '--live', '--config'], { durationMs: 35 })], { clock });
    const trace = new Trace(clock);
    await new LibvirtDriver({ host }).attachDisk(DOM, SEED_XML, { live: true, persistent: true, span: trace.root() });
    expect(trace.toText()).toBe(
      [
        `1 - 0 35 ok virt.attach_disk domain="${DOM}" hypervisor="libvirt" source="/dev/disk/by-id/dm-uuid-mpath-36006016015e03a00ab2df25bb82d0ea9" target="vdb"`,
        '2 1 0 35 ok virsh command="attach-device" exitCode=0',
      ].join('\n'),
    );
  });
});

// The same conformance suite as the sim hypervisor and (later) real libvirt, with virsh played
// by the sim hypervisor: the driver's parsing, error mapping and detach loop under test.
let seq = 0;
function emulated(unplugAckMs: number | 'never') {
  return async () => {
    const clock = new VirtualClock();
    const sim = new SimHypervisor({
      clock,
      unplugAckMs,
      probeNetworkSource: (p) => (p.chapPassword === 'open-sesame' ? null : 'iSCSI: Failed to connect to LUN : Failed to log in to target. Status: Authentication failure(513)'),
    });
    const host = virshEmulatorHost(sim, clock);
    return {
      driver: new LibvirtDriver({ host }),
      domainSpec: (tag: string): DomainSpec => {
        seq += 1;
        return { name: `conf-${tag}-${seq}`, uuid: `00000000-0000-4000-8000-${seq.toString(16).padStart(12, '0')}`, memoryMiB: 64, vcpus: 1, virtType: 'qemu' };
      },
      diskSource: (i: number) => ({ kind: 'block' as const, path: `/dev/loop${i}` }),
      chapSource: (usage: string) => ({
        source: { kind: 'iscsi' as const, iqn: 'iqn.2024-01.org.peers:vol2-chap', lun: 1, host: { name: '127.0.0.1', port: 3260 }, auth: { username: 'chapuser', secretUsage: usage } },
        password: 'open-sesame',
      }),
      detachTimeoutMs: 20_000,
      guestReleasesDisks: unplugAckMs !== 'never',
    };
  };
}

hypervisorDriverConformance('libvirt driver over emulated virsh, guest releases disks', emulated(150));
hypervisorDriverConformance('libvirt driver over emulated virsh, no guest OS', emulated('never'));
