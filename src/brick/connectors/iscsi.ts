/**
 * The iSCSI connector for the kernel initiator (open-iscsi + udev + device-mapper multipath).
 *
 * Where os-brick waits for every portal's login to finish (a dead portal costs iscsid's whole
 * ≈120 s login timeout) under one host-wide lock, Hitch logs in to all portals in parallel and
 * returns as soon as the volume is usable — the multipath map with every path whose portal
 * answered a TCP probe (bounded by `livePathsMs`), or the first path's disk — while portals that
 * did not answer go on in the background: they join the map when they log in, or clean up their
 * node record when they fail. Locks are per target.
 */
import type { BlockDeviceInfo } from '../../ports/attach.ts';
import type { Host } from '../../ports/host.ts';
import { HitchError, isHitchError, toHitchError } from '../../errors.ts';
import type { Span } from '../../trace/span.ts';
import { parseIscsiVolume, type IscsiVolume } from '../connection-info.ts';
import { emitLog, type BrickLogger } from '../log.ts';
import type { BrickContext } from '../tools/run.ts';
import { DEBIAN_NODES_DIR } from '../tools/node-record.ts';
import { cleanupPath, connectPath, type PathDevice, type PathTimeouts } from './iscsi-path.ts';
import { IscsiHostState, volumeKey } from './iscsi-state.ts';
import { finishAttach, flushLeftoverMaps, flushMapsOf, joinMap, mapNamesFor, prepareMap, type PreparedMap } from './iscsi-device.ts';
import { disconnectIscsiVolume, type DisconnectOptions } from './iscsi-disconnect.ts';
import { reapIscsiTargets, type ReapOptions, type ReapReport } from './iscsi-reap.ts';
import { probePortals, type PortalProbes } from './iscsi-probe.ts';

export type { DisconnectOptions } from './iscsi-disconnect.ts';
export type { ReapOptions, ReapReport, TargetRef } from './iscsi-reap.ts';

export interface IscsiTimeouts extends PathTimeouts {
  /** How long the multipath map may take to appear once forced, before the single-path fallback. */
  readonly multipathMs: number;
  /**
   * How long multipathd gets to build the map (or add a late path) by itself from udev's event,
   * once udev is done with the disk, before brick asks it with `multipathd add path`. On a real
   * host (Debian 12 under TCG) the map existed 0.25–0.9 s after udev's event.
   */
  readonly mapGraceMs: number;
  /**
   * How long a path that logged in after the attach returned may take to join the map once
   * multipathd was asked (`add path` answered `ok`). Background work: nobody waits for it but
   * `settled()`, and a disconnect aborts it. On a real host under load (Debian 12 under TCG on a
   * shared 2-core machine) multipathd added such a path 5–20 s after answering `ok`; a join given
   * up on after `multipathMs` (5 s) left the map on one path until multipathd caught up.
   */
  readonly joinMs: number;
  /**
   * Multipath with a TCP probe on the host: how long the return waits, once the map is usable,
   * for the paths of the other portals that answered the probe (live) to log in and be in the
   * map. Past it the connect returns with the paths the map has, and the rest join in the
   * background as a portal that did not answer always does. A live portal's path costs its
   * login, LUN scan, udev and multipathd's adding it — a second or two on a real host, 5–20 s
   * on the loaded storage host guest (which sets more) — so the bound is only met by a portal
   * that accepts TCP but whose login or disk hangs.
   */
  readonly livePathsMs: number;
}

export const DEFAULT_ISCSI_TIMEOUTS: IscsiTimeouts = {
  deviceMs: 15_000,
  scans: 3,
  deleteMs: 10_000,
  multipathMs: 5_000,
  mapGraceMs: 3_000,
  joinMs: 60_000,
  livePathsMs: 10_000,
};

export interface IscsiConnectorOptions {
  readonly host: Host;
  /** Use multipath (the connector property `multipath`, i.e. multipathd is running). */
  readonly multipath: boolean;
  /** Fail instead of falling back to a single path when no multipath map appears. */
  readonly enforceMultipath?: boolean;
  readonly logger?: BrickLogger;
  readonly timeouts?: Partial<IscsiTimeouts>;
  /**
   * open-iscsi's node record directory, where brick writes records itself (default Debian's
   * `/etc/iscsi/nodes`; RHEL and Fedora use `/var/lib/iscsi/nodes`). When it does not exist,
   * records are made with `iscsiadm -o new` / `-o update` instead.
   */
  readonly iscsiNodesDir?: string;
  /**
   * Write node records as files in open-iscsi's layout instead of `iscsiadm -o new/update`
   * (default true here, where the unit tests pin its sequences; `Brick` — what Hitch runs —
   * defaults to false). On a real host (Debian 12, open-iscsi 2.1.8) iscsid logs in from such a
   * record, but a record written while another portal's or volume's `iscsiadm --login` runs
   * breaks that login: iscsiadm walks every record and fails on the temporary file of the atomic
   * write ("iface iter could not stat …", "encountered iSCSI database failure", exit 6) after the
   * login itself succeeded. iscsiadm serializes its own writes.
   */
  readonly nodeRecordFiles?: boolean;
}

/** A promise and its resolve, for a wait whose end comes from elsewhere. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Resolves with the first fulfilled promise (and its index); rejects with every error when all reject. */
function firstFulfilled<T>(ps: readonly Promise<T>[]): Promise<{ value: T; index: number }> {
  return new Promise((resolve, reject) => {
    const errors: unknown[] = new Array<unknown>(ps.length);
    let pending = ps.length;
    ps.forEach((p, index) =>
      p.then(
        (value) => resolve({ value, index }),
        (e: unknown) => {
          errors[index] = e;
          if (--pending === 0) reject(errors);
        },
      ),
    );
  });
}

/** What each path ran into, without each one's next step: the error that sums them up gives one. */
function summarize(errors: readonly unknown[]): string {
  return errors.map((e) => (e instanceof HitchError ? e.summary : e instanceof Error ? e.message : String(e))).join('; ');
}

export class IscsiConnector {
  readonly #opts: IscsiConnectorOptions;
  readonly #timeouts: IscsiTimeouts;
  readonly #state = new IscsiHostState();

  constructor(opts: IscsiConnectorOptions) {
    this.#opts = opts;
    this.#timeouts = { ...DEFAULT_ISCSI_TIMEOUTS, ...opts.timeouts };
  }

  /** Resolves when every background portal of every attach has joined or cleaned up. */
  settled(): Promise<void> {
    return this.#state.settled();
  }

  /**
   * Connect the volume described by `connectionInfo` (the `data` dict, validated here before any
   * command runs) and return the block device to hand to the hypervisor.
   */
  async connectVolume(span: Span, connectionInfo: unknown): Promise<BlockDeviceInfo> {
    return this.connectValidated(span, parseIscsiVolume(connectionInfo));
  }

  /** `connectVolume` for a `connection_info` already validated by `parseIscsiVolume`. */
  async connectValidated(span: Span, ci: IscsiVolume): Promise<BlockDeviceInfo> {
    const multipath = this.#opts.multipath;
    const attrs = { volume_id: ci.volumeId, multipath, portals: ci.targets.map((t) => t.portal).join(',') };
    return span.run('connect_volume', attrs, (s) => this.#connect(s, ci, multipath));
  }

  async #connect(span: Span, ci: IscsiVolume, multipath: boolean): Promise<BlockDeviceInfo> {
    const { host, logger } = this.#opts;
    const ctx: BrickContext = { host, span, ...(logger ? { logger } : {}) };
    const t0 = host.clock.now();
    const secrets = ci.auth ? [ci.auth.password] : undefined;
    const key = volumeKey(ci.targets);
    if (multipath) emitLog(span, logger, 'info', 'Multipath discovery for iSCSI enabled');

    // A previous attach of the same volume may still have portals in flight; let them finish
    // their cleanup first rather than race them for the same node records.
    await this.#state.stopBackground(key);
    this.#state.claim(ci.targets);
    const abort = new AbortController();

    type Phase = 'connecting' | 'connected' | 'failed';
    let phase: Phase = 'connecting';
    const early: Array<{ p: PathDevice; i: number }> = [];
    let winner: PathDevice | null = null;
    let result: BlockDeviceInfo | null = null;
    // Per portal: its path is in the map (joined), or will not be (failed, or its join ended).
    const settledPath = ci.targets.map(() => deferred());
    // Multipath over several portals: which portals answer, while the logins run.
    const probes: PortalProbes | null =
      multipath && ci.targets.length > 1 && host.capabilities.tcpProbe ? probePortals(ctx, ci.targets.map((t) => t.portal), this.#timeouts.deviceMs) : null;

    /** What a path that connects after the attach has settled must do. */
    const adopt = async (p: PathDevice, i: number): Promise<void> => {
      if (phase === 'connecting') {
        early.push({ p, i });
        return;
      }
      try {
        await this.#settlePath(ctx, p, phase === 'connected' ? result : null, winner, abort.signal);
      } finally {
        settledPath[i]?.resolve();
      }
    };

    // Multipath: record the WWID as soon as the first disk appears, while udev works on it.
    let forced: Promise<PreparedMap | null> | undefined;
    // The first path to reach its LUN scan goes at once; the others scan once that disk's WWID
    // is recorded (or that scan is over), so udev judges every later path with the WWID known.
    let gate: Promise<void> | null = null;
    let openGate = (): void => undefined;
    const beforeScan = async (): Promise<() => void> => {
      if (!multipath) return () => undefined;
      if (gate === null) {
        gate = new Promise<void>((resolve) => (openGate = resolve));
        return () => openGate();
      }
      await gate;
      return () => undefined;
    };
    const onDisk = multipath
      ? (dev: string): void =>
          void (forced ??= prepareMap(ctx, dev)
            .catch(() => null)
            .finally(() => openGate()))
      : undefined;
    const pathOpts = {
      timeouts: this.#timeouts,
      nodesDir: this.#opts.iscsiNodesDir ?? DEBIAN_NODES_DIR,
      nodeRecordFiles: this.#opts.nodeRecordFiles ?? true,
      ...(onDisk ? { onDisk } : {}),
      beforeScan,
    };
    const tasks = ci.targets.map((t, i) =>
      connectPath(ctx, this.#state, t, ci.auth, pathOpts, abort.signal).then(
        async (p) => {
          await adopt(p, i);
          return p;
        },
        (e: unknown) => {
          settledPath[i]?.resolve();
          throw e;
        },
      ),
    );
    const background = Promise.allSettled(tasks).then(() => undefined);
    this.#state.setBackground(key, abort, background);

    try {
      let first: { value: PathDevice; index: number };
      try {
        first = await firstFulfilled(tasks);
      } catch (errors) {
        const list = errors as unknown[];
        const allLogin = list.every((e) => isHitchError(e) && e.code.startsWith('HITCH_ISCSI_'));
        const detail = summarize(list);
        throw allLogin
          ? new HitchError('HITCH_ISCSI_LOGIN_FAILED', { target: [...new Set(ci.targets.map((t) => t.iqn))].join(', '), detail })
          : list.length === 1 && isHitchError(list[0])
            ? list[0]
            : new HitchError('HITCH_DEVICE_NOT_FOUND', {
                timeoutMs: this.#timeouts.deviceMs,
                // Each path's own link (or its error), not each path's whole message again.
                paths: list.map((e) => (isHitchError(e, 'HITCH_DEVICE_NOT_FOUND') ? String(e.details['paths']) : e instanceof Error ? e.message : String(e))).join('; '),
              });
      }
      winner = first.value;
      const device = await finishAttach(ctx, ci, winner, {
        multipath,
        enforce: this.#opts.enforceMultipath ?? false,
        timeouts: this.#timeouts,
        ...(forced ? { forced } : {}),
      });
      result = device;
      phase = 'connected';
      // Paths that came up while we were finishing: join them to the map (or drop them, single
      // path). The winner too: the map found by its WWN need not hold the winner's disk yet.
      // multipathd may have built it from another portal's disk whose udev event it read first,
      // and then it adds the winner only once udev has handled the new map ("delaying path
      // addition until … is fully initialized", 0.4–1.1 s later in the guest).
      const pending = early.splice(0);
      const joins = pending.map((e) => this.#settlePath(ctx, e.p, device, winner, abort.signal).finally(() => settledPath[e.i]?.resolve()));
      this.#state.setBackground(key, abort, Promise.allSettled([background, ...joins]).then(() => undefined));
      // The volume is usable. The winner's path and those of portals that answered the probe by
      // now are live: they belong in the map the caller gets (bounded). The others are not waited for.
      const winnerIndex = first.index;
      if (device.multipath_id) {
        const live = ci.targets.flatMap((t, i) => (i === winnerIndex || probes?.isOpen(t.portal) === true ? [i] : []));
        probes?.stop();
        const silent = probes ? ci.targets.filter((_, i) => !live.includes(i)).map((t) => t.portal) : [];
        if (silent.length > 0) emitLog(span, logger, 'info', `iSCSI portal(s) ${silent.join(', ')} did not answer a TCP probe: not waiting for their paths`);
        await this.#awaitLivePaths(ctx, live.map((i) => ci.targets[i]?.portal ?? ''), live.map((i) => settledPath[i]?.promise ?? Promise.resolve()), abort.signal);
      }
      const ms = host.clock.now() - t0;
      emitLog(span, logger, 'info', `connect_volume: return (${ms}ms) ${JSON.stringify(device)}`, secrets);
      span.set({ path: device.path, scsi_wwn: device.scsi_wwn, elapsedMs: ms });
      return device;
    } catch (e) {
      phase = 'failed';
      abort.abort(new Error('connect failed'));
      const failure = toHitchError(e);
      emitLog(span, logger, 'error', `connect_volume failed: ${failure.message}; cleaning up`, secrets);
      // Cleanup: every path that did connect, plus (through their own catch) the aborted ones.
      const done = early.splice(0).map((e) => e.p);
      if (winner && !done.includes(winner)) done.push(winner);
      await Promise.allSettled(tasks);
      // A map being forced must be there (or not) before the cleanup looks for maps to flush.
      await forced;
      const failures = await this.#cleanupConnected(ctx, done);
      this.#state.unclaim(ci.targets);
      if (failures.length) span.set({ cleanupFailures: failures.join('; ') });
      throw failure;
    } finally {
      probes?.stop();
    }
  }

  /**
   * Wait until the live portals' paths are in the map (or have failed), for `livePathsMs` at
   * most; then the rest join in the background. The paths' own joins do the waiting (udev's
   * event, `multipathd add path` after the grace): this only awaits them.
   */
  async #awaitLivePaths(ctx: BrickContext, portals: readonly string[], paths: readonly Promise<void>[], signal: AbortSignal): Promise<void> {
    const limitMs = this.#timeouts.livePathsMs;
    await ctx.span.run('wait live paths', { portals: portals.join(','), timeoutMs: limitMs }, async (span) => {
      const stop = new AbortController();
      const bound = ctx.host.clock.sleep(limitMs, AbortSignal.any([stop.signal, signal])).then(
        () => false,
        () => false,
      );
      const settled = portals.map(() => false);
      const all = Promise.all(paths.map((p, i) => p.then(() => void (settled[i] = true)))).then(() => true);
      const done = await Promise.race([all, bound]);
      stop.abort();
      await bound;
      span.set({ allSettled: done });
      if (!done) {
        const late = portals.filter((_, i) => !settled[i]);
        emitLog(span, ctx.logger, 'warning', `Live portal(s) ${late.join(', ')}: not in the map within ${limitMs} ms; returning the map as it is, the rest join in the background`);
      }
    });
  }

  /**
   * A path that connected after the attach settled: join the map. With multipath in use a
   * connected path is never torn down as surplus — even when the attach fell back to one path
   * (the volume's disconnect removes every path); only a single-path connector drops the rest.
   */
  async #settlePath(ctx: BrickContext, p: PathDevice, device: BlockDeviceInfo | null, winner: PathDevice | null, signal: AbortSignal): Promise<void> {
    if (device?.multipath_id) {
      // The winner was in the map as a rule: then nothing to say about it.
      await joinMap(ctx, p, device, this.#timeouts, signal, { quietIfThere: p === winner }).catch(() => false);
      return;
    }
    if (p === winner) return;
    if (device !== null && this.#opts.multipath) {
      emitLog(ctx.span, ctx.logger, 'info', `Keeping path /dev/${p.dev} (${p.target.portal}): multipath is in use, the volume's disconnect removes it`);
      return;
    }
    // Single path (or failed attach): this path is surplus.
    await cleanupPath(ctx, this.#state, p.target, p.dev, this.#timeouts, { loggedIn: true });
  }

  async #cleanupConnected(ctx: BrickContext, paths: readonly PathDevice[]): Promise<string[]> {
    const names = await mapNamesFor(ctx, paths.map((p) => p.dev));
    const failures = await flushMapsOf(ctx, paths.map((p) => p.dev));
    for (const r of await Promise.all(paths.map((p) => cleanupPath(ctx, this.#state, p.target, p.dev, this.#timeouts, { loggedIn: true })))) {
      failures.push(...r);
    }
    failures.push(...(await flushLeftoverMaps(ctx, names, failures)));
    return failures;
  }

  /**
   * Disconnect the volume: flush, remove the multipath map and every path's disk, then log out
   * of the sessions that carry no other volume. With `ignoreErrors` problems are reported in the
   * trace only; otherwise they are collected and thrown together (`HITCH_DISCONNECT_FAILED`).
   */
  async disconnectVolume(span: Span, connectionInfo: unknown, opts: DisconnectOptions = {}): Promise<void> {
    return this.disconnectValidated(span, parseIscsiVolume(connectionInfo), opts);
  }

  /**
   * Clean up what this connector left on the host of targets no attachment needs (see
   * `iscsi-reap.ts`). Runs no command at all when it owns nothing unneeded.
   */
  async reap(span: Span, opts: ReapOptions): Promise<ReapReport> {
    const { host, logger } = this.#opts;
    return reapIscsiTargets({ host, span, ...(logger ? { logger } : {}) }, this.#state, this.#timeouts, opts);
  }

  async disconnectValidated(span: Span, ci: IscsiVolume, opts: DisconnectOptions = {}): Promise<void> {
    await span.run('disconnect_volume', { volume_id: ci.volumeId, force: opts.force ?? false }, async (s) => {
      const { host, logger } = this.#opts;
      const ctx: BrickContext = { host, span: s, ...(logger ? { logger } : {}) };
      const t0 = host.clock.now();
      await this.#state.stopBackground(volumeKey(ci.targets));
      await disconnectIscsiVolume(ctx, this.#state, ci, this.#timeouts, opts);
      emitLog(s, logger, 'info', `disconnect_volume: return (${host.clock.now() - t0}ms)`);
    });
  }
}
