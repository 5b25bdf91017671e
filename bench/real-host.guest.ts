/**
 * `npm run bench -- --only real-host`, inside the storage host guest: each case of the
 * storage-host suite run by Hitch's brick and by Debian's os-brick 6.1 on the same real kernel,
 * udev, iscsid, multipathd and tgt, each side from a clean start, plus the honest floor (what any
 * correct initiator must pay: the login, the LUN scan to udev's link, and multipathd's map where
 * multipath is used) and, for two cases, Hitch's whole attach through its HTTP APIs.
 *
 * Wall-clock milliseconds on a TCG guest: slow, so the ratios (measured in the same boot) are the
 * figures. bench/real-host.ts boots the guest, prints the table and writes the JSON.
 */
import { existsSync, mkdtempSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GuestCases, GuestContext } from '../src/test-support/storage-host/guest/runner.ts';
import {
  leftoversOf,
  DEFAULT_LOGIN,
  SHORT_LOGIN,
  leftovers,
  mapInfo,
  must,
  sleep,
  until,
  verifyIo,
  type Leftovers,
  type LoginTimeouts,
  type StorageSetup,
} from '../src/test-support/storage-host/guest/storage.ts';
import { connectDevice, connectionInfo, disconnectDevice, hitchOnGuest, iqnFor, isBlock, loginWindowMs, type HitchOnGuest } from '../test/storage-host/hitch-guest.ts';
import { OsBrickOnGuest } from '../test/storage-host/os-brick-guest.ts';

export interface SideResult {
  readonly connectMs: number | null;
  readonly device: string | null;
  /** Paths under the returned map when connect returned. */
  readonly paths: number;
  readonly error?: string;
  readonly connectCommands: number;
  readonly disconnectCommands: number;
  /** What the host held after this side's disconnect (and after iscsid gave up, where it could). */
  readonly left: Leftovers;
  readonly io: boolean;
  /** Where a row takes several connects: every connect's time, the row's figure their median. */
  readonly connectSamplesMs?: readonly number[];
}

export interface BenchRow {
  readonly case: string;
  readonly floorMs: number | null;
  readonly hitch: SideResult;
  readonly osBrick: SideResult | null;
  /** Hitch's whole attach through its HTTP APIs (request → volume in-use), where measured. */
  readonly attachMs?: number | null;
  readonly note?: string;
  /** The seed: what each side held of the dead portal (127.0.0.2) once iscsid had given up, before its disconnect. */
  readonly deadPortalAfterGiveUp?: { readonly hitch: Leftovers; readonly osBrick: Leftovers };
}

const IQN = iqnFor('bench-1');

/** What the host holds of `iqn` through portal `ip` (port 3260): its sessions, node records, and their disks and maps. */
function ofPortal(iqn: string, ip: string): Leftovers {
  const l = leftoversOf([iqn]);
  const sessions = l.sessions.filter((s) => s.split(' ')[1] === `${ip}:3260`);
  const sids = new Set(sessions.map((s) => s.split(' ')[0]));
  const disks = l.disks.filter((d) => {
    try {
      return sids.has(/\/session(\d+)\//.exec(realpathSync(`/sys/block/${d}/device`))?.[1] ?? '');
    } catch {
      return false;
    }
  });
  return { sessions, nodes: l.nodes.filter((n) => n.includes(`/${ip},3260`)), disks, maps: [] };
}

/**
 * A path lost under a live map: portal .2 dropped once connected, multipathd marks the path
 * failed, I/O through the map goes on, the drop lifts, both paths come back. Returns what it saw.
 */
async function losePath(ctx: GuestContext, device: string | null): Promise<{ failedMs: number | null; io: boolean; backMs: number | null }> {
  if (!device?.startsWith('/dev/dm-')) return { failedMs: null, io: false, backMs: null };
  const pathStates = async (): Promise<string[]> => (await must('multipathd', ['show', 'paths', 'format', '%d %t %T'])).stdout.split('\n').filter((l) => /^sd/.test(l.trim()));
  await ctx.storage.dropPortal('127.0.0.2');
  const dropped = Date.now();
  const failed = await until('the dropped path to fail', async () => ((await pathStates()).some((l) => /failed|faulty/.test(l)) ? true : undefined), 90_000).catch(() => false);
  const failedMs = failed ? Date.now() - dropped : null;
  const io = await verifyIo(device, 2, 8).then(() => true, () => false);
  await ctx.storage.liftDrop();
  const lifted = Date.now();
  const back = await until('both paths active again', async () => {
    const l = await pathStates();
    return l.length >= 2 && l.every((x) => /active/.test(x) && /ready/.test(x)) ? true : undefined;
  }, 90_000).catch(() => false);
  return { failedMs, io, backMs: back ? Date.now() - lifted : null };
}
const countOf = (l: Leftovers): number => l.sessions.length + l.nodes.length + l.disks.length + l.maps.length;

function dmPaths(path: string): number {
  const n = path.split('/').pop() ?? '';
  return n.startsWith('dm-') ? mapInfo(n).slaves.length : 0;
}

type Ci = ReturnType<typeof connectionInfo>;

async function hitchSide(ctx: GuestContext, h: HitchOnGuest, ci: Ci, opts: { afterConnect?: (device: string | null) => Promise<void>; beforeLeft?: () => Promise<void> } = {}): Promise<SideResult> {
  // Nova asks for the connector (seed step 4) before it connects (step 6), and os-brick's
  // connect_volume, the other side of the table, does not probe the host: so neither does
  // Hitch's timed connect (a fresh brick's first connect otherwise spends ~0.6 s on it here).
  await h.brick.connectorProperties(h.trace.root());
  const c0 = h.commands.length;
  const t0 = Date.now();
  let device: string | null = null;
  let connectMs: number | null = null;
  let error: string | undefined;
  try {
    const d = await connectDevice(h, ci);
    connectMs = Date.now() - t0;
    device = isBlock(d) ? d.path : null;
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
  }
  const paths = device ? dmPaths(device) : 0;
  const connectCommands = h.commands.length - c0;
  let io = false;
  if (device) io = (await verifyIo(device).then(() => true, () => false));
  await opts.afterConnect?.(device);
  const c1 = h.commands.length;
  if (device) await disconnectDevice(h, ci).catch((e: unknown) => (error = String(e)));
  await h.brick.settled();
  await opts.beforeLeft?.();
  ctx.log(`Hitch: ${device ?? error} in ${connectMs} ms, ${connectCommands} commands`);
  return { connectMs, device, paths, ...(error ? { error } : {}), connectCommands, disconnectCommands: h.commands.length - c1, left: leftoversOf([ci.data['target_iqn'] as string]), io };
}

async function osBrickSide(ctx: GuestContext, ci: Ci, multipath: boolean, opts: { afterConnect?: (device: string | null) => Promise<void>; beforeLeft?: () => Promise<void> } = {}): Promise<SideResult> {
  const ob = await OsBrickOnGuest.get();
  const r = await ob.connect(ci.data, multipath);
  const device = r.ok ? (r.device?.['path'] ?? null) : null;
  const paths = device ? dmPaths(device) : 0;
  let io = false;
  if (device) io = await verifyIo(device).then(() => true, () => false);
  await opts.afterConnect?.(device);
  let disconnectCommands = 0;
  if (r.ok) disconnectCommands = (await ob.disconnect(ci.data, r.device, multipath)).commands;
  await opts.beforeLeft?.();
  ctx.log(`os-brick: ${device ?? r.error} in ${r.ms} ms, ${r.commands} commands`);
  return { connectMs: r.ok ? r.ms : null, device, paths, ...(r.error ? { error: r.error } : {}), connectCommands: r.commands, disconnectCommands, left: leftoversOf([ci.data['target_iqn'] as string]), io };
}

/** Poll every 20 ms (the floor's own resolution), bounded. */
async function soon(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`floor: timed out waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * The floor: what any correct initiator pays. Node records made beforehand (untimed); then the
 * login (one process per portal, all at once), each session's LUN scan (a sysfs write), udev's
 * by-path links, and — with multipath — multipathd's map with every portal's path in it
 * (find_multipaths no: it maps the paths from udev's events by itself). Multipath over two live
 * portals is not done before both paths are in the map: os-brick too waits for every login.
 */
async function floor(ctx: GuestContext, multipath: boolean): Promise<number> {
  const portals = multipath ? ['127.0.0.1:3260', '127.0.0.2:3260'] : ['127.0.0.1:3260'];
  const node = (portal: string): string[] => ['-m', 'node', '-T', IQN, '-p', portal];
  for (const portal of portals) {
    await must('iscsiadm', [...node(portal), '-o', 'new']);
    await must('iscsiadm', [...node(portal), '-o', 'update', '-n', 'node.session.scan', '-v', 'manual']);
  }
  const t0 = Date.now();
  await Promise.all(portals.map((portal) => must('iscsiadm', [...node(portal), '--login'])));
  for (const session of leftovers().sessions) {
    const sid = session.split(' ')[0] ?? '';
    const hostNo = /\/host(\d+)\//.exec(realpathSync(`/sys/class/iscsi_session/session${sid}`))?.[1];
    if (hostNo === undefined) throw new Error(`floor: no SCSI host for session ${sid}`);
    writeFileSync(`/sys/class/scsi_host/host${hostNo}/scan`, '- - 1');
  }
  await soon('the by-path links', () => portals.every((portal) => existsSync(`/dev/disk/by-path/ip-${portal}-iscsi-${IQN}-lun-1`)), 30_000);
  if (multipath) {
    const full = (): boolean => {
      const dm = readdirSync('/sys/block').find((d) => d.startsWith('dm-'));
      return dm !== undefined && mapInfo(dm).slaves.length === portals.length;
    };
    await soon('the map with every path', full, 60_000);
  }
  const ms = Date.now() - t0;
  ctx.log(`floor (${multipath ? 'multipath, both paths in the map' : 'single'}): ${ms} ms`);
  await ctx.storage.reset(setupFor(multipath ? 'no' : null));
  return ms;
}

function setupFor(find: 'no' | null, more: Partial<StorageSetup> = {}): StorageSetup {
  return { findMultipaths: find, targets: [{ iqn: IQN }, { iqn: iqnFor('bench-2') }], ...more };
}

/** Hitch's whole attach through its HTTP APIs: an all-in-one cloud in this guest (tgt backend on port 3261, kernel attach, simulated hypervisor). */
async function wholeAttach(ctx: GuestContext, dropSecond: boolean): Promise<{ attachMs: number; detachMs: number; left: Leftovers }> {
  const { resolveConfig } = await import('../src/server/config.ts');
  const { createCloud } = await import('../src/server/cloud.ts');
  const { BENCH_ADMIN_PASSWORD, BENCH_DEMO_PASSWORD, demoSession, createServer, createVolume, attach, detach, volumeStatus } = await import('./lib/cloud.ts');
  const dir = mkdtempSync(join('/var/tmp', 'hitch-cloud-'));
  const config = resolveConfig(
    { dataDir: dir, port: 0, logLevel: 'silent', backend: 'tgt', virt: 'sim', attachMode: 'kernel', tgtPortals: ['127.0.0.1:3261', '127.0.0.2:3261'], tgtControlPort: 77 },
    {},
  );
  const cloud = await createCloud({ config, credentials: { adminPassword: BENCH_ADMIN_PASSWORD, demoPassword: BENCH_DEMO_PASSWORD } });
  try {
    const url = (await cloud.app.listen({ host: '127.0.0.1', port: 0 })).replace('localhost', '127.0.0.1');
    const s = await demoSession(url);
    const c = { ...s, url, close: async () => undefined };
    const serverId = await createServer(c, 'vm');
    await until('the server to be ACTIVE', async () => ((await c.api('GET', `/compute/v2.1/servers/${serverId}`)).body as { server: { status: string } }).server.status === 'ACTIVE' ? true : undefined, 60_000);
    const volumeId = await createVolume(c, 'bench');
    await until('the volume to be available', async () => ((await volumeStatus(c, volumeId)) === 'available' ? true : undefined), 60_000);
    if (dropSecond) await ctx.storage.dropPortal('127.0.0.2');
    const t0 = Date.now();
    await attach(c, serverId, volumeId);
    await until('the volume to be in-use', async () => ((await volumeStatus(c, volumeId)) === 'in-use' ? true : undefined), 300_000);
    const attachMs = Date.now() - t0;
    ctx.log(`whole attach through the HTTP APIs: ${attachMs} ms`);
    const t1 = Date.now();
    await detach(c, serverId, volumeId);
    await until('the volume to be available again', async () => ((await volumeStatus(c, volumeId)) === 'available' ? true : undefined), 300_000);
    const detachMs = Date.now() - t1;
    await ctx.storage.liftDrop();
    return { attachMs, detachMs, left: leftovers() };
  } finally {
    await cloud.close();
  }
}

async function afterGiveUp(login: LoginTimeouts, since: number): Promise<void> {
  const wait = since + loginWindowMs(login) + login.loginTimeoutS * 1000 + 3000 - Date.now();
  if (wait > 0) await sleep(wait);
}

const reset = (ctx: GuestContext, s: StorageSetup): Promise<void> => ctx.storage.reset(s);

/** Healthy rows take this many connects per side (one connect under TCG varies by ±40 %). */
const HEALTHY_SAMPLES = 3;

/** `n` runs of `side`, each from a clean start: the median run, with every run's time. */
async function medianOf(n: number, side: () => Promise<SideResult>, clean: () => Promise<void>): Promise<SideResult> {
  const runs: SideResult[] = [];
  for (let i = 0; i < n; i++) {
    if (i > 0) await clean();
    runs.push(await side());
  }
  const ok = runs.filter((r) => r.connectMs !== null).sort((a, b) => (a.connectMs ?? 0) - (b.connectMs ?? 0));
  // A failed run is the row's result: the table must show it.
  const pick = runs.find((r) => r.connectMs === null || !r.io) ?? ok[Math.floor(ok.length / 2)] ?? runs[0];
  if (!pick) throw new Error('medianOf: no run');
  return { ...pick, connectSamplesMs: runs.map((r) => r.connectMs ?? -1) };
}

export const cases: GuestCases = {
  /** os-brick's import, once per boot (≈ 44 s under TCG): before any timed case. */
  'os-brick-import': {
    run: async () => {
      const ob = await OsBrickOnGuest.get();
      return { version: ob.version, importMs: ob.importMs };
    },
  },

  'single path': {
    setup: () => setupFor(null),
    run: async (ctx): Promise<BenchRow> => {
      const floorMs = await floor(ctx, false);
      const again = (): Promise<void> => reset(ctx, setupFor(null));
      const hitch = await medianOf(HEALTHY_SAMPLES, () => hitchSide(ctx, hitchOnGuest({ multipath: false }), connectionInfo({ iqn: IQN, portals: ['127.0.0.1:3260'] })), again);
      await reset(ctx, setupFor(null));
      const osBrick = await medianOf(HEALTHY_SAMPLES, () => osBrickSide(ctx, connectionInfo({ iqn: IQN, portals: ['127.0.0.1:3260'] }), false), again);
      await reset(ctx, setupFor(null));
      const whole = await wholeAttach(ctx, false);
      return { case: 'single path', floorMs, hitch, osBrick, attachMs: null, note: `HTTP attach (2 portals, multipathd off): ${whole.attachMs} ms, left ${countOf(whole.left)}` };
    },
  },

  'two portals, multipath': {
    setup: () => setupFor('no'),
    run: async (ctx): Promise<BenchRow> => {
      const floorMs = await floor(ctx, true);
      const again = (): Promise<void> => reset(ctx, setupFor('no'));
      const hitch = await medianOf(HEALTHY_SAMPLES, () => hitchSide(ctx, hitchOnGuest({ multipath: true }), connectionInfo({ iqn: IQN })), again);
      await reset(ctx, setupFor('no'));
      const osBrick = await medianOf(HEALTHY_SAMPLES, () => osBrickSide(ctx, connectionInfo({ iqn: IQN }), true), again);
      await reset(ctx, setupFor('no'));
      const whole = await wholeAttach(ctx, false);
      return { case: 'two portals, multipath', floorMs, hitch, osBrick, attachMs: whole.attachMs, note: `HTTP detach ${whole.detachMs} ms, left ${countOf(whole.left)}` };
    },
  },

  /**
   * The seed on a real kernel: portal .2 dropped, open-iscsi's default login timeouts (15 s × 8).
   * Hitch (target 1) and os-brick (target 2) at the same time: os-brick's connect takes the dead
   * login's ≈ 2 minutes, in which Hitch's attach is done; both are looked at after iscsid gave up.
   */
  'seed (portal .2 dropped, default timeouts)': {
    setup: () => setupFor('no', { login: DEFAULT_LOGIN }),
    run: async (ctx): Promise<BenchRow> => {
      // One side after the other, each alone on the host from a clean start: run at once (as
      // before), Hitch's connect took 199 s beside os-brick's dead login on a loaded machine
      // (2026-12-05), against 30 s alone in the storage-host suite's seed in the same hour.
      const h = hitchOnGuest({ multipath: true });
      const ciH = connectionInfo({ iqn: IQN });
      const ciB = connectionInfo({ iqn: iqnFor('bench-2') });
      const dead: { hitch?: Leftovers; osBrick?: Leftovers } = {};
      await ctx.storage.dropPortal('127.0.0.2');
      const t0 = Date.now();
      // Each side disconnects only after iscsid gave up: what it holds of .2 then is what counts.
      const hitch = await hitchSide(ctx, h, ciH, {
        afterConnect: async () => {
          await afterGiveUp(DEFAULT_LOGIN, t0);
          await h.brick.settled();
          dead.hitch = ofPortal(IQN, '127.0.0.2');
        },
      });
      await ctx.storage.liftDrop();
      await reset(ctx, setupFor('no', { login: DEFAULT_LOGIN }));
      await OsBrickOnGuest.get();
      await ctx.storage.dropPortal('127.0.0.2');
      const t1 = Date.now();
      const osBrick = await osBrickSide(ctx, ciB, true, {
        afterConnect: async () => {
          await afterGiveUp(DEFAULT_LOGIN, t1);
          dead.osBrick = ofPortal(iqnFor('bench-2'), '127.0.0.2');
        },
      });
      const leftAll = leftovers();
      await ctx.storage.liftDrop();
      const none: Leftovers = { sessions: [], nodes: [], disks: [], maps: [] };
      return {
        case: 'seed (portal .2 dropped, default timeouts)',
        floorMs: null,
        hitch,
        osBrick,
        deadPortalAfterGiveUp: { hitch: dead.hitch ?? none, osBrick: dead.osBrick ?? none },
        note: `Hitch usable in ${hitch.connectMs} ms on ${hitch.device} (${hitch.paths} path), os-brick in ${osBrick.connectMs} ms on ${osBrick.device} (${osBrick.paths} path); of 127.0.0.2 once iscsid gave up (before each disconnect): Hitch ${countOf(dead.hitch ?? none)}, os-brick ${countOf(dead.osBrick ?? none)} (sessions, node records, disks); after both disconnected the host held ${countOf(leftAll)}`,
      };
    },
  },

  'path lost after the attach (I/O goes on)': {
    setup: () => setupFor('no'),
    run: async (ctx): Promise<BenchRow> => {
      const seen: Array<Awaited<ReturnType<typeof losePath>>> = [];
      const h = hitchOnGuest({ multipath: true });
      const hitch = await hitchSide(ctx, h, connectionInfo({ iqn: IQN }), {
        afterConnect: async (device) => {
          await h.brick.settled();
          seen.push(await losePath(ctx, device));
        },
      });
      await reset(ctx, setupFor('no'));
      const osBrick = await osBrickSide(ctx, connectionInfo({ iqn: IQN }), true, { afterConnect: async (device) => void seen.push(await losePath(ctx, device)) });
      const say = (x: (typeof seen)[number] | undefined): string => (x ? `path failed after ${x.failedMs} ms, I/O through the map ${x.io ? 'went on' : 'FAILED'}, back ${x.backMs} ms after the drop lifted` : '—');
      return { case: 'path lost after the attach (I/O goes on)', floorMs: null, hitch, osBrick, note: `Hitch: ${say(seen[0])}; os-brick: ${say(seen[1])}` };
    },
  },

  'map never built (WWIDs blacklisted)': {
    setup: () => setupFor('no', { blacklistWwids: ['.*'] }),
    run: async (ctx): Promise<BenchRow> => {
      const hitch = await hitchSide(ctx, hitchOnGuest({ multipath: true }), connectionInfo({ iqn: IQN }));
      await reset(ctx, setupFor('no', { blacklistWwids: ['.*'] }));
      const osBrick = await osBrickSide(ctx, connectionInfo({ iqn: IQN }), true);
      return { case: 'map never built (WWIDs blacklisted)', floorMs: null, hitch, osBrick };
    },
  },

  CHAP: {
    setup: () => ({ findMultipaths: 'no', targets: [{ iqn: IQN, chap: { username: 'benchuser', password: 'Bench-Secret-1' } }] }),
    run: async (ctx): Promise<BenchRow> => {
      const ci = connectionInfo({ iqn: IQN, chap: { username: 'benchuser', password: 'Bench-Secret-1' } });
      const hitch = await hitchSide(ctx, hitchOnGuest({ multipath: true }), ci);
      await reset(ctx, { findMultipaths: 'no', targets: [{ iqn: IQN, chap: { username: 'benchuser', password: 'Bench-Secret-1' } }] });
      const osBrick = await osBrickSide(ctx, ci, true);
      return { case: 'CHAP', floorMs: null, hitch, osBrick };
    },
  },

  'detach during a pending login (short timeouts)': {
    setup: () => setupFor('no'),
    run: async (ctx): Promise<BenchRow> => {
      await ctx.storage.dropPortal('127.0.0.2');
      const h = hitchOnGuest({ multipath: true });
      const t0 = Date.now();
      const hitch = await hitchSide(ctx, h, connectionInfo({ iqn: IQN }), {
        beforeLeft: async () => {
          await sleep(2000);
          await ctx.storage.liftDrop();
          const deadline = Date.now() + loginWindowMs(SHORT_LOGIN) + 20_000;
          while (Date.now() < deadline) {
            const r = await h.brick.reap(h.trace.root(), { keep: async () => [] });
            if (r.failures.length === 0 && (r.pending ?? []).length === 0) break;
            await sleep(1000);
          }
          await afterGiveUp(SHORT_LOGIN, t0);
        },
      });
      await reset(ctx, setupFor('no'));
      await ctx.storage.dropPortal('127.0.0.2');
      const t1 = Date.now();
      // os-brick's connect returns only once the dead login has failed: the detach comes after.
      const osBrick = await osBrickSide(ctx, connectionInfo({ iqn: IQN }), true, {
        beforeLeft: async () => {
          await ctx.storage.liftDrop();
          await afterGiveUp(SHORT_LOGIN, t1);
        },
      });
      return { case: 'detach during a pending login (short timeouts)', floorMs: null, hitch, osBrick };
    },
  },

  'ten at once, one dead portal (short timeouts)': {
    setup: () => ({ findMultipaths: 'no', targets: Array.from({ length: 10 }, (_, i) => ({ iqn: iqnFor(`bench-c${i}`), sizeMb: 16 })) }),
    run: async (ctx): Promise<BenchRow> => {
      const cis = Array.from({ length: 10 }, (_, i) =>
        connectionInfo({ iqn: iqnFor(`bench-c${i}`), portals: i === 6 ? ['127.0.0.1:3260', '127.0.0.3:3260'] : ['127.0.0.1:3260', '127.0.0.2:3260'] }),
      );
      await ctx.storage.dropPortal('127.0.0.3');
      const h = hitchOnGuest({ multipath: true });
      const t0 = Date.now();
      const hd = await Promise.all(cis.map((ci) => connectDevice(h, ci).then((d) => (isBlock(d) ? d.path : ''), (e: unknown) => `error ${String(e)}`)));
      const hitchMs = Date.now() - t0;
      const hCmds = h.commands.length;
      for (const [i, d] of hd.entries()) if (d.startsWith('/dev/')) await verifyIo(d, 1, i % 4);
      await h.brick.settled();
      await Promise.all(cis.map((ci) => disconnectDevice(h, ci).catch(() => undefined)));
      await afterGiveUp(SHORT_LOGIN, t0);
      const hLeft = leftovers();
      await reset(ctx, { findMultipaths: 'no', targets: Array.from({ length: 10 }, (_, i) => ({ iqn: iqnFor(`bench-c${i}`), sizeMb: 16 })) });
      await ctx.storage.dropPortal('127.0.0.3');
      const ob = await OsBrickOnGuest.get();
      const r = await ob.connectMany(cis.map((c) => c.data), true);
      const od = (r.devices ?? []).map((d) => d.device?.['path'] ?? `error ${d.error ?? ''}`);
      for (const [i, d] of od.entries()) if (d.startsWith('/dev/')) await verifyIo(d, 1, i % 4);
      let oDisc = 0;
      for (const [i, d] of (r.devices ?? []).entries()) if (d.ok) oDisc += (await ob.disconnect(cis[i]?.data, d.device, true)).commands;
      const oLeft = leftovers();
      const side = (ms: number, devs: string[], cc: number, dc: number, left: Leftovers): SideResult => ({
        connectMs: ms,
        device: `${devs.filter((d) => d.startsWith('/dev/dm-')).length}/10 maps`,
        paths: 0,
        connectCommands: cc,
        disconnectCommands: dc,
        left,
        io: devs.every((d) => d.startsWith('/dev/')),
      });
      return {
        case: 'ten at once, one dead portal (short timeouts)',
        floorMs: null,
        hitch: side(hitchMs, hd, hCmds, h.commands.length - hCmds, hLeft),
        osBrick: side(r.ms, od, r.commands, oDisc, oLeft),
        note: 'connect = until all ten are usable',
      };
    },
  },
};
