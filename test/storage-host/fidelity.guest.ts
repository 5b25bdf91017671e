/**
 * Inside the storage host guest: the fidelity suite's scenes (src/sim/fidelity/scenes.ts) on the
 * real host — `LinuxHost` over Debian 12's kernel, udev, iscsid, multipathd, tgt and LIO — and
 * the calibration of the simulator's latency model (`calibrate`). Each case returns its record
 * (JSON); the machine's side compares it with the simulator (`fidelity.ts`) or keeps it as the
 * recorded fixture (`scripts/record-fidelity.ts`).
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, rmdirSync, rmSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { LinuxHost } from '../../src/host/linux-host.ts';
import { runScene, SCENES, LIO_IQN, LIO_SERIAL, LUN_BYTES, NVME_NAMESPACES, NVME_NQN, NVME_P1, NVME_P2, NVME_SERIAL, TGT_IQN, type FidelityWorld, type SceneSetup } from '../../src/sim/fidelity/scenes.ts';
import { NvmetTarget } from './nvmet-target.ts';
import type { GuestCases, GuestContext } from '../../src/test-support/storage-host/guest/runner.ts';
import { must, sh, sleep, type GuestStorage, type StorageSetup } from '../../src/test-support/storage-host/guest/storage.ts';
import { calibrate } from './fidelity-calibrate.guest.ts';

const CONFIGFS = '/sys/kernel/config/target';
const LIO_BACKSTORE = `${CONFIGFS}/core/fileio_0/hitch_fidelity`;
const LIO_FILE = '/var/tmp/hitch-lio-fidelity.img';
const LIO_PORTALS = ['127.0.0.1:3262', '127.0.0.2:3262'];

function write(path: string, text: string): void {
  writeFileSync(path, text);
}

/** A LIO target through configfs: a 32 MiB file as LUN 1, two portals, any initiator (demo mode). */
function lioUp(): void {
  lioDown();
  writeFileSync(LIO_FILE, '');
  truncateSync(LIO_FILE, LUN_BYTES);
  mkdirSync(LIO_BACKSTORE, { recursive: true });
  write(`${LIO_BACKSTORE}/control`, `fd_dev_name=${LIO_FILE},fd_dev_size=${LUN_BYTES}`);
  write(`${LIO_BACKSTORE}/enable`, '1');
  // A unit serial, as targetcli gives every backstore: LIO's NAA WWN is made of it.
  write(`${LIO_BACKSTORE}/wwn/vpd_unit_serial`, LIO_SERIAL);
  const tpg = `${CONFIGFS}/iscsi/${LIO_IQN}/tpgt_1`;
  mkdirSync(`${tpg}/lun/lun_1`, { recursive: true });
  symlinkSync(LIO_BACKSTORE, `${tpg}/lun/lun_1/hitch_fidelity`);
  for (const p of LIO_PORTALS) mkdirSync(`${tpg}/np/${p}`);
  const attrib: Array<[string, string]> = [
    ['generate_node_acls', '1'],
    ['demo_mode_write_protect', '0'],
    ['authentication', '0'],
    ['cache_dynamic_acls', '1'],
  ];
  for (const [k, v] of attrib) write(`${tpg}/attrib/${k}`, v);
  write(`${tpg}/enable`, '1');
}

function lioDown(): void {
  const t = `${CONFIGFS}/iscsi/${LIO_IQN}`;
  const tpg = `${t}/tpgt_1`;
  if (existsSync(tpg)) {
    try {
      write(`${tpg}/enable`, '0');
    } catch {
      /* already off */
    }
    for (const p of existsSync(`${tpg}/np`) ? readdirSync(`${tpg}/np`) : []) rmdirSync(`${tpg}/np/${p}`);
    if (existsSync(`${tpg}/lun/lun_1`)) {
      for (const e of readdirSync(`${tpg}/lun/lun_1`)) if (e === 'hitch_fidelity') unlinkSync(`${tpg}/lun/lun_1/${e}`);
      rmdirSync(`${tpg}/lun/lun_1`);
    }
    rmdirSync(tpg);
  }
  if (existsSync(t)) rmdirSync(t);
  if (existsSync(LIO_BACKSTORE)) rmdirSync(LIO_BACKSTORE);
  rmSync(LIO_FILE, { force: true });
}

/** nvmet through configfs: the `nvme` scene's subsystem (its serial set), both portals. */
async function nvmetUp(): Promise<NvmetTarget> {
  const t = new NvmetTarget();
  await t.reset();
  await t.addSubsystem(
    NVME_NQN,
    NVME_NAMESPACES.map((n) => ({ nsid: n.nsid, uuid: n.uuid, sizeMb: n.bytes >> 20 })),
    NVME_SERIAL,
  );
  for (const [i, p] of [NVME_P1, NVME_P2].entries()) await t.addPort(i + 1, p.slice(0, p.lastIndexOf(':')), Number(p.slice(p.lastIndexOf(':') + 1)), [NVME_NQN]);
  return t;
}

export function storageSetup(s: SceneSetup): StorageSetup {
  return {
    findMultipaths: s.findMultipaths,
    login: s.login,
    targets: [{ iqn: TGT_IQN, luns: [1], sizeMb: LUN_BYTES >> 20, ...(s.chap ? { chap: s.chap } : {}) }],
    ...(s.blacklistAll ? { blacklistWwids: ['.*'] } : {}),
  };
}

/** The scene world on the real host. */
export function guestWorld(host: LinuxHost, storage: GuestStorage): FidelityWorld {
  const settle = async (): Promise<void> => {
    await sh('udevadm', ['settle', '--timeout=60']);
    // multipathd works on udev's events after udev is done with them; give it a moment, then
    // udev again for the links of what multipathd made.
    await sleep(1500);
    await sh('udevadm', ['settle', '--timeout=60']);
  };
  return {
    host,
    settle,
    dropPortal: async (ip) => {
      await storage.dropPortal(ip);
      // A packet counter in front of the drop: how many SYNs a pending login has sent.
      writeFileSync('/tmp/hitch-fidelity-count.nft', `table inet hitch_fidelity_count {\n  chain out {\n    type filter hook output priority -10; policy accept;\n    ip daddr ${ip} tcp dport 3260 counter\n  }\n}\n`);
      await must('nft', ['-f', '/tmp/hitch-fidelity-count.nft']);
    },
    dropNvmePortal: async (ip) => {
      writeFileSync('/tmp/hitch-fidelity-nvme-drop.nft', `table inet hitch_fidelity_nvme_drop {\n  chain input {\n    type filter hook input priority 0; policy accept;\n    ip daddr ${ip} tcp dport 4420 drop\n    ip saddr ${ip} tcp sport 4420 drop\n  }\n}\n`);
      await must('nft', ['-f', '/tmp/hitch-fidelity-nvme-drop.nft']);
    },
    liftDrop: async () => {
      await storage.liftDrop();
      await sh('nft', ['delete', 'table', 'inet', 'hitch_fidelity_count']);
      await sh('nft', ['delete', 'table', 'inet', 'hitch_fidelity_nvme_drop']);
    },
    loginAttempts: async () => {
      const r = await sh('nft', ['list', 'table', 'inet', 'hitch_fidelity_count']);
      return Number(/packets (\d+)/.exec(r.stdout)?.[1] ?? 0);
    },
    holdUdev: async () => void (await must('udevadm', ['control', '--stop-exec-queue'])),
    releaseUdev: async () => void (await must('udevadm', ['control', '--start-exec-queue'])),
    holdOpen: async (dev) => {
      const fd = openSync(`/dev/${dev}`, 'r');
      return async () => closeSync(fd);
    },
  };
}

async function sceneCase(name: string, ctx: GuestContext): Promise<unknown> {
  const scene = SCENES[name];
  if (!scene) throw new Error(`no scene ${name}`);
  if (scene.setup.lio) lioUp();
  const nvmet = scene.setup.nvme ? await nvmetUp() : null;
  const host = new LinuxHost({ name: 'hitch-storage-host' });
  try {
    const record = await runScene(name, guestWorld(host, ctx.storage));
    if (record.error) ctx.log(`scene error: ${record.error.split('\n')[0] ?? ''}`);
    ctx.log(`${record.observations.length} states recorded`);
    return record;
  } finally {
    await sh('udevadm', ['control', '--start-exec-queue']);
    await sh('nft', ['delete', 'table', 'inet', 'hitch_fidelity_count']);
    if (scene.setup.lio) {
      for (const s of readdirSync('/sys/class/iscsi_session')) await sh('iscsiadm', ['-m', 'session', '-r', s.replace('session', ''), '-u']);
      lioDown();
    }
    if (nvmet) {
      await sh('nft', ['delete', 'table', 'inet', 'hitch_fidelity_nvme_drop']);
      await nvmet.reset();
    }
  }
}

export const cases: GuestCases = {
  ...Object.fromEntries(
    Object.entries(SCENES).map(([name, scene]) => [
      `fidelity:${name}`,
      { setup: () => storageSetup(scene.setup), run: (ctx: GuestContext) => sceneCase(name, ctx) },
    ]),
  ),
  'fidelity:calibrate': {
    setup: () => ({ findMultipaths: 'strict', targets: [{ iqn: TGT_IQN, luns: [1], sizeMb: LUN_BYTES >> 20 }] }),
    run: (ctx) => calibrate(ctx),
  },
};
