/**
 * The HypervisorDriver conformance suite on real libvirt + QEMU (TCG): every domain boots the tiny
 * guest (so virtio unplugs are acknowledged), and every disk is a LUN of a real tgt target reached
 * by QEMU's own iSCSI initiator; the CHAP case uses a target with an incoming account.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import { DEFAULT_ALLOWED_ROOTS } from '../../src/host/allowlist.ts';
import { LinuxHost } from '../../src/host/linux-host.ts';
import { StdinFileHost } from '../../src/host/stdin-file-host.ts';
import { peerRequired } from '../../src/test-support/postgres.ts';
import { hypervisorDriverConformance } from '../../src/virt/driver.conformance.ts';
import type { IscsiNetworkDiskSource } from '../../src/ports/hypervisor.ts';
import { LibvirtDriver } from '../../src/virt/libvirt-driver.ts';
import { Tgtadm } from '../../src/volume/backends/tgtadm.ts';
import { TgtDaemon } from '../../src/volume/backends/tgtd.ts';
import { ensureLibvirt, freePort, freeTgtControlPort, missingPeers, run, testGuest, type Libvirt } from './peers.ts';

const missing = missingPeers();
if (missing.length > 0 && !peerRequired()) console.warn(`libvirt conformance skipped: missing ${missing.join(', ')}`);
const suite = missing.length > 0 && !peerRequired() ? describe.skip : describe;

const INITIATOR = 'iqn.2024-01.org.hitch:conformance';
const CHAP_USER = 'confchapuser';
const CHAP_PASSWORD = `conf${randomUUID().replace(/-/g, '').slice(0, 12)}`;

suite('real libvirt + QEMU (TCG) with tgt LUNs', () => {
  let dir = '';
  let libvirt: Libvirt | undefined;
  let tgtd: TgtDaemon | undefined;
  let driver: LibvirtDriver;
  let image: { kernel: string; initrd: string };
  let port = 0;
  const iqn = (i: number | string): string => `iqn.2024-01.org.hitch:conf-${i}`;

  beforeAll(async () => {
    if (missing.length > 0) throw new Error(`real-host peers missing under CI: ${missing.join(', ')}`);
    image = await testGuest();
    libvirt = await ensureLibvirt();
    dir = mkdtempSync(join(tmpdir(), 'hitch-conf-'));
    const linux = new LinuxHost({ allowedRoots: [...DEFAULT_ALLOWED_ROOTS, dir] });
    const host = new StdinFileHost(linux, dir);
    driver = new LibvirtDriver({ host, detachPollMs: 100 });
    port = await freePort(['127.0.0.1']);
    const tgtadm = new Tgtadm({ host, controlPort: freeTgtControlPort() });
    tgtd = new TgtDaemon({ tgtadm, portals: [`127.0.0.1:${port}`] });
    await tgtd.ensure({ start: true });
    for (const [tid, name] of [[1, 0], [2, 1], [3, 2], [4, 'chap']] as const) {
      const file = join(dir, `lun-${name}.img`);
      const t = await run('truncate', ['--size', '64M', file]);
      if (t.code !== 0) throw new Error(t.stderr);
      await tgtadm.must(['--op', 'new', '--mode', 'target', '--tid', String(tid), '-T', iqn(name)]);
      await tgtadm.must(['--op', 'new', '--mode', 'logicalunit', '--tid', String(tid), '--lun', '1', '-b', file]);
      await tgtadm.must(['--op', 'bind', '--mode', 'target', '--tid', String(tid), '--initiator-name', INITIATOR]);
    }
    await tgtadm.must(['--op', 'new', '--mode', 'account', '--user', CHAP_USER, '--password', CHAP_PASSWORD], { secrets: [CHAP_PASSWORD] });
    await tgtadm.must(['--op', 'bind', '--mode', 'account', '--tid', '4', '--user', CHAP_USER]);
  }, 600_000);

  afterAll(async () => {
    await tgtd?.stop();
    await libvirt?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  const source = (i: number | string): IscsiNetworkDiskSource => ({
    kind: 'iscsi',
    iqn: iqn(i),
    lun: 1,
    host: { name: '127.0.0.1', port },
    initiatorIqn: INITIATOR,
  });

  hypervisorDriverConformance('libvirt on qemu:///system, tiny guest booted (TCG)', async () => ({
    driver,
    domainSpec: (tag) => {
      const uuid = randomUUID();
      return {
        name: `hitch-conf-${tag}-${uuid.slice(0, 8)}`,
        uuid,
        memoryMiB: 128,
        vcpus: 1,
        virtType: 'qemu',
        boot: { kernel: image.kernel, initrd: image.initrd, cmdline: 'console=ttyS0 quiet panic=-1' },
      };
    },
    diskSource: (i) => source(i),
    chapSource: (secretUsage) => ({ source: { ...source('chap'), auth: { username: CHAP_USER, secretUsage } }, password: CHAP_PASSWORD }),
    // A guest that is still booting acknowledges the unplug once its ACPI is up; the driver re-asks.
    detachTimeoutMs: 90_000,
    guestReleasesDisks: true,
  }));
});

