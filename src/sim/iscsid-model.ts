/**
 * iscsid on one simulated host: the daemon that really logs in. `iscsiadm --login` only asks
 * it and waits for its answer; the login's retries run here, with the timeouts of the node
 * record as it was when the login was asked for (`node.conn[0].timeo.login_timeout` per attempt,
 * `node.session.initial_login_retry_max` attempts). So, as on a real host (open-iscsi 2.1.8,
 * measured in the storage host guest):
 *
 * - a login's outcome is not fixed when it starts: each attempt connects when the portal
 *   answers — TCP sends its SYN again 1, 3, 7, 15 … s into the attempt, so a portal whose
 *   packets stop being dropped mid-attempt is reached at the next SYN;
 * - killing the calling iscsiadm does not cancel the login: iscsid goes on, and a session can
 *   appear later that nobody asked for any more — even after its record was deleted;
 * - while a login is pending it is invisible (no session in sysfs or `iscsiadm -m session`),
 *   a second `--login` of the same record is refused at once (15, session exists) and a
 *   `--logout` finds nothing (21);
 * - iscsid is one process: logins wait for it in turn (`iscsidServiceMs` of its time each).
 */
import type { SimComputeHost, SimSession } from './compute-host.ts';
import { DaemonQueue } from './daemon-queue.ts';
import { setting, type NodeRecord } from './iscsi-node-db.ts';
import type { SimWorld } from './world.ts';

/** What iscsid answers iscsiadm: 0 logged in, else open-iscsi's error number. */
export interface LoginOutcome {
  readonly code: number;
  readonly session?: SimSession;
}

export interface PendingLogin {
  readonly target: string;
  readonly portal: string;
  readonly iface: string;
  /** Virtual time the login was asked for. */
  readonly since: number;
  /** Virtual time by which iscsid will have given up (every attempt timed out). */
  readonly until: number;
}

/** When TCP sends a connection's SYN, ms after the first (initial RTO 1 s, doubling). */
const SYN_AT = [0, 1_000, 3_000, 7_000, 15_000, 31_000, 63_000, 127_000];

function key(target: string, portal: string, iface: string): string {
  return `${target}|${portal}|${iface}`;
}

export class IscsidModel {
  readonly #host: SimComputeHost;
  readonly #world: SimWorld;
  readonly #pending = new Map<string, PendingLogin>();
  readonly #queue: DaemonQueue;
  /** SYNs sent per portal that found it unreachable (what a packet counter at the portal would see). */
  readonly #lostSyns = new Map<string, number>();

  constructor(host: SimComputeHost, world: SimWorld) {
    this.#host = host;
    this.#world = world;
    this.#queue = new DaemonQueue(world.clock, 1);
  }

  /** Logins iscsid is still working on (the caller may be long gone). */
  pending(): PendingLogin[] {
    return [...this.#pending.values()];
  }

  /** Connection attempts to `portal` that went unanswered so far. */
  lostSyns(portal: string): number {
    return this.#lostSyns.get(portal) ?? 0;
  }

  isPending(target: string, portal: string, iface = 'default'): boolean {
    return this.#pending.has(key(target, portal, iface));
  }

  /**
   * Log in with `rec` (its settings as of now). The returned promise is iscsid's answer; a
   * caller that stops waiting for it does not stop the login.
   */
  login(rec: NodeRecord): Promise<LoginOutcome> {
    const k = key(rec.target, rec.portal, rec.iface);
    if (this.#pending.has(k)) return Promise.resolve({ code: 15 });
    const { perAttemptMs, attempts } = this.#timeouts(rec);
    const gap = this.#world.latency.loginRetryGapMs;
    const now = this.#world.clock.now();
    const p: PendingLogin = { target: rec.target, portal: rec.portal, iface: rec.iface, since: now, until: now + attempts * (perAttemptMs + gap) };
    this.#pending.set(k, p);
    this.#host.event(`iscsid login ${rec.portal} ${rec.target} (${attempts} × ${perAttemptMs / 1000} s)`);
    return this.#run(rec, perAttemptMs, attempts).finally(() => this.#pending.delete(k));
  }

  /** Per-attempt timeout and attempts: the portal's declared timeout (one attempt), else the record's. */
  #timeouts(rec: NodeRecord): { perAttemptMs: number; attempts: number } {
    const declared = this.#world.network.get(rec.portal).loginTimeoutMs;
    if (declared !== undefined) return { perAttemptMs: declared, attempts: 1 };
    const t = Number(setting(rec, 'node.conn[0].timeo.login_timeout'));
    const n = Number(setting(rec, 'node.session.initial_login_retry_max'));
    return { perAttemptMs: (Number.isFinite(t) && t > 0 ? t : 30) * 1000, attempts: Number.isInteger(n) && n > 0 ? n : 1 };
  }

  async #run(rec: NodeRecord, perAttemptMs: number, attempts: number): Promise<LoginOutcome> {
    const { clock, latency } = this.#world;
    await this.#queue.serve(latency.iscsidServiceMs);
    for (let a = 0; a < attempts; a++) {
      if (a > 0) await clock.sleep(latency.loginRetryGapMs);
      const r = await this.#attempt(rec, perAttemptMs);
      if (r.code !== 8) return r;
    }
    this.#host.event(`iscsid login ${rec.portal} ${rec.target} gave up`);
    // A refused connection ends the same way as a dropped one (measured: exit 8, "connection timed out").
    return { code: 8 };
  }

  /** One attempt: connect (SYN until the portal answers or the attempt times out), then log in. */
  async #attempt(rec: NodeRecord, perAttemptMs: number): Promise<LoginOutcome> {
    const { clock, network } = this.#world;
    const start = clock.now();
    let connected = false;
    for (const at of SYN_AT) {
      if (at >= perAttemptMs) break;
      const wait = start + at - clock.now();
      if (wait > 0) await clock.sleep(wait);
      const kind = this.#world.portalServed(rec.portal) || network.get(rec.portal).kind === 'refusing' ? network.get(rec.portal).kind : 'dead';
      // Refused: iscsid reconnects until the attempt's time is up (measured: a closed port costs
      // what a dropped one does).
      if (kind === 'healthy' || kind === 'slow') {
        connected = true;
        break;
      }
      this.#lostSyns.set(rec.portal, this.lostSyns(rec.portal) + 1);
    }
    if (!connected) {
      const rest = start + perAttemptMs - clock.now();
      if (rest > 0) await clock.sleep(rest);
      return { code: 8 };
    }
    return this.#loginPdus(rec);
  }

  async #loginPdus(rec: NodeRecord): Promise<LoginOutcome> {
    const { world } = { world: this.#world };
    const host = this.#host;
    const portal = world.network.get(rec.portal);
    await world.clock.sleep(world.latency.loginRttMs + 2 * portal.latencyMs);
    const fctx = { now: world.clock.now(), host: host.name, portal: rec.portal, target: rec.target };
    const found = world.findTarget(rec.target, rec.portal);
    if (found === undefined || world.faults.hit('target-not-found', fctx)) return { code: 19 };
    const acl = found.target.acls.get(host.initiator);
    if (acl === undefined || world.faults.hit('login-auth-failure', fctx)) return { code: 24 };
    if (acl.chapUser !== undefined) {
      const chap =
        setting(rec, 'node.session.auth.authmethod') === 'CHAP' &&
        setting(rec, 'node.session.auth.username') === acl.chapUser &&
        setting(rec, 'node.session.auth.password') === acl.chapPassword;
      if (!chap) return { code: 24 };
    }
    if (host.findSession(rec.target, rec.portal)) return { code: 15 };
    const user = setting(rec, 'node.session.auth.username');
    const s = host.addSession(rec.target, rec.portal, found, rec.iface, user === '<empty>' ? undefined : user, Number(setting(rec, 'node.session.timeo.replacement_timeout')));
    if (setting(rec, 'node.session.scan') !== 'manual') {
      await world.clock.sleep(world.latency.lunScanMs);
      host.scan(s);
    }
    return { code: 0, session: s };
  }
}
