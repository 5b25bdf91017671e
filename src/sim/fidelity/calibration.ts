/**
 * The latency model calibrated on the storage host guest: what `test/storage-host/
 * fidelity-calibrate.guest.ts` measured there (kept as `fixtures/calibration.json`), and how
 * it becomes the simulator's `LatencyModel` (the built-in `calibrated` scenario).
 */

/** One login → scan → map → flush → delete → logout cycle on one path, wall-clock ms. */
export interface CalibrationCycle {
  readonly loginMs: number;
  readonly loginCode: number;
  /** The targeted scan's write (returns once the kernel has the disk). */
  readonly scanMs: number;
  /** From the scan's return to udev's by-path link. */
  readonly udevMs: number;
  /** `multipath -a` (first cycle only: the WWID was unknown). */
  readonly wwidAddMs: number | null;
  /** `multipathd add path`'s reply (first cycle), its answer, and whether the map existed by then. */
  readonly addPathMs: number | null;
  readonly addPathAnswer: string | null;
  readonly mapAtReply: boolean | null;
  /** From the scan's return to the map holding the disk, multipathd working from udev's event (later cycles). */
  readonly autoMapMs: number | null;
  /** From the map to udev's `dm-uuid-mpath-<WWN>` link. */
  readonly mapLinkMs: number;
  readonly flushMs: number;
  readonly flushCode: number;
  /** The `device/delete` write, and until the disk is gone from sysfs. */
  readonly deleteMs: number;
  readonly deleteGoneMs: number;
  readonly logoutMs: number;
  readonly recordDeleteMs: number;
}

export interface CalibrationRaw {
  readonly versions: Readonly<Record<string, string>>;
  /** Trivial invocations per tool (`true`, `iscsiadm`, `multipathd`, `multipath`, `blockdev`). */
  readonly commands: Readonly<Record<string, readonly number[]>>;
  readonly cycles: readonly CalibrationCycle[];
  /** n targets at once: each login, all logins; each scan and its link (from the common start); each add path and its map. */
  readonly concurrent: {
    readonly n: number;
    readonly logins: readonly number[];
    readonly loginsAllMs: number;
    readonly scans: ReadonlyArray<{ readonly scanMs: number; readonly linkMs: number }>;
    readonly addPaths: ReadonlyArray<{ readonly replyMs: number; readonly mapMs: number }>;
  };
}

/** The median (0 for none). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return 0;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Timings of other scenes' states that calibrate what the calibration case does not time itself. */
export interface SceneTimings {
  /** A login to a dropped portal with the record's `attempts` × `loginTimeoutS`: iscsiadm's whole time. */
  readonly deadLogin: { readonly ms: number; readonly attempts: number; readonly loginTimeoutS: number };
  /** SendTargets discovery on healthy portals, and on a closed port (6 connection attempts). */
  readonly discoveryMs: readonly number[];
  readonly refusedDiscoveryMs: number;
}

/** What the guest measured, per primitive (wall ms under TCG), before any scaling. */
export interface GuestPrimitives {
  readonly commandMs: number;
  readonly perCommandMs: Readonly<Record<string, number>>;
  readonly loginRttMs: number;
  readonly iscsidServiceMs: number;
  readonly logoutRttMs: number;
  readonly lunScanMs: number;
  readonly udevDelayMs: number;
  readonly udevWorkers: number;
  readonly multipathMapDelayMs: number;
  readonly multipathMapBuildMs: number;
  readonly mapFlushMs: number;
  readonly deviceDeleteMs: number;
  readonly loginRetryGapMs: number;
  readonly discoveryRttMs: number;
  readonly refusedRetryMs: number;
}

/**
 * Per primitive, the median over every run's samples (a primitive's time is what its command
 * took beyond the tool's own start):
 * - command start: each tool's trivial call (`true` for any other tool);
 * - login: `--login` less iscsiadm's start, less iscsid's own share (below); logout likewise;
 * - LUN scan: the scan write; udev link: scan's return → by-path link;
 * - map after udev's event: scan's return → the map, less udev's link time; map build after
 *   `add path`: its reply less multipathd's start (the map exists by the reply);
 * - flush: `multipath -f` less multipath's start; delete: the `device/delete` write;
 * - contention: iscsid's share = how much longer the last of n logins at once took than one,
 *   per extra login; udev: one worker when n links at once took n times one or more;
 * - a dead login's pause between attempts, discovery's round trip and a refused connection's
 *   retry: from the fidelity scenes' own states (`SceneTimings`).
 */
export function guestPrimitives(raws: readonly CalibrationRaw[], scenes: readonly SceneTimings[]): GuestPrimitives {
  const all = <T>(f: (r: CalibrationRaw) => readonly T[]): T[] => raws.flatMap((r) => [...f(r)]);
  const cmd = (tool: string): number => median(all((r) => r.commands[tool] ?? []));
  const trueMs = cmd('true');
  const perCommandMs: Record<string, number> = {};
  for (const tool of ['iscsiadm', 'multipathd', 'multipath', 'blockdev']) perCommandMs[tool] = Math.round(cmd(tool));
  const iscsiadm = perCommandMs['iscsiadm'] ?? trueMs;
  const cycles = all((r) => r.cycles);
  const login = median(cycles.map((c) => c.loginMs));
  // iscsid's share of a login: what n logins at once took beyond one, per extra login — at most
  // the whole login beyond iscsiadm's start (the model queues only iscsid; under TCG the rest of
  // the contention is CPU, which it does not model: the calibrated contention is a lower bound).
  const excess = median(raws.map((r) => (r.concurrent.loginsAllMs - login) / Math.max(1, r.concurrent.n - 1)));
  const iscsidServiceMs = Math.min(Math.max(0, excess), Math.max(0, login - iscsiadm));
  const udev = median(cycles.map((c) => c.udevMs));
  const linkAll = median(raws.map((r) => Math.max(...r.concurrent.scans.map((s) => s.linkMs))));
  const n = median(raws.map((r) => r.concurrent.n));
  const mapDelay = median(cycles.flatMap((c) => (c.autoMapMs === null ? [] : [c.autoMapMs - c.udevMs])));
  const build = median(cycles.flatMap((c) => (c.addPathMs === null ? [] : [c.addPathMs - (perCommandMs['multipathd'] ?? trueMs)])));
  const dead = scenes.map((s) => (s.deadLogin.ms - iscsiadm - s.deadLogin.attempts * s.deadLogin.loginTimeoutS * 1000) / s.deadLogin.attempts);
  const r = Math.round;
  return {
    commandMs: r(trueMs),
    perCommandMs,
    loginRttMs: r(Math.max(0, login - iscsiadm - iscsidServiceMs)),
    iscsidServiceMs: r(iscsidServiceMs),
    logoutRttMs: r(Math.max(0, median(cycles.map((c) => c.logoutMs)) - iscsiadm)),
    lunScanMs: r(median(cycles.map((c) => c.scanMs))),
    udevDelayMs: r(udev),
    udevWorkers: linkAll >= n * udev ? 1 : 0,
    multipathMapDelayMs: r(Math.max(0, mapDelay)),
    multipathMapBuildMs: r(Math.min(Math.max(0, build), Math.max(0, mapDelay))),
    mapFlushMs: r(Math.max(0, median(cycles.map((c) => c.flushMs)) - (perCommandMs['multipath'] ?? trueMs))),
    deviceDeleteMs: r(median(cycles.map((c) => c.deleteMs))),
    loginRetryGapMs: r(Math.max(0, median(dead))),
    discoveryRttMs: r(Math.max(0, median(scenes.flatMap((s) => s.discoveryMs)) - iscsiadm)),
    refusedRetryMs: r(Math.max(0, (median(scenes.map((s) => s.refusedDiscoveryMs)) - iscsiadm) / 6)),
  };
}

const SCALED_KEYS = [
  'commandMs',
  'loginRttMs',
  'iscsidServiceMs',
  'logoutRttMs',
  'lunScanMs',
  'udevDelayMs',
  'multipathMapDelayMs',
  'multipathMapBuildMs',
  'mapFlushMs',
  'deviceDeleteMs',
  'loginRetryGapMs',
  'discoveryRttMs',
  'refusedRetryMs',
] as const;

/**
 * The guest's primitives divided as a group by one factor: how much slower the guest (QEMU/TCG)
 * started a process than this machine did in the same run (`true`, medians). Every primitive
 * keeps its share of the whole; counts (udev's workers) and configured timeouts (iscsid's
 * login_timeout × attempts: Debian's 15 s × 8, not measured) are not scaled.
 */
export function scalePrimitives(g: GuestPrimitives, factor: number): GuestPrimitives {
  const out: Record<string, unknown> = { ...g, perCommandMs: Object.fromEntries(Object.entries(g.perCommandMs).map(([k, v]) => [k, Math.round(v / factor)])) };
  for (const k of SCALED_KEYS) out[k] = Math.round(g[k] / factor);
  return out as unknown as GuestPrimitives;
}
