/**
 * NVMe over TCP through the host's kernel initiator (`nvme-tcp`, nvme-cli), as a protocol
 * connector. What it does differently from os-brick's `NVMeOFConnector`:
 *
 * - **All portals at once, probed first.** The kernel creates NVMe-oF controllers one at a time
 *   (`nvmf_dev_mutex` in drivers/nvme/host/fabrics.c is held across `nvmf_create_ctrl`, the TCP
 *   connect of the admin queue included), so an `nvme connect` to a portal that drops packets,
 *   if it takes the lock first, holds every other portal's connect for its whole timeout. So
 *   each portal is probed first (`Host.probeTcp`, all in parallel), and only a portal that
 *   answered gets its `nvme connect`, as it answers; a refused one fails at once. A portal that
 *   did not answer within `nvmeProbeMs` is left out of the return and watched: probed again in
 *   the background (1 s, doubling to 10 s — the kernel's `reconnect_delay` — for at most
 *   `nvmeLateJoinMs`, by default 600 s like the kernel's `ctrl_loss_tmo`), connected when it
 *   answers (the late controller joins the native multipath head), given up and logged
 *   otherwise; a detach (or a failed connect's cleanup) stops the watch. On a host without the
 *   probe (`capabilities.tcpProbe` false) every portal gets its `nvme connect` at once, as before.
 *   The connect returns as soon as one controller is live and the namespace's device exists.
 *   Slower portals finish in the background: a late controller joins the kernel's native
 *   multipath head by itself; a failed one leaves nothing (the kernel removes a controller whose
 *   first connect fails) and is logged.
 * - **Events, not polls.** The namespace's device is waited for on udev's link
 *   (`/dev/disk/by-id/nvme-uuid.<uuid>`, `nvme-eui.<nguid>`, `nvme-<model>_<serial>_<nsid>`),
 *   not looked for in a loop.
 * - **A lock per subsystem** (its NQN), not per host. Two volumes on one subsystem share its
 *   controllers: a connect of the second finds them live and runs no command; `nvme connect`s
 *   still in flight for a portal are joined, never doubled.
 * - **Disconnect keeps what others use.** The namespace's buffers are flushed; the controllers go
 *   (`nvme disconnect -d nvmeX`, each controller on the volume's portals, live or reconnecting)
 *   only when no other volume of the subsystem is attached through this Brick, and the
 *   subsystem's sysfs directory is waited gone. A failed connect runs the same cleanup.
 *   Which namespaces are attached is kept on the host too (`/etc/nvme/hitch-claims.json`,
 *   rewritten atomically), so it outlives a restart of Hitch: a detach after a restart still
 *   keeps the controllers another attached namespace of the subsystem uses.
 *
 * With native multipath (`nvme_core.multipath=Y`, Debian's default) the device is the head
 * (`/dev/nvmeNnM`) over every controller; without it, each controller has its own namespace
 * device, and brick returns the first live one — or the dm-multipath map multipathd built over
 * them (seen on the real kernel: `dm-uuid-mpath-uuid.<uuid>`).
 *
 * The host NQN is the connection's `host_nqn`, else the host's `/etc/nvme/hostnqn`. No secret
 * goes on any command line (NVMe in-band authentication is not supported here).
 */
import { HitchError, isHitchError } from '../../errors.ts';
import type { NvmeDeviceInfo, NvmeofConnectionInfo } from '../../ports/attach.ts';
import type { AttachedVolume, HostExtendOutcome, ReapOutcome } from '../../ports/host-connector.ts';
import type { TcpProbeOutcome } from '../../ports/host.ts';
import type { Span } from '../../ports/span.ts';
import type { ConnectorDeps, NvmeTimeouts, ProtocolConnector } from '../connector.ts';
import { devicePath } from '../device-info.ts';
import { KeyedLocks } from '../locks.ts';
import { emitLog } from '../log.ts';
import { namespaceLabel, nvmeVolume, type NvmePortal, type NvmeVolume } from '../nvmeof-connection-info.ts';
import { readIfPresent, realpathIfPresent } from '../tools/files.ts';
import { failureCollector, run, type BrickContext } from '../tools/run.ts';
import { controllerNamespaces, controllerServes, findSubsystem, holders, isReadOnly, namespaceAttrs, namespaceMatches, SUBSYSTEM_CLASS, type NvmeSubsystem } from './nvme-sysfs.ts';

export type { NvmeTimeouts } from '../connector.ts';

/** The namespaces attached through brick, per subsystem NQN: `{ "<nqn>": ["<uuid>", …] }`. */
export const NVME_CLAIMS_FILE = '/etc/nvme/hitch-claims.json';

/**
 * `nvmeProbeMs` 3 s: nvme-tcp's own connect gives a silent portal about that long (a SYN and one
 * retry), so any portal the kernel would have connected to answers a probe within it.
 * `nvmeLateJoinMs` 600 s: the kernel's default `ctrl_loss_tmo`, how long it would itself keep
 * reconnecting a controller that lost its portal.
 */
export const DEFAULT_NVME_TIMEOUTS: NvmeTimeouts = { nvmeConnectMs: 30_000, nvmeDeviceMs: 15_000, nvmeGoneMs: 10_000, nvmeProbeMs: 3_000, nvmeLateJoinMs: 600_000 };

/** The first pause of a silent portal's watch, doubled after each probe up to `WATCH_MAX_GAP_MS`. */
const WATCH_FIRST_GAP_MS = 1_000;
/** The kernel's default `reconnect_delay` (10 s): a watch probes no more often than it would reconnect. */
const WATCH_MAX_GAP_MS = 10_000;

interface PortalResult {
  readonly portal: NvmePortal;
  readonly ok: boolean;
  /** What the kernel said (nvme-cli's stderr), or the probe, for the error and the log. */
  readonly detail: string;
}

/** A silent portal probed again in the background until it answers, the limit, or a detach. */
interface Watch {
  readonly ac: AbortController;
  readonly done: Promise<void>;
}

const portalName = (p: NvmePortal): string => `${p.address}:${p.port}`;

export class NvmeTcpConnector implements ProtocolConnector<NvmeofConnectionInfo> {
  readonly #deps: ConnectorDeps;
  readonly #timeouts: NvmeTimeouts;
  readonly #locks = new KeyedLocks();
  /** `nqn portal` → the `nvme connect` in flight for it (joined, never started twice). */
  readonly #inflight = new Map<string, Promise<PortalResult>>();
  /** `nqn portal` → the probes of a portal not yet handed to its `nvme connect`. */
  readonly #watches = new Map<string, Watch>();
  /** First probes not yet answered (bounded by `nvmeProbeMs`): `settled` waits for them. */
  readonly #firstProbes = new Set<Promise<PortalResult>>();
  /** Per subsystem NQN: the namespaces attached (or attaching) through this connector. */
  readonly #claims = new Map<string, Map<string, number>>();
  /** Subsystems this connector made controllers for, with the portals: what `reap` may remove. */
  readonly #own = new Map<string, NvmeVolume>();
  /** One writer of the claims file at a time (it holds every subsystem). */
  readonly #fileLock = new KeyedLocks();

  constructor(deps: ConnectorDeps, timeouts: Partial<NvmeTimeouts> = {}) {
    this.#deps = deps;
    this.#timeouts = { ...DEFAULT_NVME_TIMEOUTS, ...timeouts };
  }

  #ctx(span: Span): BrickContext {
    return { host: this.#deps.host, span, ...(this.#deps.logger ? { logger: this.#deps.logger } : {}) };
  }

  #claim(v: NvmeVolume, delta: 1 | -1): void {
    const label = namespaceLabel(v.namespace);
    const m = this.#claims.get(v.nqn) ?? new Map<string, number>();
    const n = (m.get(label) ?? 0) + delta;
    if (n > 0) m.set(label, n);
    else m.delete(label);
    if (m.size > 0) this.#claims.set(v.nqn, m);
    else this.#claims.delete(v.nqn);
  }

  /** The claims file as it is (`{}` when missing or unreadable). */
  async #readClaims(ctx: BrickContext): Promise<Record<string, string[]>> {
    const text = await readIfPresent(ctx, NVME_CLAIMS_FILE);
    if (text === null) return {};
    try {
      const o: unknown = JSON.parse(text);
      if (o === null || typeof o !== 'object' || Array.isArray(o)) return {};
      const out: Record<string, string[]> = {};
      for (const [k, v] of Object.entries(o)) if (Array.isArray(v)) out[k] = v.filter((x): x is string => typeof x === 'string');
      return out;
    } catch {
      return {};
    }
  }

  /** Add or remove a namespace's claim in the claims file (where the host writes files atomically). */
  async #persistClaim(ctx: BrickContext, v: NvmeVolume, add: boolean): Promise<void> {
    if (!this.#deps.host.capabilities.atomicWrite) return;
    const label = namespaceLabel(v.namespace);
    await this.#fileLock.with(['claims'], async () => {
      const all = await this.#readClaims(ctx);
      const mine = new Set(all[v.nqn] ?? []);
      if (add === mine.has(label)) return;
      if (add) mine.add(label);
      else mine.delete(label);
      if (mine.size > 0) all[v.nqn] = [...mine].sort();
      else delete all[v.nqn];
      await this.#deps.host.writeFileAtomic(NVME_CLAIMS_FILE, `${JSON.stringify(all, null, 1)}\n`, { mode: 0o600 });
    });
  }

  /** Other namespaces of the subsystem still attached (or attaching): here, or before a restart (the claims file). */
  async #othersInUse(ctx: BrickContext, v: NvmeVolume): Promise<string[]> {
    const label = namespaceLabel(v.namespace);
    const persisted = (await this.#readClaims(ctx))[v.nqn] ?? [];
    return [...new Set([...(this.#claims.get(v.nqn)?.keys() ?? []), ...persisted])].filter((l) => l !== label).sort();
  }

  async connect(info: NvmeofConnectionInfo, span: Span): Promise<AttachedVolume> {
    const v = nvmeVolume(info.data);
    const attrs = { target_nqn: v.nqn, namespace: namespaceLabel(v.namespace), portals: v.portals.map(portalName).join(',') };
    return span.run('connect_volume', attrs, async (s) => {
      const ctx = this.#ctx(s);
      const { host, logger } = this.#deps;
      const t0 = host.clock.now();
      const props = await this.#deps.props(s);
      const hostNqn = v.hostNqn ?? props.nqn;
      if (!hostNqn) throw new HitchError('HITCH_NVME_NO_HOST_NQN', { nqn: v.nqn });
      const native = props.nvme_native_multipath ?? false;
      emitLog(s, logger, 'info', `connect_volume: subsystem ${v.nqn} namespace ${namespaceLabel(v.namespace)} over ${v.portals.length} portal(s), native multipath ${native ? 'on' : 'off'}`);
      return this.#locks.with([v.nqn], async () => {
        this.#claim(v, 1);
        this.#own.set(v.nqn, v);
        try {
          const first = await this.#firstLive(ctx, v, hostNqn);
          if (!first.ok) {
            throw new HitchError('HITCH_NVME_CONNECT_FAILED', { nqn: v.nqn, hostNqn, detail: first.detail });
          }
          const device = await this.#findDevice(ctx, v, native);
          if (v.accessMode === 'rw' && (await isReadOnly(ctx, device.dev))) throw new HitchError('HITCH_DEVICE_READ_ONLY', { path: `/dev/${device.dev}` });
          const deviceInfo: NvmeDeviceInfo = { type: 'block', path: devicePath(`/dev/${device.dev}`), nvme_ns: namespaceLabel(v.namespace) };
          await this.#persistClaim(ctx, v, true);
          emitLog(s, logger, 'info', `connect_volume: return (${host.clock.now() - t0}ms) ${JSON.stringify(deviceInfo)}`);
          return { source: { kind: 'block', path: devicePath(device.link) }, deviceInfo };
        } catch (e) {
          emitLog(s, logger, 'error', `connect_volume failed: ${e instanceof Error ? e.message : String(e)}; cleaning up`);
          this.#claim(v, -1);
          await this.#persistClaim(ctx, v, false);
          const failures: string[] = [];
          await this.#release(ctx, v, failures);
          if (failures.length) emitLog(s, logger, 'warning', `cleanup after the failed connect of ${v.nqn} left: ${failures.join('; ')}`);
          throw e;
        }
      });
    });
  }

  /**
   * Connect every portal that has no controller yet, all at once; resolve when one controller
   * of the subsystem is live (ok) or every portal failed (not ok, with what each said).
   */
  async #firstLive(ctx: BrickContext, v: NvmeVolume, hostNqn: string): Promise<{ ok: boolean; detail: string }> {
    const subsys = await findSubsystem(ctx, v.nqn);
    const attempts: Promise<PortalResult>[] = v.portals.map((p) => {
      const existing = subsys?.controllers.find((c) => controllerServes(c, p));
      if (existing) {
        // live, or the kernel is already reconnecting it (ctrl_loss_tmo): never a second controller.
        return Promise.resolve({ portal: p, ok: existing.state === 'live', detail: `controller ${existing.name} is ${existing.state}` });
      }
      return this.#connectPortal(ctx, v, p, hostNqn);
    });
    return new Promise((resolve) => {
      let left = attempts.length;
      const failed: string[] = [];
      for (const a of attempts) {
        void a.then((r) => {
          left -= 1;
          if (r.ok) resolve({ ok: true, detail: '' });
          else failed.push(`${portalName(r.portal)}: ${r.detail}`);
          if (left === 0) resolve({ ok: false, detail: failed.join('; ') });
        });
      }
    });
  }

  /**
   * A portal's first answer: its `nvme connect` (joined if one is in flight), after a TCP probe
   * where the host has one — a refused portal fails, a silent one is watched in the background
   * and reported not live now. Never rejects.
   */
  async #connectPortal(ctx: BrickContext, v: NvmeVolume, p: NvmePortal, hostNqn: string): Promise<PortalResult> {
    const key = `${v.nqn} ${portalName(p)}`;
    const running = this.#inflight.get(key);
    if (running) return running;
    if (this.#watches.has(key)) return { portal: p, ok: false, detail: 'no TCP answer yet (probed again in the background)' };
    if (!this.#deps.host.capabilities.tcpProbe) return this.#nvmeConnect(ctx, v, p, hostNqn);
    const first = new Promise<PortalResult>((resolve) => this.#watch(ctx, v, p, hostNqn, resolve));
    this.#firstProbes.add(first);
    void first.then(() => this.#firstProbes.delete(first));
    return first;
  }

  /** One TCP probe of a portal, in a span of its own; a probe that could not run counts as `unreachable`. */
  async #probe(ctx: BrickContext, p: NvmePortal, timeoutMs: number, signal?: AbortSignal): Promise<TcpProbeOutcome> {
    return ctx.span.run('probe tcp', { portal: portalName(p), timeoutMs }, async (s) => {
      try {
        const r = await this.#deps.host.probeTcp(p.address, Number(p.port), { timeoutMs, ...(signal ? { signal } : {}) });
        s.set({ outcome: r.outcome, elapsedMs: r.elapsedMs });
        return r.outcome;
      } catch (e) {
        if (isHitchError(e, 'HITCH_ABORTED')) throw e;
        s.set({ outcome: 'unreachable', error: e instanceof Error ? e.message : String(e) });
        return 'unreachable';
      }
    });
  }

  /**
   * A portal's probes, registered (so a release stops them) from the first one on. The first
   * outcome answers `first`: open → `nvme connect` (its result); refused or unreachable → failed;
   * silent → not live now, and probed again with back-off until it answers (then `nvme connect`:
   * the late controller joins the subsystem), `nvmeLateJoinMs` passes (given up, logged) or the
   * volume's release stops it. At most one per subsystem and portal.
   */
  #watch(ctx: BrickContext, v: NvmeVolume, p: NvmePortal, hostNqn: string, first: (r: PortalResult) => void): void {
    const key = `${v.nqn} ${portalName(p)}`;
    const { host, logger } = this.#deps;
    const { nvmeProbeMs, nvmeLateJoinMs } = this.#timeouts;
    const ac = new AbortController();
    let answered = false;
    const answer = (r: PortalResult): void => {
      if (answered) return;
      answered = true;
      first(r);
    };
    /** Hand the portal to its `nvme connect` in the same turn: a caller sees the connect in flight, never a gap. */
    const connectNow = (): Promise<PortalResult> => {
      this.#watches.delete(key);
      return this.#nvmeConnect(ctx, v, p, hostNqn);
    };
    const done = (async (): Promise<void> => {
      try {
        const outcome = await this.#probe(ctx, p, nvmeProbeMs, ac.signal);
        if (outcome === 'open') return answer(await connectNow());
        if (outcome !== 'timeout') {
          const detail = `TCP connect ${outcome}`;
          emitLog(ctx.span, logger, 'warning', `nvme connect to ${portalName(p)} for ${v.nqn} skipped: ${detail}`);
          return answer({ portal: p, ok: false, detail });
        }
        emitLog(ctx.span, logger, 'warning', `nvme connect to ${portalName(p)} for ${v.nqn} deferred: no TCP answer within ${nvmeProbeMs} ms; probing it again in the background`);
        answer({ portal: p, ok: false, detail: `no TCP answer within ${nvmeProbeMs} ms` });
        const start = host.clock.now();
        let gap = WATCH_FIRST_GAP_MS;
        let probes = 1;
        for (let left = nvmeLateJoinMs; left > 0; left = nvmeLateJoinMs - (host.clock.now() - start)) {
          await host.clock.sleep(Math.min(gap, left), ac.signal);
          gap = Math.min(gap * 2, WATCH_MAX_GAP_MS);
          probes += 1;
          if ((await this.#probe(ctx, p, nvmeProbeMs, ac.signal)) !== 'open') continue;
          const r = await connectNow();
          emitLog(ctx.span, logger, r.ok ? 'info' : 'warning', `portal ${portalName(p)} of ${v.nqn} answered probe ${probes} after ${host.clock.now() - start} ms: ${r.ok ? 'connected, joining the subsystem late' : `nvme connect failed: ${r.detail}`}`);
          return;
        }
        emitLog(ctx.span, logger, 'warning', `portal ${portalName(p)} of ${v.nqn} given up: no TCP answer to ${probes} probes in ${nvmeLateJoinMs} ms`);
      } catch (e) {
        const released = isHitchError(e, 'HITCH_ABORTED');
        const detail = released ? 'no longer probed (its volume is released)' : `probing stopped: ${e instanceof Error ? e.message : String(e)}`;
        emitLog(ctx.span, logger, released ? 'info' : 'warning', `portal ${portalName(p)} of ${v.nqn}: ${detail}`);
        answer({ portal: p, ok: false, detail });
      } finally {
        if (this.#watches.get(key)?.ac === ac) this.#watches.delete(key);
        // Whatever happened, the connect waiting on this portal's first answer gets one.
        answer({ portal: p, ok: false, detail: 'probing ended without an answer' });
      }
    })();
    this.#watches.set(key, { ac, done });
  }

  /** One `nvme connect`, registered as in flight for its portal; never rejects. */
  #nvmeConnect(ctx: BrickContext, v: NvmeVolume, p: NvmePortal, hostNqn: string): Promise<PortalResult> {
    const key = `${v.nqn} ${portalName(p)}`;
    const { logger } = this.#deps;
    const attempt = (async (): Promise<PortalResult> => {
      try {
        const args = ['connect', '-t', p.transport, '-a', p.address, '-s', p.port, '-n', v.nqn, '-q', hostNqn];
        const r = await run(ctx, 'nvme', args, { okCodes: 'any', timeoutMs: this.#timeouts.nvmeConnectMs });
        // nvme-cli 2.3: exit 1 "already connected" when a live controller to this portal exists.
        if (r.code === 0 || /already connected/.test(r.stderr)) return { portal: p, ok: true, detail: '' };
        const detail = (r.stderr.trim().split('\n').pop() ?? '').slice(0, 300) || `exit ${r.code}`;
        emitLog(ctx.span, logger, 'warning', `nvme connect to ${portalName(p)} for ${v.nqn} failed: ${detail}`);
        return { portal: p, ok: false, detail };
      } catch (e) {
        const detail = isHitchError(e, 'HITCH_EXEC_TIMEOUT') ? `no answer within ${this.#timeouts.nvmeConnectMs} ms` : e instanceof Error ? e.message : String(e);
        emitLog(ctx.span, logger, 'warning', `nvme connect to ${portalName(p)} for ${v.nqn} failed: ${detail}`);
        return { portal: p, ok: false, detail };
      }
    })();
    this.#inflight.set(key, attempt);
    void attempt.then(() => this.#inflight.delete(key));
    return attempt;
  }

  /** udev's link for the namespace, named as the connection names it. */
  async #link(ctx: BrickContext, v: NvmeVolume, subsys: NvmeSubsystem | null): Promise<string> {
    const ns = v.namespace;
    if (ns.kind === 'uuid') return `/dev/disk/by-id/nvme-uuid.${ns.value}`;
    if (ns.kind === 'nguid') return `/dev/disk/by-id/nvme-eui.${ns.value}`;
    // udev: nvme-$attr{model}_$attr{serial}_<nsid>, whitespace replaced.
    const [model, serial] = subsys ? await ctx.host.readFiles([`${SUBSYSTEM_CLASS}/${subsys.name}/model`, `${SUBSYSTEM_CLASS}/${subsys.name}/serial`]) : [null, null];
    const clean = (s: string | null | undefined): string => (s ?? '').trim().replace(/\s/g, '_');
    return `/dev/disk/by-id/nvme-${clean(model)}_${clean(serial)}_${ns.value}`;
  }

  /** The namespace's device and the stable link the hypervisor gets. */
  async #findDevice(ctx: BrickContext, v: NvmeVolume, native: boolean): Promise<{ dev: string; link: string }> {
    const { host } = this.#deps;
    const timeoutMs = this.#timeouts.nvmeDeviceMs;
    const link = await this.#link(ctx, v, await findSubsystem(ctx, v.nqn));
    const appeared = await ctx.span.run('wait device', { path: link, timeoutMs }, () => host.waitForPath(link, { timeoutMs }));
    const subsys = await findSubsystem(ctx, v.nqn);
    if (!appeared || !subsys) throw new HitchError('HITCH_NVME_NAMESPACE_NOT_FOUND', { nqn: v.nqn, namespace: namespaceLabel(v.namespace), timeoutMs });
    if (native && subsys.heads.length > 0) {
      const attrs = await namespaceAttrs(ctx, subsys.heads);
      const head = subsys.heads.find((_, i) => attrs[i] && namespaceMatches(attrs[i], v.namespace));
      if (head) return { dev: head, link };
    }
    // One device per path: the first live controller's, or the map multipathd put over them.
    for (const c of subsys.controllers.filter((x) => x.state === 'live')) {
      const devs = await controllerNamespaces(ctx, c.name);
      const attrs = await namespaceAttrs(ctx, devs);
      const dev = devs.find((_, i) => attrs[i] && namespaceMatches(attrs[i], v.namespace));
      if (!dev) continue;
      const held = (await holders(ctx, dev)).find((h) => h.startsWith('dm-'));
      if (held) {
        const wwid = (await ctx.host.readFiles([`/sys/block/${dev}/wwid`]))[0]?.trim();
        return { dev: held, link: wwid ? `/dev/disk/by-id/dm-uuid-mpath-${wwid}` : `/dev/${held}` };
      }
      const real = await realpathIfPresent(ctx, link);
      return { dev, link: real === `/dev/${dev}` ? link : `/dev/${dev}` };
    }
    throw new HitchError('HITCH_NVME_NAMESPACE_NOT_FOUND', { nqn: v.nqn, namespace: namespaceLabel(v.namespace), timeoutMs });
  }

  /**
   * Refused: the new size of a namespace reaches the host through a subsystem rescan whose end
   * sysfs does not signal (os-brick waits blindly for it), and Hitch does not guess with sleeps.
   */
  async extend(info: NvmeofConnectionInfo, span: Span): Promise<HostExtendOutcome> {
    const v = nvmeVolume(info.data);
    span.event('extend_volume', { target_nqn: v.nqn, refused: 'nvmeof' });
    throw new HitchError('HITCH_VOLUME_EXTEND_FAILED', {
      volume: v.nqn,
      step: 'rescan',
      detail: 'this host does not grow NVMe/TCP namespaces while attached; detach the volume, extend it, and attach it again',
    });
  }

  async disconnect(info: NvmeofConnectionInfo, span: Span, opts: { readonly force: boolean }): Promise<void> {
    const v = nvmeVolume(info.data);
    await span.run('disconnect_volume', { target_nqn: v.nqn, namespace: namespaceLabel(v.namespace), force: opts.force }, async (s) => {
      const ctx = this.#ctx(s);
      const { host, logger } = this.#deps;
      const t0 = host.clock.now();
      await this.#locks.with([v.nqn], async () => {
        const failures: string[] = [];
        const attempt = failureCollector(failures);
        // The namespace's buffers first: a failed flush without force removes nothing.
        const dev = await realpathIfPresent(ctx, await this.#link(ctx, v, await findSubsystem(ctx, v.nqn)));
        if (dev) {
          const flushed = await attempt(`flush ${dev}`, () => run(ctx, 'blockdev', ['--flushbufs', dev], { timeoutMs: 60_000 }));
          if (!flushed && !opts.force) throw new HitchError('HITCH_DISCONNECT_FAILED', { count: failures.length, detail: failures.join('; ') });
        }
        this.#claim(v, -1);
        await this.#persistClaim(ctx, v, false);
        await this.#release(ctx, v, failures);
        if (failures.length && !opts.force) throw new HitchError('HITCH_DISCONNECT_FAILED', { count: failures.length, detail: failures.join('; ') });
        if (failures.length) emitLog(s, logger, 'warning', `disconnect_volume (forced) left: ${failures.join('; ')}`);
      });
      emitLog(s, logger, 'info', `disconnect_volume: return (${host.clock.now() - t0}ms)`);
    });
  }

  /**
   * Remove the subsystem's controllers on the volume's portals unless another volume of it is
   * attached here, then wait for the subsystem to leave sysfs. Under the subsystem's lock.
   */
  async #release(ctx: BrickContext, v: NvmeVolume, failures: string[]): Promise<void> {
    const { host, logger } = this.#deps;
    const others = await this.#othersInUse(ctx, v);
    if (others.length > 0) {
      emitLog(ctx.span, logger, 'info', `Keeping the controllers of ${v.nqn}: namespace(s) ${others.join(', ')} still attached`);
      return;
    }
    // A silent portal's watch stops (one in its `nvme connect` ends it first); a connect still
    // running for a portal may yet make a controller: let it finish (bounded by its timeout),
    // so nothing it makes outlives the cleanup.
    const watches = v.portals.flatMap((p) => this.#watches.get(`${v.nqn} ${portalName(p)}`) ?? []);
    for (const w of watches) w.ac.abort();
    await Promise.all(watches.map((w) => w.done));
    await Promise.all(v.portals.map((p) => this.#inflight.get(`${v.nqn} ${portalName(p)}`)));
    const subsys = await findSubsystem(ctx, v.nqn);
    if (!subsys) {
      this.#own.delete(v.nqn);
      return;
    }
    const attempt = failureCollector(failures);
    const mine = subsys.controllers.filter((c) => v.portals.some((p) => controllerServes(c, p)));
    await Promise.all(mine.map((c) => attempt(`nvme disconnect ${c.name}`, () => run(ctx, 'nvme', ['disconnect', '-d', c.name], { timeoutMs: 60_000 }))));
    if (mine.length === subsys.controllers.length) {
      const dir = `${SUBSYSTEM_CLASS}/${subsys.name}`;
      const gone = await ctx.span.run('wait subsystem gone', { path: dir }, () => host.waitForPath(dir, { timeoutMs: this.#timeouts.nvmeGoneMs, gone: true }));
      if (!gone) failures.push(`subsystem ${subsys.name} (${v.nqn}) still in sysfs after ${this.#timeouts.nvmeGoneMs} ms`);
    }
    if (failures.length === 0) this.#own.delete(v.nqn);
  }

  /** Subsystems this connector connected that no mapping needs and nothing here claims: their controllers go. */
  async reap(span: Span, opts: { readonly keep: () => Promise<readonly NvmeofConnectionInfo[]>; readonly adopt: readonly NvmeofConnectionInfo[] }): Promise<ReapOutcome> {
    for (const ci of opts.adopt) {
      try {
        const v = nvmeVolume(ci.data);
        this.#own.set(v.nqn, v);
      } catch {
        // a connection that does not read was never connected
      }
    }
    const candidates = [...this.#own.values()].filter((v) => !this.#claims.has(v.nqn));
    if (candidates.length === 0) return { reaped: [], failures: [], pending: [] };
    const keep = new Set<string>();
    for (const ci of await opts.keep()) {
      try {
        keep.add(nvmeVolume(ci.data).nqn);
      } catch {
        // unreadable: nothing of it is on the host
      }
    }
    const reaped: string[] = [];
    const failures: string[] = [];
    for (const v of candidates.filter((x) => !keep.has(x.nqn))) {
      await this.#locks.with([v.nqn], () =>
        span.run('reap nvme subsystem', { target_nqn: v.nqn }, async (s) => {
          if (this.#claims.has(v.nqn)) return;
          const before = failures.length;
          await this.#release(this.#ctx(s), v, failures);
          if (failures.length === before) reaped.push(v.nqn);
        }),
      );
    }
    return { reaped, failures, pending: [] };
  }

  /**
   * Every first probe and every `nvme connect` started has ended. A silent portal's watch is
   * not waited for (it may last `nvmeLateJoinMs`); a connect it starts once the portal answers is.
   */
  async settled(): Promise<void> {
    while (this.#inflight.size > 0 || this.#firstProbes.size > 0) await Promise.all([...this.#inflight.values(), ...this.#firstProbes]);
  }
}
