/**
 * Inside the storage host guest: the measurements the simulator's latency model is calibrated
 * on (src/sim/fidelity/calibration.ts turns them into a model), each primitive timed alone on
 * the real host through `LinuxHost`, as Hitch runs it:
 *
 * - command start: trivial invocations of each tool (`true`, an `iscsiadm` that finds no record,
 *   `multipathd show status`, `multipath -f` of no map, `blockdev --getsize64`);
 * - per cycle (3, one path, find_multipaths strict): the login, the targeted LUN scan (the write
 *   returns once the kernel has the disk), udev's by-path link after it, `multipath -a`, the map
 *   after `multipathd add path` (first cycle: the WWID was unknown) or built by multipathd from
 *   udev's event (later cycles: the WWID is known), udev's dm link after the map, `multipath
 *   -f`, the device delete, the logout;
 * - contention: 4 logins, 4 scans, 4 `add path`s at once, each timed, against the single ones.
 *
 * Wall-clock milliseconds under TCG on a shared machine: the derivation takes medians.
 */
import { LinuxHost } from '../../src/host/linux-host.ts';
import { writeNodeRecord } from '../../src/brick/tools/node-record.ts';
import { P1, TGT_IQN, LUN_BYTES } from '../../src/sim/fidelity/scenes.ts';
import type { CalibrationRaw, CalibrationCycle } from '../../src/sim/fidelity/calibration.ts';
import { Trace } from '../../src/trace/span.ts';
import type { GuestContext } from '../../src/test-support/storage-host/guest/runner.ts';
import { sh, sleep } from '../../src/test-support/storage-host/guest/storage.ts';

const node = (iqn: string, portal = P1): string[] => ['-m', 'node', '-T', iqn, '-p', portal];
const byPath = (iqn: string, portal = P1): string => `/dev/disk/by-path/ip-${portal}-iscsi-${iqn}-lun-1`;

async function timed<T>(f: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = Date.now();
  const value = await f();
  return { ms: Date.now() - t0, value };
}

/** Poll (25 ms) until `check` holds; ms from `since`, or -1 after `timeoutMs`. */
async function whenTrue(check: () => Promise<boolean> | boolean, since: number, timeoutMs = 30_000): Promise<number> {
  while (!(await check())) {
    if (Date.now() - since > timeoutMs) return -1;
    await sleep(25);
  }
  return Date.now() - since;
}

export async function calibrate(ctx: GuestContext): Promise<CalibrationRaw> {
  const host = new LinuxHost({ name: 'hitch-storage-host' });
  const span = new Trace(host.clock).root();
  const exec = (cmd: string, args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> => host.exec(cmd, args, { okCodes: 'any', timeoutMs: 120_000 });
  const record = async (iqn: string): Promise<void> => {
    await writeNodeRecord({ host, span }, '/etc/iscsi/nodes', { portal: P1, iqn, lun: 1 }, null);
  };
  const sidOf = async (iqn: string): Promise<string> => {
    for (const s of await host.readdir('/sys/class/iscsi_session')) {
      if ((await host.readFile(`/sys/class/iscsi_session/${s}/targetname`)).trim() === iqn) return s.replace('session', '');
    }
    throw new Error(`no session to ${iqn}`);
  };
  const scanFile = async (iqn: string): Promise<string> => {
    const real = await host.realpath(`/sys/class/iscsi_session/session${await sidOf(iqn)}`);
    return `/sys/class/scsi_host/host${/\/host(\d+)\/session/.exec(real)?.[1] ?? ''}/scan`;
  };
  const devOf = async (iqn: string): Promise<string> => (await host.realpath(byPath(iqn))).split('/').pop() ?? '';
  const wwnOf = async (dev: string): Promise<string> => `3${(await host.readFile(`/sys/block/${dev}/device/wwid`)).trim().slice(4)}`;
  const held = async (dev: string): Promise<boolean> => (await host.readdir(`/sys/block/${dev}/holders`).catch(() => [])).length > 0;
  const versions = {
    kernel: (await sh('uname', ['-r'])).stdout.trim(),
    openIscsi: (await sh('iscsiadm', ['--version'])).stdout.trim(),
  };

  // Command start: each tool doing (almost) nothing.
  const commands: Record<string, number[]> = {};
  const trivial: Array<[string, string, string[]]> = [
    ['true', 'true', []],
    ['iscsiadm', 'iscsiadm', node('iqn.2010-10.org.openstack:volume-none')],
    ['multipathd', 'multipathd', ['show', 'status']],
    // `-f` of no map: multipath's start and a device-mapper call (`-ll` walks every device: slower than the calls Hitch makes).
    ['multipath', 'multipath', ['-f', '3600000000000000000000000000none']],
    ['blockdev', 'blockdev', ['--getsize64', '/dev/vda']],
  ];
  for (let i = 0; i < 7; i++) {
    for (const [key, cmd, args] of trivial) (commands[key] ??= []).push((await timed(() => exec(cmd, args))).ms);
  }
  ctx.log(`command start: ${JSON.stringify(Object.fromEntries(Object.entries(commands).map(([k, v]) => [k, [...v].sort((a, b) => a - b)[3]])))}`);

  const cycles: CalibrationCycle[] = [];
  for (let i = 0; i < 3; i++) {
    await record(TGT_IQN);
    const login = await timed(() => exec('iscsiadm', [...node(TGT_IQN), '--login']));
    const scanPath = await scanFile(TGT_IQN);
    const scanStart = Date.now();
    await host.writeFile(scanPath, '0 0 1');
    const scanMs = Date.now() - scanStart;
    const scanEnd = Date.now();
    await host.waitForPath(byPath(TGT_IQN), { timeoutMs: 60_000 });
    const udevMs = Date.now() - scanEnd;
    const dev = await devOf(TGT_IQN);
    const wwn = await wwnOf(dev);
    let wwidAddMs: number | null = null;
    let addPathMs: number | null = null;
    let addPathAnswer: string | null = null;
    let mapAtReply: boolean | null = null;
    let autoMapMs: number | null = null;
    let mapMadeAt: number;
    if (i === 0) {
      wwidAddMs = (await timed(() => exec('multipath', ['-a', wwn]))).ms;
      const add = await timed(() => exec('multipathd', ['add', 'path', `/dev/${dev}`]));
      addPathMs = add.ms;
      addPathAnswer = `${add.value.code} ${add.value.stdout.trim()}`;
      mapAtReply = await held(dev);
      const since = Date.now();
      mapMadeAt = since + Math.max(0, await whenTrue(() => held(dev), since));
    } else {
      // The WWID is known: multipathd builds the map from udev's event by itself.
      autoMapMs = await whenTrue(() => held(dev), scanEnd);
      mapMadeAt = scanEnd + Math.max(0, autoMapMs);
    }
    const mapLinkMs = await whenTrue(() => host.exists(`/dev/disk/by-id/dm-uuid-mpath-${wwn}`), mapMadeAt);
    await sh('udevadm', ['settle', '--timeout=60']);
    await sleep(1000);
    const flush = await timed(() => exec('multipath', ['-f', wwn]));
    await sh('udevadm', ['settle', '--timeout=60']);
    const delStart = Date.now();
    await host.writeFile(`/sys/block/${dev}/device/delete`, '1');
    const deleteMs = Date.now() - delStart;
    const deleteGoneMs = await whenTrue(async () => !(await host.exists(`/sys/block/${dev}`)), delStart);
    const logout = await timed(() => exec('iscsiadm', [...node(TGT_IQN), '--logout']));
    const recordDelete = await timed(() => exec('iscsiadm', [...node(TGT_IQN), '--op', 'delete']));
    await sh('udevadm', ['settle', '--timeout=60']);
    const c: CalibrationCycle = {
      loginMs: login.ms,
      loginCode: login.value.code,
      scanMs,
      udevMs,
      wwidAddMs,
      addPathMs,
      addPathAnswer,
      mapAtReply,
      autoMapMs,
      mapLinkMs,
      flushMs: flush.ms,
      flushCode: flush.value.code,
      deleteMs,
      deleteGoneMs,
      logoutMs: logout.ms,
      recordDeleteMs: recordDelete.ms,
    };
    ctx.log(`cycle ${i + 1}: ${JSON.stringify(c)}`);
    cycles.push(c);
  }

  // Contention: 4 targets at once (logins, scans and udev, add path and map).
  const n = 4;
  const iqns = [TGT_IQN, ...Array.from({ length: n - 1 }, (_, k) => `${TGT_IQN}-c${k + 1}`)];
  for (const iqn of iqns.slice(1)) await ctx.storage.export({ iqn, luns: [1], sizeMb: LUN_BYTES >> 20 });
  for (const iqn of iqns) await record(iqn);
  const t0 = Date.now();
  const logins = await Promise.all(iqns.map(async (iqn) => (await timed(() => exec('iscsiadm', [...node(iqn), '--login']))).ms));
  const loginsAllMs = Date.now() - t0;
  const scanFiles = await Promise.all(iqns.map(scanFile));
  const t1 = Date.now();
  const scans = await Promise.all(
    iqns.map(async (iqn, k) => {
      const s = Date.now();
      await host.writeFile(scanFiles[k] ?? '', '0 0 1');
      const scanMs = Date.now() - s;
      await host.waitForPath(byPath(iqn), { timeoutMs: 60_000 });
      return { scanMs, linkMs: Date.now() - t1 };
    }),
  );
  await sh('udevadm', ['settle', '--timeout=60']);
  const devs = await Promise.all(iqns.map(devOf));
  const wwns = await Promise.all(devs.map(wwnOf));
  for (const w of wwns) await exec('multipath', ['-a', w]);
  const t2 = Date.now();
  const addPaths = await Promise.all(
    devs.map(async (dev) => {
      const a = await timed(() => exec('multipathd', ['add', 'path', `/dev/${dev}`]));
      const mapMs = await whenTrue(() => held(dev), t2);
      return { replyMs: a.ms, mapMs };
    }),
  );
  await sh('udevadm', ['settle', '--timeout=60']);
  await sleep(1000);
  for (const w of wwns) await exec('multipath', ['-f', w]);
  await sh('udevadm', ['settle', '--timeout=60']);
  for (const d of devs) await host.writeFile(`/sys/block/${d}/device/delete`, '1').catch(() => undefined);
  for (const iqn of iqns) {
    await exec('iscsiadm', [...node(iqn), '--logout']);
    await exec('iscsiadm', [...node(iqn), '--op', 'delete']);
  }
  await sh('udevadm', ['settle', '--timeout=60']);
  const concurrent = { n, logins, loginsAllMs, scans, addPaths };
  ctx.log(`concurrent: ${JSON.stringify(concurrent)}`);
  return { versions, commands, cycles, concurrent };
}
