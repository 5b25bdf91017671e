/**
 * The storage-host suite's cases, run inside the guest (see src/test-support/storage-host/):
 * Hitch's brick on the real kernel, udev, iscsid and multipathd, against tgt on the guest's two
 * loopback portals. Each case returns what it saw; `storage-host.test.ts` judges it. Every case
 * reads and writes the device (through the map where there is one) and reports what the host
 * holds at the end, and again after iscsid has given up on every login still pending.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { isHitchError } from '../../src/errors.ts';
import type { GuestCases, GuestContext } from '../../src/test-support/storage-host/guest/runner.ts';
import {
  DEFAULT_LOGIN,
  SHORT_LOGIN,
  holdersOf,
  leftovers,
  mapInfo,
  must,
  sessionsTo,
  sh,
  sleep,
  until,
  verifyIo,
  type FindMultipaths,
  type Leftovers,
  type LoginTimeouts,
} from '../../src/test-support/storage-host/guest/storage.ts';
import { nvmeCases } from './nvme.guest.ts';
import { nvmeApiCases } from './nvme-api.guest.ts';
import { connectDevice, connectionInfo, disconnectDevice, hitchOnGuest, iqnFor, isBlock, loginWindowMs, type HitchOnGuest } from './hitch-guest.ts';

const IQN = iqnFor('storage-host-1');
/** The detach-during-a-pending-login case's login timeouts (see there). */
const PENDING_LOGIN: LoginTimeouts = { loginTimeoutS: 10, retryMax: 3 };

interface ConnectObservation {
  readonly path: string;
  readonly ms: number;
  /** Paths under the returned map when connect returned (0 for a raw disk). */
  readonly pathsAtReturn: number;
  /** Paths under the map once brick's background portal work settled (the kernel's table, followed up to 5 s; see `diagnosis`). */
  readonly pathsSettled: number;
  /** A raw disk was returned while a map held it (at return, or once settled). */
  readonly rawUnderMap: boolean;
  readonly commands: number;
  /** Present when the kernel's map had fewer paths than portals the moment brick settled: multipathd's view then, and the count 5 s on at most. */
  readonly diagnosis?: { readonly paths: string; readonly laterPaths: number; readonly afterMs: number };
}

function dmOf(path: string): string | null {
  const name = path.split('/').pop() ?? '';
  return name.startsWith('dm-') ? name : null;
}

async function observeConnect(h: HitchOnGuest, ci: ReturnType<typeof connectionInfo>): Promise<ConnectObservation & { device: string }> {
  const before = h.commands.length;
  const t0 = Date.now();
  const d = await connectDevice(h, ci);
  const ms = Date.now() - t0;
  if (!isBlock(d)) throw new Error(`not a block device: ${JSON.stringify(d)}`);
  const dm = dmOf(d.path);
  const raw = d.path.split('/').pop() ?? '';
  const pathsAtReturn = dm ? mapInfo(dm).slaves.length : 0;
  const rawAtReturn = !dm && holdersOf(raw).length > 0;
  await h.brick.settled();
  const portals = ((ci.data['target_portals'] as string[] | undefined) ?? []).length;
  // Paths in the map once brick settled: the kernel's count, followed for up to 5 s when it is
  // short, with multipathd's view then (the diagnosis). It was short when brick returned a map
  // multipathd had built from the other portal's disk alone while the winner's addition waited
  // for udev's event on the new map ("delaying path addition until … is fully initialized"):
  // brick waited for every path but the winner's. Kept as a diagnosis should anything else
  // make the kernel's count lag.
  const slavesNow = dm ? mapInfo(dm).slaves.length : 0;
  let diagnosis: { paths: string; laterPaths: number; afterMs: number } | undefined;
  if (dm && slavesNow < portals) {
    const paths = (await sh('multipathd', ['show', 'paths', 'format', '%d %w %t %T %m'])).stdout.trim();
    const t1 = Date.now();
    const later = await until('every path in the map', () => (mapInfo(dm).slaves.length >= portals ? mapInfo(dm).slaves.length : undefined), 5_000).catch(() => mapInfo(dm).slaves.length);
    diagnosis = { paths, laterPaths: later, afterMs: Date.now() - t1 };
  }
  const pathsSettled = diagnosis ? diagnosis.laterPaths : slavesNow;
  const rawUnderMap = rawAtReturn || (!dm && holdersOf(raw).length > 0);
  return { device: d.path, path: d.path, ms, pathsAtReturn, pathsSettled, rawUnderMap, commands: h.commands.length - before, ...(diagnosis ? { diagnosis } : {}) };
}

async function disconnect(h: HitchOnGuest, ci: ReturnType<typeof connectionInfo>): Promise<number> {
  const t0 = Date.now();
  await disconnectDevice(h, ci);
  return Date.now() - t0;
}

/** Reap until the connector owns nothing (pending logins watched to their end), bounded. */
async function reapUntilQuiet(h: HitchOnGuest, boundMs: number): Promise<{ passes: number; reaped: string[]; failures: string[] }> {
  const deadline = Date.now() + boundMs;
  const reaped: string[] = [];
  let failures: string[] = [];
  let passes = 0;
  for (;;) {
    const r = await h.brick.reap(h.trace.root(), { keep: async () => [] });
    passes++;
    reaped.push(...r.reaped);
    failures = [...r.failures];
    const pending = (r as { pending?: readonly string[] }).pending ?? [];
    if ((failures.length === 0 && pending.length === 0) || Date.now() > deadline) break;
    await sleep(1000);
  }
  return { passes, reaped, failures };
}

/** Wait out iscsid's window for logins still pending, then look at the host again. */
async function afterGiveUp(ctx: GuestContext, login: LoginTimeouts, since: number): Promise<Leftovers> {
  // iscsid tries a login retry_max times, each up to login_timeout; a little more for the last.
  const until = since + loginWindowMs(login) + login.loginTimeoutS * 1000 + 3000;
  const wait = until - Date.now();
  if (wait > 0) {
    ctx.log(`waiting ${Math.round(wait / 1000)} s for iscsid to give up on pending logins`);
    await sleep(wait);
  }
  return leftovers();
}

function withTrail<T extends object>(h: HitchOnGuest, data: T): T & { commandsRun: number; log: string[]; commandTrail: string[] } {
  return { ...data, commandsRun: h.commands.length, log: h.logs.slice(-80), commandTrail: h.commands.slice(-80) };
}

/**
 * The seed's parameters: `defaults` for open-iscsi's own login timeouts (15 s × 8), `pending` for
 * the detach case's 10 s × 3 (a drop lifted a few seconds after the connect then meets a login
 * iscsid is still retrying: the late path), else the short 3 s × 2; `liftAfterMs` lifts the drop
 * that long after the connect began.
 */
interface SeedParams {
  readonly defaults?: boolean;
  readonly pending?: boolean;
  readonly liftAfterMs?: number;
}
const seedLogin = (p: unknown): LoginTimeouts => {
  const q = (p ?? {}) as SeedParams;
  return q.defaults ? DEFAULT_LOGIN : q.pending ? PENDING_LOGIN : SHORT_LOGIN;
};

const find = (p: unknown): FindMultipaths => ((p as { find?: FindMultipaths } | undefined)?.find ?? 'no');

export const cases: GuestCases = {
  ...nvmeCases,
  ...nvmeApiCases,
  /** The guest itself: versions, daemons answering, an empty host. */
  smoke: {
    run: async () => {
      const iscsiadm = await sh('iscsiadm', ['--version']);
      const multipath = await sh('dpkg-query', ['-W', '-f', '${Package} ${Version}', 'multipath-tools']);
      const status = await must('multipathd', ['show', 'status']);
      const uname = await must('uname', ['-r']);
      const tgt = await must('tgtadm', ['--lld', 'iscsi', '--op', 'show', '--mode', 'sys']);
      return {
        kernel: uname.stdout.trim(),
        iscsiadm: iscsiadm.stdout.trim(),
        multipath: multipath.stdout.trim(),
        multipathdStatus: status.stdout.trim(),
        tgtSystem: tgt.stdout.split('\n').slice(0, 3).join(' | '),
        leftovers: leftovers(),
      };
    },
  },

  /** One portal, no multipath: the disk itself. */
  'healthy-single': {
    setup: () => ({ findMultipaths: null, targets: [{ iqn: IQN }] }),
    run: async (ctx) => {
      const h = hitchOnGuest({ multipath: false, log: ctx.log });
      const ci = connectionInfo({ iqn: IQN, portals: ['127.0.0.1:3260'] });
      const c = await observeConnect(h, ci);
      const io = await verifyIo(c.device);
      const disconnectMs = await disconnect(h, ci);
      return withTrail(h, { connect: c, io, disconnectMs, left: leftovers() });
    },
  },

  /**
   * Two portals, multipath, `repeats` consecutive connect → I/O through the map → disconnect
   * cycles with one find_multipaths setting (one brick, as one compute host).
   */
  'healthy-multipath': {
    setup: (p) => ({ findMultipaths: find(p), targets: [{ iqn: IQN }] }),
    run: async (ctx) => {
      const repeats = (ctx.params as { repeats?: number } | undefined)?.repeats ?? 1;
      const h = hitchOnGuest({ multipath: true, log: (l) => (l.includes('warning') || l.includes('error') ? ctx.log(l) : undefined) });
      const runs: Array<ConnectObservation & { disconnectMs: number; ioMs: number; left: Leftovers }> = [];
      for (let i = 0; i < repeats; i++) {
        const ci = connectionInfo({ iqn: IQN });
        const c = await observeConnect(h, ci);
        const io = await verifyIo(c.device);
        const disconnectMs = await disconnect(h, ci);
        const left = leftovers();
        runs.push({ ...c, ioMs: io.ms, disconnectMs, left });
        ctx.log(`${i + 1}/${repeats}: ${c.path} ${c.pathsAtReturn}→${c.pathsSettled} paths, connect ${c.ms} ms, disconnect ${disconnectMs} ms`);
      }
      return withTrail(h, { find: find(ctx.params), runs });
    },
  },

  /**
   * The ordering that made brick return a map with one path (2 of 60 healthy connects, CI at
   * ec0581c): multipathd reads the second portal's udev event before the first's, builds the map
   * on that disk alone and adds the first disk later. Forced here: a udev rule runs `sleep` for
   * the 127.0.0.1 portal's disks after their links exist, and udev tells listeners (multipathd)
   * only once RUN is done, so brick sees that disk first and multipathd last. Each connect
   * reports the map's paths when brick found it (its `find_device` span) and at the return.
   */
  'multipathd-reads-late': {
    setup: () => ({ findMultipaths: 'no', targets: [{ iqn: IQN }] }),
    run: async (ctx) => {
      const repeats = (ctx.params as { repeats?: number } | undefined)?.repeats ?? 3;
      const rule = '/etc/udev/rules.d/99-hitch-late-event.rules';
      writeFileSync(rule, 'ACTION=="add", SUBSYSTEM=="block", KERNEL=="sd*", ENV{ID_PATH}=="ip-127.0.0.1:*", RUN+="/bin/sleep 2"\n');
      await must('udevadm', ['control', '--reload-rules']);
      const h = hitchOnGuest({ multipath: true, log: (l) => (l.includes('warning') || l.includes('error') ? ctx.log(l) : undefined) });
      const runs: Array<ConnectObservation & { winner: string; pathsWhenFound: string; left: Leftovers }> = [];
      try {
        for (let i = 0; i < repeats; i++) {
          const ci = connectionInfo({ iqn: IQN });
          const c = await observeConnect(h, ci);
          const found = [...h.trace.spans].reverse().find((sp) => sp.name === 'find_device');
          await verifyIo(c.device);
          await disconnect(h, ci);
          const winner = String(found?.attrs['dev'] ?? '');
          const pathsWhenFound = String(found?.attrs['paths'] ?? '');
          runs.push({ ...c, winner, pathsWhenFound, left: leftovers() });
          ctx.log(`${i + 1}/${repeats}: ${c.path}, brick's disk ${winner}, the map's paths when found: ${pathsWhenFound}, at the return ${c.pathsAtReturn}, connect ${c.ms} ms`);
        }
      } finally {
        rmSync(rule, { force: true });
        await sh('udevadm', ['control', '--reload-rules']);
      }
      return withTrail(h, { runs });
    },
  },

  /**
   * The seed: portal .2 dropped, multipath. Usable through the map on its one live path; the
   * drop lifts after `liftAfterMs` (the late path must join the map) or never (iscsid gives up:
   * nothing of .2 may remain).
   */
  seed: {
    setup: (p) => ({ findMultipaths: find(p), login: seedLogin(p), targets: [{ iqn: IQN }] }),
    run: async (ctx) => {
      const p = (ctx.params ?? {}) as SeedParams;
      const login = seedLogin(p);
      const h = hitchOnGuest({ multipath: true, log: ctx.log });
      await ctx.storage.dropPortal('127.0.0.2');
      const ci = connectionInfo({ iqn: IQN });
      const t0 = Date.now();
      const d = await connectDevice(h, ci);
      const usableMs = Date.now() - t0;
      if (!isBlock(d)) throw new Error('not a block device');
      const dm = dmOf(d.path);
      const raw = dm ? null : (d.path.split('/').pop() ?? '');
      const atReturn = { path: d.path, paths: dm ? mapInfo(dm).slaves : [], rawUnderMap: raw !== null && holdersOf(raw).length > 0 };
      const io = await verifyIo(d.path);
      let joined: { afterLiftMs: number; paths: string[] } | null = null;
      let afterGiveUpLeft: Leftovers | null = null;
      if (p.liftAfterMs !== undefined) {
        const wait = t0 + p.liftAfterMs - Date.now();
        if (wait > 0) await sleep(wait);
        await ctx.storage.liftDrop();
        const lifted = Date.now();
        ctx.log(`drop lifted ${lifted - t0} ms after the connect began`);
        if (dm) {
          const paths = await until('the late path to join the map', () => (mapInfo(dm).slaves.length >= 2 ? mapInfo(dm).slaves : undefined), loginWindowMs(login) + 60_000).catch(() => null);
          joined = paths ? { afterLiftMs: Date.now() - lifted, paths } : null;
        }
        await h.brick.settled();
      } else {
        await h.brick.settled();
        afterGiveUpLeft = await afterGiveUp(ctx, login, t0);
      }
      const io2 = await verifyIo(d.path, 1, 4);
      const sessionsBefore = leftovers().sessions;
      const disconnectMs = await disconnect(h, ci);
      await ctx.storage.liftDrop();
      const left = leftovers();
      return withTrail(h, { usableMs, atReturn, io, io2, joined, afterGiveUpLeft, sessionsBefore, disconnectMs, left, login });
    },
  },

  /** The map can never be built: multipathd stopped after the connector looked, or every WWID blacklisted. */
  'map-never': {
    setup: (p) => {
      const how = (p as { how?: string } | undefined)?.how ?? 'stopped';
      return { findMultipaths: 'no', targets: [{ iqn: IQN }], ...(how === 'blacklisted' ? { blacklistWwids: ['.*'] } : {}) };
    },
    run: async (ctx) => {
      const how = (ctx.params as { how?: string } | undefined)?.how ?? 'stopped';
      const h = hitchOnGuest({ multipath: true, log: ctx.log });
      const props = await h.brick.connectorProperties(h.trace.root());
      if (how === 'stopped') await ctx.storage.stopMultipathd();
      const ci = connectionInfo({ iqn: IQN });
      const c = await observeConnect(h, ci);
      const io = await verifyIo(c.device);
      const sessions = leftovers().sessions;
      const disconnectMs = await disconnect(h, ci);
      return withTrail(h, { how, multipathProperty: props.multipath, connect: c, io, sessions, disconnectMs, left: leftovers() });
    },
  },

  /** A path lost after the attach: I/O through the map goes on; the path comes back. */
  'path-lost': {
    setup: () => ({ findMultipaths: 'no', targets: [{ iqn: IQN }] }),
    run: async (ctx) => {
      const h = hitchOnGuest({ multipath: true, log: ctx.log });
      const ci = connectionInfo({ iqn: IQN });
      const c = await observeConnect(h, ci);
      const dm = dmOf(c.device);
      if (!dm) throw new Error(`no map: ${c.device}`);
      await verifyIo(c.device);
      await ctx.storage.dropPortal('127.0.0.2');
      const dropped = Date.now();
      const failed = await until(
        'multipathd to mark the dropped path failed',
        async () => {
          const r = await sh('multipathd', ['show', 'paths', 'format', '%d %t %T %a']);
          const line = r.stdout.split('\n').find((l) => /failed|faulty/.test(l));
          return line ?? undefined;
        },
        90_000,
      ).catch(() => null);
      const failedMs = Date.now() - dropped;
      const ioDuring = await verifyIo(c.device, 2, 8);
      await ctx.storage.liftDrop();
      const lifted = Date.now();
      await until(
        'both paths active again',
        async () => {
          const r = await sh('multipathd', ['show', 'paths', 'format', '%d %t %T']);
          const lines = r.stdout.split('\n').filter((l) => /^sd/.test(l.trim()));
          return lines.length >= 2 && lines.every((l) => /active/.test(l) && /ready/.test(l)) ? true : undefined;
        },
        90_000,
      );
      const backMs = Date.now() - lifted;
      const disconnectMs = await disconnect(h, ci);
      return withTrail(h, { connect: c, failed, failedMs, ioDuring, backMs, disconnectMs, left: leftovers() });
    },
  },

  /** CHAP: the right secret logs in; a wrong one fails clearly and leaves nothing. */
  chap: {
    setup: () => ({ findMultipaths: 'no', targets: [{ iqn: IQN, chap: { username: 'hitchuser', password: 'Secret-123456' } }] }),
    run: async (ctx) => {
      const h = hitchOnGuest({ multipath: true, log: ctx.log });
      const wrong = connectionInfo({ iqn: IQN, chap: { username: 'hitchuser', password: 'Wrong-999999' } });
      let wrongError = '';
      try {
        await connectDevice(h, wrong);
      } catch (e) {
        wrongError = isHitchError(e) ? `${e.code}: ${e.message}` : String(e);
      }
      await h.brick.settled();
      const afterWrong = leftovers();
      const ci = connectionInfo({ iqn: IQN, chap: { username: 'hitchuser', password: 'Secret-123456' } });
      const c = await observeConnect(h, ci);
      const io = await verifyIo(c.device);
      const disconnectMs = await disconnect(h, ci);
      const secretLogged = [...h.logs, ...h.commands].some((l) => l.includes('Secret-123456') || l.includes('Wrong-999999'));
      return withTrail(h, { wrongError, afterWrong, connect: c, io, disconnectMs, secretLogged, left: leftovers() });
    },
  },

  /** Ten volumes on ten targets at once; one of them lists a dead portal (127.0.0.3, dropped). */
  'concurrent-10': {
    setup: () => ({
      findMultipaths: 'no',
      targets: Array.from({ length: 10 }, (_, i) => ({ iqn: iqnFor(`concurrent-${i}`), sizeMb: 16 })),
    }),
    run: async (ctx) => {
      const h = hitchOnGuest({ multipath: true, log: (l) => (l.includes('warning') || l.includes('error') ? ctx.log(l) : undefined) });
      await ctx.storage.dropPortal('127.0.0.3');
      const cis = Array.from({ length: 10 }, (_, i) =>
        connectionInfo({ iqn: iqnFor(`concurrent-${i}`), portals: i === 6 ? ['127.0.0.1:3260', '127.0.0.3:3260'] : ['127.0.0.1:3260', '127.0.0.2:3260'] }),
      );
      const t0 = Date.now();
      const devices = await Promise.all(
        cis.map(async (ci) => {
          const s = Date.now();
          const d = await connectDevice(h, ci);
          return { path: isBlock(d) ? d.path : '', ms: Date.now() - s };
        }),
      );
      const allMs = Date.now() - t0;
      const maps = devices.map((d) => (dmOf(d.path) ? mapInfo(dmOf(d.path) ?? '').slaves.length : 0));
      for (const [i, d] of devices.entries()) await verifyIo(d.path, 1, i % 4);
      await h.brick.settled();
      const mapsSettled = devices.map((d) => (dmOf(d.path) ? mapInfo(dmOf(d.path) ?? '').slaves.length : 0));
      const t1 = Date.now();
      await Promise.all(cis.map((ci) => disconnect(h, ci)));
      const disconnectAllMs = Date.now() - t1;
      const left = leftovers();
      const reap = await reapUntilQuiet(h, loginWindowMs(SHORT_LOGIN) + 20_000);
      const afterGiveUpLeft = await afterGiveUp(ctx, SHORT_LOGIN, t0);
      return withTrail(h, { devices, allMs, maps, mapsSettled, disconnectAllMs, left, reap, afterGiveUpLeft });
    },
  },

  /**
   * A detach while portal .2's login is still pending in iscsid; the drop lifts 2 s later. No
   * session may appear, not even after the portal came back.
   */
  'detach-pending': {
    // Long enough that the detach comes while the dead login is still pending even on a slow,
    // shared machine (10 s × 3 tries), short enough to wait out.
    setup: (p) => ({ findMultipaths: find(p), login: PENDING_LOGIN, targets: [{ iqn: IQN }] }),
    run: async (ctx) => {
      const h = hitchOnGuest({ multipath: true, log: ctx.log });
      await ctx.storage.dropPortal('127.0.0.2');
      const ci = connectionInfo({ iqn: IQN });
      const t0 = Date.now();
      const c = await connectDevice(h, ci);
      const usableMs = Date.now() - t0;
      await verifyIo(isBlock(c) ? c.path : '');
      const disconnectMs = await disconnect(h, ci);
      // Brick says so when it gives up on a login iscsid still runs: the case is what it claims.
      const gaveUpPending = h.logs.some((l) => l.includes('Gave up on the login to 127.0.0.2:3260'));
      const leftAtDetach = leftovers();
      await sleep(2000);
      await ctx.storage.liftDrop();
      const lifted = Date.now();
      const reap = await reapUntilQuiet(h, loginWindowMs(PENDING_LOGIN) + 30_000);
      const afterGiveUpLeft = await afterGiveUp(ctx, PENDING_LOGIN, lifted);
      return withTrail(h, { usableMs, disconnectMs, gaveUpPending, leftAtDetach, reap, afterGiveUpLeft, sessionsTo2: sessionsTo('127.0.0.2:3260') });
    },
  },

  /** Bad input: a clear error, nothing run or nothing left. */
  'bad-input': {
    setup: () => ({ findMultipaths: 'no', targets: [{ iqn: IQN }] }),
    run: async (ctx) => {
      const h = hitchOnGuest({ multipath: true, log: ctx.log });
      const attempt = async (what: string, ci: unknown): Promise<{ what: string; error: string; commands: number; left: Leftovers }> => {
        const before = h.commands.length;
        let error = 'no error';
        try {
          await connectDevice(h, ci);
        } catch (e) {
          error = isHitchError(e) ? `${e.code}: ${e.message}` : `NOT A HITCH ERROR: ${String(e)}`;
        }
        await h.brick.settled();
        return { what, error, commands: h.commands.length - before, left: leftovers() };
      };
      const good = connectionInfo({ iqn: IQN });
      const out = [
        await attempt('malformed IQN', { ...good, data: { ...good.data, target_iqn: 'iqn.bogus name', target_iqns: ['iqn.bogus name', 'iqn.bogus name'] } }),
        await attempt('malformed portal', { ...good, data: { ...good.data, target_portal: '127.0.0.1:99999', target_portals: ['127.0.0.1:99999', '127.0.0.2:3260'] } }),
        await attempt('target that does not exist', connectionInfo({ iqn: iqnFor('no-such-target') })),
        await attempt('LUN that does not exist', connectionInfo({ iqn: IQN, lun: 7 })),
      ];
      return withTrail(h, { attempts: out });
    },
  },
};
