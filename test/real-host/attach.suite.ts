/**
 * The real data plane, end to end on this Linux host: tgtd serves volumes on two loopback
 * portals, libvirt + QEMU (TCG) run one tiny guest (Debian's cloud kernel + busybox), and every
 * attach goes through Hitch's HTTP APIs with QEMU's own iSCSI initiator logging in to tgt. The
 * guest's serial console is the witness: it prints its block devices (`GUEST-BLOCK: [vdb:serial ]`)
 * whenever they change.
 *
 * One guest is booted and reused by every case. Everything the suite starts (tgtd, libvirtd and
 * virtlogd when they were not running, the domain, secrets) it stops or removes.
 * Outside CI a missing peer skips the suite with a message; under CI=true it fails.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VolumeAttachProtocol } from '../../src/ports/block-storage.ts';
import type { ConnectionInfo, IscsiConnectionData } from '../../src/ports/attach.ts';
import { consoleLogPath } from '../../src/server/data-plane.ts';
import { peerRequired } from '../../src/test-support/postgres.ts';
import type { TgtBackend } from '../../src/volume/backends/tgt-backend.ts';
import { startTestCloud, type TestCloud } from '../support/cloud.ts';
import { Console, ensureLibvirt, freePort, freeTgtControlPort, missingPeers, run, testGuest, until, virsh, type Libvirt } from './peers.ts';
import { TINY_IMAGE_ID } from '../../src/compute/images.ts';
import { PythonClients } from '../../src/test-support/python-clients.ts';
import { DEMO_PASSWORD } from '../support/cloud.ts';


const missing = missingPeers();
if (missing.length > 0 && !peerRequired()) {
  console.warn(`real-host suite skipped: missing ${missing.join(', ')} (bash scripts/install-test-peers.sh installs them)`);
}
const suite = missing.length > 0 && !peerRequired() ? describe.skip : describe;

const MICRO = { 'OpenStack-API-Version': 'compute 2.79' };
const INITIATOR_FILE = '/etc/iscsi/initiatorname.iscsi';
/** The initiator name Hitch's connector reports (and QEMU logs in with). */
const INITIATOR = existsSync(INITIATOR_FILE) ? (/^InitiatorName=(\S+)/m.exec(readFileSync(INITIATOR_FILE, 'utf8'))?.[1] ?? '') : '';

/** Per volume id: how to spoil the connection info Cinder returns (the failing-attach case). */
const sabotage = new Map<string, (data: IscsiConnectionData) => IscsiConnectionData>();

function spoiling(p: VolumeAttachProtocol): VolumeAttachProtocol {
  const initialize: VolumeAttachProtocol['initialize'] = async (ref, connector, span): Promise<ConnectionInfo> => {
    const ci = await p.initialize(ref, connector, span);
    const spoil = sabotage.get(ref.volumeId);
    return spoil && ci.driver_volume_type === 'iscsi' ? { ...ci, data: spoil(ci.data) } : ci;
  };
  // Every other member is the real protocol's, bound to it (its private fields stay reachable).
  return new Proxy(p, {
    get(target, prop) {
      if (prop === 'initialize') return initialize;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

suite('real host: tgt + libvirt/QEMU + a real guest, through the HTTP APIs', () => {
  let t: TestCloud;
  let libvirt: Libvirt | undefined;
  let token = '';
  let projectId = '';
  let serverId = '';
  let domain = '';
  let guest: Console;
  /** The tiny guest as a bootable disk image (build-test-guest.sh's boot.img). */
  let bootDisk = '';
  let portals: string[] = [];
  const log = (s: string): void => console.log(`[real-host] ${s}`);

  const backend = (): TgtBackend => t.cloud.backend as TgtBackend;

  beforeAll(async () => {
    if (missing.length > 0) throw new Error(`real-host peers missing under CI: ${missing.join(', ')}`);
    const t0 = Date.now();
    const image = await testGuest();
    bootDisk = image.bootDisk;
    log(`guest ${image.version} ready in ${Date.now() - t0} ms (${image.kernel})`);
    libvirt = await ensureLibvirt();
    log(`libvirtd ${libvirt.started ? 'started by the suite' : 'found running'}`);
    const port = await freePort(['127.0.0.1', '127.0.0.2']);
    portals = [`127.0.0.1:${port}`, `127.0.0.2:${port}`];
    t = await startTestCloud(
      {
        backend: 'tgt',
        virt: 'libvirt',
        attachMode: 'qemu-native',
        tgtPortals: portals.join(','),
        tgtControlPort: freeTgtControlPort(),
        tgtStart: true,
        guestKernel: image.kernel,
        guestInitrd: image.initrd,
        detachTimeoutMs: 60_000,
      },
      { wrapStorage: spoiling },
    );
    expect(t.cloud.hosts[0]?.hypervisor.kind).toBe('libvirt');
    ({ token, projectId } = await t.token('demo'));
    const t1 = Date.now();
    const s = await t.api('POST', '/compute/v2.1/servers', { token, body: { server: { name: 'real-guest', imageRef: TINY_IMAGE_ID, flavorRef: '1' } } });
    expect(s.status, JSON.stringify(s.body)).toBe(202);
    serverId = s.body.server.id;
    await t.cloud.settle();
    const admin = await t.token('admin');
    const view = await t.api('GET', `/compute/v2.1/servers/${serverId}`, { token: admin.token });
    expect(view.body.server.status, JSON.stringify(view.body.server.fault ?? view.body.server)).toBe('ACTIVE');
    domain = view.body.server['OS-EXT-SRV-ATTR:instance_name'];
    guest = new Console(consoleLogPath(t.config.dataDir, domain));
    const ready = await guest.waitFor('the guest to boot', (c) => c.lines().find((l) => l.includes('GUEST-READY')), 120_000);
    log(`server ${serverId} (${domain}) booted in ${Date.now() - t1} ms: ${ready.trim()}`);
  }, 600_000);

  afterAll(async () => {
    const errors: unknown[] = [];
    const step = async (fn: () => Promise<unknown>): Promise<void> => {
      try {
        await fn();
      } catch (e) {
        errors.push(e);
      }
    };
    if (t) {
      if (serverId) {
        await step(async () => {
          const del = await t.api('DELETE', `/compute/v2.1/servers/${serverId}`, { token });
          expect(del.status).toBe(204);
          // The delete runs in the background (detach every volume, then destroy the domain).
          await until('the server to be deleted', async () => {
            const r = await t.api('GET', `/compute/v2.1/servers/${serverId}`, { token });
            return r.status === 404 || r.body?.server?.status === 'DELETED';
          }, 120_000);
          log(`server deleted; domain ${domain}: ${(await virsh('domstate', domain)).stderr.trim() || 'still there'}`);
        });
      }
      // Whatever the API left (a failed case), by name: only this suite's domain.
      if (domain && (await virsh('domstate', domain)).code === 0) {
        errors.push(new Error(`domain ${domain} was still defined after the server was deleted`));
        await virsh('destroy', domain);
        await virsh('undefine', domain);
      }
      // No libvirt secret of this server may outlive it.
      if (serverId) {
        for (const line of (await virsh('secret-list')).stdout.split('\n').filter((l) => l.includes(serverId))) {
          errors.push(new Error(`secret left behind: ${line.trim()}`));
          await virsh('secret-undefine', line.trim().split(/\s+/)[0] ?? '');
        }
      }
      await step(() => t.close());
    }
    if (libvirt) await step(() => libvirt!.stop());
    if (errors.length > 0) throw new Error(`real-host teardown: ${errors.map((e) => (e instanceof Error ? e.message : String(e))).join('; ')}`);
  }, 180_000);

  async function createVolume(name: string): Promise<string> {
    const v = await t.api('POST', `/volume/v3/${projectId}/volumes`, { token, body: { volume: { size: 1, name } } });
    expect(v.status, JSON.stringify(v.body)).toBe(202);
    const id: string = v.body.volume.id;
    await until(`volume ${name} available`, async () => (await t.api('GET', `/volume/v3/${projectId}/volumes/${id}`, { token })).body.volume.status === 'available', 30_000);
    return id;
  }

  async function volumeStatus(id: string): Promise<string> {
    return (await t.api('GET', `/volume/v3/${projectId}/volumes/${id}`, { token })).body.volume.status;
  }

  /** The guest's devices whose serial is this volume's (virtio-blk keeps its first 20 bytes). */
  const serialOf = (volumeId: string): string => volumeId.slice(0, 20);
  const deviceOf = (devices: Map<string, string>, volumeId: string): string | undefined => [...devices].find(([, s]) => s === serialOf(volumeId))?.[0];

  async function attach(volumeId: string): Promise<{ device: string; line: string; spans: { name: string; ms: number }[]; consoleMs: number }> {
    const from = guest.lines().length;
    const t0 = Date.now();
    const post = await t.api('POST', `/compute/v2.1/servers/${serverId}/os-volume_attachments`, { token, body: { volumeAttachment: { volumeId } }, headers: MICRO });
    expect(post.status, JSON.stringify(post.body)).toBe(200);
    await t.cloud.settle();
    expect(await volumeStatus(volumeId)).toBe('in-use');
    const seen = await guest.waitFor(`volume ${volumeId} in the guest`, (c) => c.blockLines(from).find((b) => deviceOf(b.devices, volumeId)), 60_000);
    const consoleMs = Date.now() - t0;
    const trace = await t.api('GET', `/compute/v2.1/servers/${serverId}/os-volume_attachments/${volumeId}/trace`, { token });
    const op = trace.body.operations.find((o: { kind: string }) => o.kind === 'attach') ?? trace.body.operations[0];
    const spans = op.spans
      .filter((s: { parent_id: number | null }) => s.parent_id === null)
      .map((s: { name: string; start_ms: number; end_ms: number }) => ({ name: s.name, ms: s.end_ms - s.start_ms }));
    return { device: deviceOf(seen.devices, volumeId) ?? '', line: seen.line, spans, consoleMs };
  }

  async function detach(volumeId: string): Promise<{ line: string; ms: number }> {
    const from = guest.lines().length;
    const t0 = Date.now();
    const del = await t.api('DELETE', `/compute/v2.1/servers/${serverId}/os-volume_attachments/${volumeId}`, { token });
    expect(del.status, JSON.stringify(del.body)).toBe(202);
    await t.cloud.settle();
    expect(await volumeStatus(volumeId)).toBe('available');
    // The guest printed a device list without it (the detach waited for the guest to let go).
    const gone = await guest.waitFor(`volume ${volumeId} to leave the guest`, (c) => c.blockLines(from).find((b) => !deviceOf(b.devices, volumeId)), 60_000);
    return { line: gone.line, ms: Date.now() - t0 };
  }

  async function domainDisks(): Promise<string> {
    const r = await virsh('domblklist', domain, '--details');
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
  }

  async function secretsOf(volumeId: string): Promise<string[]> {
    const r = await virsh('secret-list');
    return r.stdout.split('\n').filter((l) => l.includes(volumeId));
  }

  /** What tgt serves this initiator: the targets its SendTargets discovery lists on a portal. */
  async function discovered(portal: string): Promise<string> {
    return (await run('iscsi-ls', ['-i', INITIATOR, `iscsi://${portal}`])).stdout;
  }

  function logTimings(what: string, a: { spans: { name: string; ms: number }[]; consoleMs: number }): void {
    log(`${what}: ${a.spans.map((s) => `${s.name} ${s.ms} ms`).join(', ')}; POST → device on the guest console ${a.consoleMs} ms`);
  }

  it('attaches a tgt volume to the running guest with CHAP, the guest sees it, detach removes it everywhere', async () => {
    const vol = await createVolume('real-1');
    const before = (await backend().target(vol))!;
    expect(before.acls).toEqual([]); // created, exported to nobody
    expect(before.accounts).toHaveLength(1); // its own CHAP user
    expect(before.luns.find((l) => l.lun === 1)?.path).toMatch(new RegExp(`/tgt/volume-${vol}\\.img$`));

    const a = await attach(vol);
    log(`guest console: ${a.line} (volume ${vol} is ${a.device})`);
    logTimings('attach', a);
    expect(a.spans.map((s) => s.name)).toEqual([
      'reserve', 'lock-instance', 'get-volume', 'connector-properties', 'initialize-connection', 'connect-volume', 'hotplug', 'complete', 'unlock-instance',
    ]);

    // libvirt: a network disk on QEMU's initiator, with CHAP from a libvirt secret.
    expect(await domainDisks()).toMatch(new RegExp(`network\\s+disk\\s+vdb\\s+iqn\\.2010-10\\.org\\.openstack:volume-${vol}/1`));
    const xml = (await virsh('dumpxml', domain)).stdout;
    expect(xml).toMatch(/<auth username='[0-9a-f]{20}'>\s*<secret type='iscsi' usage='hitch-/);
    expect(await secretsOf(vol)).toHaveLength(1);
    // Live and persistent: the domain's stored definition has the disk too.
    expect((await virsh('dumpxml', domain, '--inactive')).stdout).toContain(`volume-${vol}/1`);
    // tgt: exported to this host's initiator only, and QEMU is logged in.
    const during = (await backend().target(vol))!;
    expect(during.acls).toEqual([INITIATOR]);
    expect(during.nexuses.map((n) => n.initiator)).toContain(INITIATOR);
    // CHAP is enforced: the right initiator without the secret cannot log in.
    const noChap = await run('iscsi-ls', ['-s', '-i', INITIATOR, `iscsi://${portals[0]}`]);
    expect(noChap.stdout + noChap.stderr).toMatch(/Authentication failure/);
    // The CHAP secret is nowhere in the attachment's trace (it holds every command Hitch ran).
    const chapPassword: string = JSON.parse((await t.cloud.computeRepository.getBdm(serverId, vol))!.connection_info!).data.auth_password;
    expect(chapPassword).toMatch(/^[0-9a-f]{16}$/);
    const traceText = JSON.stringify((await t.api('GET', `/compute/v2.1/servers/${serverId}/os-volume_attachments/${vol}/trace`, { token })).body);
    expect(traceText).not.toContain(chapPassword);

    const d = await detach(vol);
    log(`guest console after detach: ${d.line} (${d.ms} ms)`);
    expect(await domainDisks()).not.toContain(vol);
    expect((await virsh('dumpxml', domain, '--inactive')).stdout).not.toContain(vol);
    expect(await secretsOf(vol)).toEqual([]);
    const after = (await backend().target(vol))!;
    expect(after.acls).toEqual([]);
    expect(after.nexuses).toEqual([]);
    expect(await discovered(portals[0]!)).not.toContain(vol);

    const del = await t.api('DELETE', `/volume/v3/${projectId}/volumes/${vol}`, { token });
    expect(del.status).toBe(202);
    await until('the volume to be deleted', async () => (await t.api('GET', `/volume/v3/${projectId}/volumes/${vol}`, { token })).status === 404, 30_000);
    expect(await backend().target(vol)).toBeNull();
  }, 240_000);

  it.each([
    ['refuses connections', false],
    ['accepts TCP and never answers (a hung array)', true],
  ] as const)('attaches through the second portal when the first %s', async (how, silent) => {
    const vol = await createVolume('real-portal');
    const down = portals[0]!;
    const [ip, port] = [down.slice(0, down.lastIndexOf(':')), Number(down.slice(down.lastIndexOf(':') + 1))];
    const tgtadm = (op: string): Promise<unknown> =>
      run('tgtadm', ['-C', String(t.config.tgtControlPort), '--lld', 'iscsi', '--op', op, '--mode', 'portal', '--param', `portal=${down}`]);
    await tgtadm('delete');
    // The hung portal: a listener that takes the connection and never says a word.
    const held: Socket[] = [];
    const blackhole = silent ? createServer((c) => held.push(c)) : null;
    if (blackhole) await new Promise<void>((resolve, reject) => blackhole.once('error', reject).listen(port, ip, resolve));
    try {
      const a = await attach(vol);
      log(`portal ${down} ${how} — guest console: ${a.line} (volume ${vol} is ${a.device})`);
      logTimings(`attach with the first portal that ${how}`, a);
      const xml = (await virsh('dumpxml', domain)).stdout;
      expect(xml).toContain(`<host name='127.0.0.2' port='${port}'/>`);
      const bdm = await t.cloud.computeRepository.getBdm(serverId, vol);
      expect(JSON.parse(bdm!.connection_info!).data.target_portals).toEqual(portals);
      const d = await detach(vol);
      log(`guest console after detach: ${d.line} (${d.ms} ms)`);
      expect(await domainDisks()).not.toContain(vol);
    } finally {
      for (const c of held) c.destroy();
      if (blackhole) await new Promise<void>((resolve) => blackhole.close(() => resolve()));
      await tgtadm('new');
    }
    expect((await backend().target(vol))!.acls).toEqual([]);
  }, 240_000);

  /** The first bytes the guest read from a new disk (its `GUEST-LABEL: vdX …` line), from line `from` on. */
  async function labelOf(device: string, from: number): Promise<string> {
    const re = new RegExp(`GUEST-LABEL: ${device} (.*)$`);
    return guest.waitFor(`the first bytes of ${device}`, (c) => c.lines().slice(from).map((l) => re.exec(l.trim())?.[1]).find((x) => x !== undefined), 60_000);
  }

  /** Write `label` at the start of a tgt volume's LUN file, as a guest would have. */
  async function writeLabel(volumeId: string, label: string): Promise<void> {
    const path = (await backend().target(volumeId))!.luns.find((l) => l.lun === 1)!.path!;
    const fd = openSync(path, 'r+');
    try {
      writeSync(fd, Buffer.from(label.padEnd(64, ' ')), 0, 64, 0);
    } finally {
      closeSync(fd);
    }
  }

  it('volumes from a snapshot and from a source volume: tgt copies the data, the guest reads it', async () => {
    const origin = await createVolume('real-origin');
    await writeLabel(origin, 'HITCH-ORIGIN-BEFORE-SNAPSHOT');
    const snap = await t.api('POST', `/volume/v3/${projectId}/snapshots`, { token, body: { snapshot: { volume_id: origin, name: 'real-snap' } } });
    expect(snap.status, JSON.stringify(snap.body)).toBe(202);
    const snapId: string = snap.body.snapshot.id;
    await until('the snapshot available', async () => (await t.api('GET', `/volume/v3/${projectId}/snapshots/${snapId}`, { token })).body.snapshot.status === 'available', 30_000);
    // The snapshot is a point in time: what the origin holds afterwards is not in it.
    await writeLabel(origin, 'HITCH-ORIGIN-AFTER-SNAPSHOT');
    const make = async (name: string, from: Record<string, string>): Promise<string> => {
      const v = await t.api('POST', `/volume/v3/${projectId}/volumes`, { token, body: { volume: { size: 1, name, ...from } } });
      expect(v.status, JSON.stringify(v.body)).toBe(202);
      const id: string = v.body.volume.id;
      await until(`volume ${name} available`, async () => (await volumeStatus(id)) === 'available', 60_000);
      return id;
    };
    const fromSnap = await make('real-from-snap', { snapshot_id: snapId });
    const clone = await make('real-clone', { source_volid: origin });
    for (const [vol, want] of [
      [fromSnap, 'HITCH-ORIGIN-BEFORE-SNAPSHOT'],
      [clone, 'HITCH-ORIGIN-AFTER-SNAPSHOT'],
    ] as const) {
      const from = guest.lines().length;
      const a = await attach(vol);
      const label = await labelOf(a.device, from);
      log(`${vol} attached as ${a.device}; the guest read: ${label}`);
      expect(label.trim()).toBe(want);
      await detach(vol);
    }
    // A volume with a snapshot is deleted only with cascade; the copies outlive their origin.
    expect((await t.api('DELETE', `/volume/v3/${projectId}/volumes/${origin}`, { token })).status).toBe(400);
    expect((await t.api('DELETE', `/volume/v3/${projectId}/volumes/${origin}?cascade=true`, { token })).status).toBe(202);
    for (const vol of [origin, fromSnap, clone]) {
      if (vol !== origin) expect((await t.api('DELETE', `/volume/v3/${projectId}/volumes/${vol}`, { token })).status).toBe(202);
      await until(`volume ${vol} deleted`, async () => (await t.api('GET', `/volume/v3/${projectId}/volumes/${vol}`, { token })).status === 404, 30_000);
      expect(await backend().target(vol)).toBeNull();
    }
  }, 300_000);

  /** The guest's sizes, in 512-byte sectors, of its disks (its `GUEST-SIZE: [vdb:2097152 ]` lines), from line `from` on. */
  async function guestSize(device: string, from: number, sectors: number): Promise<string> {
    const re = new RegExp(`\\b${device}:(\\d+)\\b`);
    return guest.waitFor(`${device} at ${sectors} sectors in the guest`, (c) => c.lines().slice(from).find((l) => l.includes('GUEST-SIZE:') && re.exec(l)?.[1] === String(sectors)), 60_000);
  }

  it('online extend: volume-extended reaches compute, libvirt grows the disk, the guest sees the new size', async () => {
    const vol = await createVolume('real-extend');
    const a = await attach(vol);
    await guestSize(a.device, 0, 2 * 1024 * 1024);
    const from = guest.lines().length;
    const ext = await t.api('POST', `/volume/v3/${projectId}/volumes/${vol}/action`, { token, headers: { 'OpenStack-API-Version': 'volume 3.42' }, body: { 'os-extend': { new_size: 2 } } });
    expect(ext.status, JSON.stringify(ext.body)).toBe(202);
    await t.cloud.settle();
    const line = await guestSize(a.device, from, 4 * 1024 * 1024);
    log(`extended ${vol} to 2 GiB in use; the guest printed: ${line}`);
    const v = (await t.api('GET', `/volume/v3/${projectId}/volumes/${vol}`, { token })).body.volume;
    expect([v.size, v.status]).toEqual([2, 'in-use']);
    const ops = (await t.api('GET', `/compute/v2.1/servers/${serverId}/os-volume_attachments/${vol}/trace`, { token })).body.operations;
    const op = ops.find((o: { kind: string }) => o.kind === 'extend');
    expect(op?.state).toBe('done');
    expect(op.spans.map((s: { name: string }) => s.name)).toEqual(expect.arrayContaining(['extend-host', 'resize-disk', 'virt.resize_disk']));
    await detach(vol);
  }, 240_000);

  /** Write a disk image at the start of a tgt volume's LUN file: what a volume made from the image holds. */
  async function writeImage(volumeId: string, image: string): Promise<number> {
    const path = (await backend().target(volumeId))!.luns.find((l) => l.lun === 1)!.path!;
    const src = openSync(image, 'r');
    const dst = openSync(path, 'r+');
    const buf = Buffer.alloc(1024 * 1024);
    let at = 0;
    try {
      for (let n = readSync(src, buf, 0, buf.length, at); n > 0; n = readSync(src, buf, 0, buf.length, at)) {
        writeSync(dst, buf, 0, n, at);
        at += n;
      }
    } finally {
      closeSync(src);
      closeSync(dst);
    }
    return at;
  }

  it('boot from volume: openstack server create --volume V --flavor m1.tiny --wait reaches ACTIVE, and the BIOS boots the guest from the tgt volume', async () => {
    const vol = await createVolume('real-boot');
    const bytes = await writeImage(vol, bootDisk);
    log(`wrote the tiny guest's boot disk (${bytes} bytes) to volume ${vol}`);
    const demo = new PythonClients({ baseUrl: t.url, username: 'demo', password: DEMO_PASSWORD, projectName: 'demo' });
    const admin = await t.token('admin');
    let bfvId = '';
    try {
      const t0 = Date.now();
      const created = await demo.run('openstack', ['server', 'create', '--volume', vol, '--flavor', 'm1.tiny', '--wait', 'real-bfv', '-f', 'json']);
      expect(created.code, created.stderr).toBe(0);
      const bfv = JSON.parse(created.stdout);
      bfvId = bfv.id;
      expect(bfv.status).toBe('ACTIVE');
      const name: string = (await t.api('GET', `/compute/v2.1/servers/${bfvId}`, { token: admin.token })).body.server['OS-EXT-SRV-ATTR:instance_name'];
      // The definition gives no kernel: the firmware boots the first disk, and that disk is the volume over QEMU's iSCSI.
      const xml = (await virsh('dumpxml', name)).stdout;
      expect(xml).not.toContain('<kernel>');
      expect(xml).toContain("<boot dev='hd'/>");
      const disks = (await virsh('domblklist', name, '--details')).stdout;
      expect(disks).toMatch(new RegExp(`network\\s+disk\\s+vda\\s+iqn\\.2010-10\\.org\\.openstack:volume-${vol}/1`));
      // The console: SYSLINUX from the volume loads the kernel and the initramfs it holds, the
      // kernel's command line is the one on the volume (BOOT_IMAGE= is SYSLINUX's), and the guest
      // that comes up has the volume as vda.
      const bfvConsole = new Console(consoleLogPath(t.config.dataDir, name));
      const loaded = await bfvConsole.waitFor('SYSLINUX to load the kernel from the volume', (c) => c.lines().find((l) => l.includes('Loading vmlinuz... ok')), 180_000);
      const banner = bfvConsole.lines().find((l) => l.includes('SYSLINUX'));
      const cmdline = await bfvConsole.waitFor('the kernel command line', (c) => c.lines().find((l) => l.includes('Kernel command line:')), 120_000);
      expect(cmdline).toMatch(/Kernel command line: BOOT_IMAGE=vmlinuz .*hitch\.boot=disk/);
      const ready = await bfvConsole.waitFor('the guest to boot from its volume', (c) => c.lines().find((l) => l.includes('GUEST-READY')), 180_000);
      const root = await bfvConsole.waitFor('the boot volume as vda', (c) => c.blockLines().find((b) => b.devices.get('vda') === serialOf(vol)), 60_000);
      log(`server ${bfvId} (${name}) booted from volume ${vol} in ${Date.now() - t0} ms; its console: ${banner?.trim()} | ${loaded.trim()} | ${cmdline.trim().replace(/^\[[^\]]*\]\s*/, '')} | ${ready.trim()} | ${root.line}`);
      const vols = JSON.parse((await demo.run('openstack', ['server', 'volume', 'list', 'real-bfv', '-f', 'json'])).stdout);
      expect(vols.map((x: { Device: string; 'Volume ID': string }) => [x.Device, x['Volume ID']])).toEqual([['/dev/vda', vol]]);
      expect(await volumeStatus(vol)).toBe('in-use');
      // Deleted without delete_on_termination: the guest is gone, the volume is free again and kept.
      const del = await demo.run('openstack', ['server', 'delete', '--wait', 'real-bfv']);
      expect(del.code, del.stderr).toBe(0);
      bfvId = '';
      await t.cloud.settle();
      expect((await virsh('domstate', name)).code).not.toBe(0);
      expect(await volumeStatus(vol)).toBe('available');
      expect((await backend().target(vol))!.acls).toEqual([]);
    } finally {
      if (bfvId) await t.api('DELETE', `/compute/v2.1/servers/${bfvId}`, { token });
      demo.dispose();
    }
    expect((await t.api('DELETE', `/volume/v3/${projectId}/volumes/${vol}`, { token })).status).toBe(202);
  }, 600_000);

  it('a failing attach (bad target, bad LUN) leaves nothing behind in libvirt or tgt', async () => {
    const disksBefore = await domainDisks();
    for (const [what, spoil] of [
      ['a target tgt does not have', ({ target_iqns: _, ...d }: IscsiConnectionData): IscsiConnectionData => ({ ...d, target_iqn: 'iqn.2010-10.org.openstack:volume-nosuch' })],
      ['a LUN the target does not have', ({ target_luns: _, ...d }: IscsiConnectionData): IscsiConnectionData => ({ ...d, target_lun: 7 })],
    ] as const) {
      const vol = await createVolume(`real-bad-${what.length}`);
      sabotage.set(vol, spoil);
      const from = guest.lines().length;
      const t0 = Date.now();
      const post = await t.api('POST', `/compute/v2.1/servers/${serverId}/os-volume_attachments`, { token, body: { volumeAttachment: { volumeId: vol } }, headers: MICRO });
      await t.cloud.settle();
      const trace = await t.api('GET', `/compute/v2.1/servers/${serverId}/os-volume_attachments/${vol}/trace`, { token });
      const op = trace.body.operations?.[0];
      const failed = op?.spans?.find((s: { outcome: string; parent_id: number | null }) => s.outcome === 'error' && s.parent_id === null);
      log(`attach to ${what}: HTTP ${post.status}, failed at ${failed?.name ?? '?'} after ${Date.now() - t0} ms: ${op?.error?.message ?? op?.error ?? ''}`);
      expect(await volumeStatus(vol)).toBe('available');
      expect((await t.api('GET', `/compute/v2.1/servers/${serverId}/os-volume_attachments`, { token })).body.volumeAttachments).toEqual([]);
      expect(await domainDisks()).toBe(disksBefore);
      expect(await secretsOf(vol)).toEqual([]);
      expect((await backend().target(vol))!.acls).toEqual([]);
      expect(guest.blockLines(from).some((b) => deviceOf(b.devices, vol))).toBe(false);
      sabotage.delete(vol);
    }
  }, 240_000);
});
