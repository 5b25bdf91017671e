/**
 * The storage-host suite's NVMe/TCP cases, run inside the guest: Hitch's brick (kernel mode,
 * `LinuxHost`) against the kernel's own NVMe target (nvmet + nvmet-tcp, set up through
 * configfs by `nvmet-target.ts`) on the guest's loopback portals 127.0.0.1:4420 and
 * 127.0.0.2:4420, with Linux 6.1's nvme-tcp initiator and native NVMe multipath.
 * `storage-host.test.ts` judges what each case returns. `nvme-dead-portal` exports its volume
 * with Hitch's own nvmet backend (`src/volume/backends/nvmet-backend.ts`).
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { isHitchError } from '../../src/errors.ts';
import type { GuestCases, GuestContext } from '../../src/test-support/storage-host/guest/runner.ts';
import { must, sh, verifyIo } from '../../src/test-support/storage-host/guest/storage.ts';
import { hitchOnGuest, type HitchOnGuest } from './hitch-guest.ts';
import { NvmetTarget, nvmeLeftovers, type NvmeLeftovers } from './nvmet-target.ts';
import { parseConnectionInfo } from '../../src/brick/index.ts';
import { parseNvmeListSubsys } from '../../src/brick/parsers/nvme.ts';
import { LinuxHost } from '../../src/host/linux-host.ts';
import { DEFAULT_ALLOWED_BINARIES, DEFAULT_ALLOWED_ROOTS } from '../../src/host/allowlist.ts';
import { NvmetBackend } from '../../src/volume/backends/nvmet-backend.ts';

const LUN_DIR = '/tmp/hitch-nvmet';

/** The storage side's host: configfs is under /sys; the namespace files under LUN_DIR. */
function storageHost(): LinuxHost {
  return new LinuxHost({
    name: 'hitch-storage-host',
    allowedRoots: [...DEFAULT_ALLOWED_ROOTS, LUN_DIR],
    allowedBinaries: [...DEFAULT_ALLOWED_BINARIES, 'mkdir', 'rmdir', 'ln', 'rm', 'truncate', 'cp', 'mv', 'df'],
  });
}

const NQN = 'nqn.2014-08.org.hitch:storage-host-nvme';
const UUID_A = '3d8f4c2a-5b6e-4f70-8a91-b2c3d4e5f601';
const UUID_B = '3d8f4c2a-5b6e-4f70-8a91-b2c3d4e5f602';
const PORTALS = [
  ['127.0.0.1', '4420', 'tcp'],
  ['127.0.0.2', '4420', 'tcp'],
] as const;

/** The connection_info Cinder's NVMe-oF drivers return (os-brick's shape). */
function nvmeInfo(uuid: string, portals: ReadonlyArray<readonly [string, string, string]> = PORTALS): unknown {
  return { driver_volume_type: 'nvmeof', data: { target_nqn: NQN, vol_uuid: uuid, portals: portals.map((p) => [...p]), volume_id: randomUUID(), access_mode: 'rw', discard: true } };
}

async function target(): Promise<NvmetTarget> {
  const t = new NvmetTarget();
  await t.reset();
  await t.addSubsystem(NQN, [
    { nsid: 1, uuid: UUID_A, sizeMb: 64 },
    { nsid: 2, uuid: UUID_B, sizeMb: 64 },
  ]);
  await t.addPort(1, '127.0.0.1', 4420, [NQN]);
  await t.addPort(2, '127.0.0.2', 4420, [NQN]);
  return t;
}

function hitch(ctx: GuestContext): HitchOnGuest {
  return hitchOnGuest({ multipath: true, log: ctx.log });
}

async function connect(h: HitchOnGuest, info: unknown): Promise<{ path: string; source: string; ms: number; commands: string[] }> {
  const before = h.commands.length;
  const t0 = Date.now();
  const a = await h.brick.connect(parseConnectionInfo(info), h.trace.root(), { instance: 'storage-host-guest' });
  const ms = Date.now() - t0;
  if (a.deviceInfo.type !== 'block' || a.source.kind !== 'block') throw new Error(`not a block device: ${JSON.stringify(a)}`);
  return { path: a.deviceInfo.path, source: a.source.path, ms, commands: h.commands.slice(before) };
}

async function disconnect(h: HitchOnGuest, info: unknown): Promise<string[]> {
  const before = h.commands.length;
  await h.brick.disconnect(parseConnectionInfo(info), null, h.trace.root(), { force: false });
  return h.commands.slice(before);
}

/** Controllers per state of the subsystem, from `nvme list-subsys -o json`. */
async function paths(nqn = NQN): Promise<string[]> {
  const r = await must('nvme', ['list-subsys', '-o', 'json']);
  return parseNvmeListSubsys(r.stdout)
    .filter((s) => s.nqn === nqn)
    .flatMap((s) => s.paths.map((p) => `${p.address.traddr}:${p.state}`))
    .sort();
}

async function dropPortal(ip: string): Promise<void> {
  const rules = [
    'table inet hitch_nvme_drop {',
    '  chain in { type filter hook input priority 0; policy accept;',
    `    ip daddr ${ip} tcp dport 4420 drop`,
    `    ip saddr ${ip} tcp sport 4420 drop`,
    '  }',
    '}',
    '',
  ].join('\n');
  writeFileSync('/tmp/hitch-nvme-drop.nft', rules);
  await must('nft', ['-f', '/tmp/hitch-nvme-drop.nft']);
}

async function liftDrop(): Promise<void> {
  await sh('nft', ['delete', 'table', 'inet', 'hitch_nvme_drop']);
}

async function settledLeftovers(): Promise<NvmeLeftovers> {
  await sh('udevadm', ['settle', '--timeout=30']);
  return nvmeLeftovers();
}

export const nvmeCases: GuestCases = {
  /**
   * Two portals, one dropped by nftables: the healthy path's attach (one portal), then the same
   * volume over both with the second dropped — usable on the live path, I/O through the native
   * multipath head, and after the detach (and brick's background work) nothing left.
   */
  'nvme-dead-portal': {
    run: async (ctx) => {
      // The block storage side is Hitch's nvmet backend (configfs through the Host port).
      await new NvmetTarget().reset();
      const backend = new NvmetBackend({ host: storageHost(), portals: ['127.0.0.1:4420', '127.0.0.2:4420'], lunDir: LUN_DIR });
      await must('mkdir', ['-p', LUN_DIR]);
      const h = hitch(ctx);
      const props = await h.brick.connectorProperties(h.trace.root());
      const id = randomUUID();
      const { providerLocation } = await backend.createVolume({ id, size: 1 });
      const vol = { id, size: 1, providerLocation };
      // JSON in and out, as it crosses the block storage API.
      const single = JSON.parse(JSON.stringify(await backend.initializeConnection(vol, { ...props, multipath: false }))) as unknown;
      const healthy = await connect(h, single);
      const healthyIo = await verifyIo(healthy.path);
      await disconnect(h, single);
      const leftAfterHealthy = await settledLeftovers();

      await dropPortal('127.0.0.2');
      const info = JSON.parse(JSON.stringify(await backend.initializeConnection(vol, props))) as { data: { portals: unknown[]; vol_uuid: string } };
      const beforeDead = h.commands.length;
      const spansBeforeDead = h.trace.spans.length;
      const dead = await connect(h, info);
      const pathsAtReturn = await paths(backend.nqnOf(id));
      const io = await verifyIo(dead.path, 2);
      const tSettle = Date.now();
      await h.brick.settled();
      const settledAfterMs = Date.now() - tSettle;
      const pathsSettled = await paths(backend.nqnOf(id));
      // Each portal's TCP probe (brick connects only a portal that answered), once brick settled.
      const probes = h.trace.spans
        .slice(spansBeforeDead)
        .filter((x) => x.name === 'probe tcp')
        .map((x) => `${String(x.attrs['portal'])} ${String(x.attrs['outcome'] ?? 'running')} (${x.endMs === null ? '?' : x.endMs - x.startMs} ms)`);
      // Every command the attach ran, once brick settled (the dropped portal's probe ends after
      // the return; it gets no nvme connect).
      const attachCommands = h.commands.slice(beforeDead);
      const detachCommands = await disconnect(h, info);
      const left = await settledLeftovers();
      await liftDrop();
      await backend.terminateConnection(vol, props);
      await backend.deleteVolume(vol);
      const subsystemsLeft = (await sh('ls', ['/sys/kernel/config/nvmet/subsystems'])).stdout.trim();
      await new NvmetTarget().reset();
      return {
        props: { nqn: props.nqn ?? null, uuid: props.uuid ?? null, native: props.nvme_native_multipath ?? null },
        volumeId: id,
        portals: info.data.portals,
        singlePortals: (single as { data: { portals: unknown[] } }).data.portals,
        healthy: { path: healthy.path, source: healthy.source, ms: healthy.ms, io: healthyIo, commands: healthy.commands },
        leftAfterHealthy,
        dead: { path: dead.path, source: dead.source, ms: dead.ms, commands: dead.commands, attachCommands, probes },
        pathsAtReturn,
        io,
        settledAfterMs,
        pathsSettled,
        detachCommands,
        left,
        subsystemsLeft,
        logs: h.logs.filter((l) => /nvme|connect_volume|disconnect_volume/.test(l)).slice(-30),
      };
    },
  },

  /**
   * Multiattach-style sharing: two volumes (namespaces) on one subsystem, both portals live.
   * The second attach finds the controllers live; detaching the first keeps them for the second.
   */
  'nvme-shared-subsystem': {
    run: async (ctx) => {
      const t = await target();
      const h = hitch(ctx);
      const a = await connect(h, nvmeInfo(UUID_A));
      await h.brick.settled();
      const pathsA = await paths();
      const b = await connect(h, nvmeInfo(UUID_B));
      const ioA = await verifyIo(a.path);
      const ioB = await verifyIo(b.path);
      const detachA = await disconnect(h, nvmeInfo(UUID_A));
      const afterDetachA = nvmeLeftovers();
      const pathsAfterDetachA = await paths();
      const ioBAfter = await verifyIo(b.path, 1, 1);
      const detachB = await disconnect(h, nvmeInfo(UUID_B));
      const left = await settledLeftovers();
      await t.reset();
      return { a, b, pathsA, ioA, ioB, detachA, afterDetachA, pathsAfterDetachA, ioBAfter, detachB, left };
    },
  },

  /** Malformed NVMe-oF connection fields: each refused by name before any command; an unknown namespace fails clearly and leaves nothing. */
  'nvme-bad-input': {
    run: async (ctx) => {
      const t = await target();
      const h = hitchOnGuest({ multipath: true, log: ctx.log, nvmeDeviceMs: 15_000 });
      const attempt = async (what: string, info: unknown) => {
        const before = h.commands.length;
        try {
          await connect(h, info);
          return { what, error: null, commands: h.commands.length - before };
        } catch (e) {
          return { what, error: isHitchError(e) ? `${e.code}: ${e.message}` : String(e), commands: h.commands.length - before };
        }
      };
      const good = nvmeInfo(UUID_A) as { data: Record<string, unknown> };
      const attempts = [
        await attempt('nqn', { driver_volume_type: 'nvmeof', data: { ...good.data, target_nqn: 'nqn.2014-08.org.hitch;reboot' } }),
        await attempt('transport', { driver_volume_type: 'nvmeof', data: { ...good.data, portals: [['127.0.0.1', '4420', 'rdma']] } }),
        await attempt('unknown namespace', nvmeInfo('3d8f4c2a-5b6e-4f70-8a91-b2c3d4e5f6ff', [PORTALS[0]])),
      ];
      const left = await settledLeftovers();
      await t.reset();
      return { attempts, left };
    },
  },
};
