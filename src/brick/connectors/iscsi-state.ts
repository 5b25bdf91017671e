/**
 * Per-host state the iSCSI connector shares between concurrent attaches and detaches: the
 * per-target locks, which LUNs of which target are in use (claims), the background work
 * of attaches that returned before every portal finished, and the targets this connector may
 * have left something of on the host (owned) — what the reaper may clean up.
 */
import { NodeRecordCache } from '../tools/node-record.ts';
import { KeyedLocks } from '../locks.ts';
import { targetKey, type IscsiTarget } from '../connection-info.ts';

export class IscsiHostState {
  readonly locks = new KeyedLocks();
  #newest: number | null = null;
  /** Logins started and not yet over (`startLogin`). */
  #loginsInFlight = 0;
  /** The nodes directory seen, iscsid.conf's defaults (`tools/node-record.ts`). */
  readonly nodeRecords = new NodeRecordCache();
  /** targetKey → LUN → number of attachments using it on this host. */
  readonly #claims = new Map<string, Map<number, number>>();
  /** volume key → background work of the last connect of that volume. */
  readonly #background = new Map<string, { abort: AbortController; done: Promise<void> }>();
  /**
   * targetKey → target, for every target this connector created a node record for or logged in
   * to and has not yet seen fully cleaned up (logout and node delete both succeeded). Changed
   * only under the target's lock, so a connect and a cleanup of one target cannot disagree.
   */
  readonly #owned = new Map<string, Pick<IscsiTarget, 'portal' | 'iqn'>>();
  /**
   * The owned targets no attachment here claims: what the reaper looks at. Kept beside the two
   * maps so a pass after every operation costs what there is to reap, not what is attached (a
   * host with hundreds of volumes attached owns hundreds of targets).
   */
  readonly #unclaimedOwned = new Set<string>();
  /** targetKey → how many volumes' background work involves it (see `backgroundOn`). */
  readonly #backgroundTargets = new Map<string, number>();
  /**
   * Multipath maps over an owned target's disks that a cleanup could not flush (`multipath -f`
   * failed or hung). The cleanup goes on without them — paths deleted, session logged out — so
   * nothing in sysfs leads back to them from the target any more; the reaper flushes these by name.
   */
  readonly #unflushedMaps = new Map<string, Set<string>>();
  /**
   * targetKey → the number of the session this connector last found logged in to that target,
   * so the next lookup reads that one session instead of walking all of them. A hint only: it
   * is checked in sysfs before use, and forgotten on logout.
   */
  readonly #sessions = new Map<string, number>();

  /**
   * targetKey → until when (host clock) a login this connector gave up on may still produce a
   * session. iscsid, not iscsiadm, runs a login's retries: killing the calling iscsiadm (an
   * aborted background portal, a detach) does not cancel them, and the session can appear up to
   * retry_max × login_timeout later, owned by nobody, even after the node record is gone. The
   * target stays owned until then, and the reaper looks for that session.
   */
  readonly #pendingLogins = new Map<string, number>();

  loginPending(t: Pick<IscsiTarget, 'portal' | 'iqn'>, untilMs: number): void {
    this.own(t);
    const k = targetKey(t);
    this.#pendingLogins.set(k, Math.max(untilMs, this.#pendingLogins.get(k) ?? 0));
  }

  /** Until when a login to `t` may still complete, or null. */
  pendingLoginUntil(t: Pick<IscsiTarget, 'portal' | 'iqn'>): number | null {
    return this.#pendingLogins.get(targetKey(t)) ?? null;
  }

  /** The window of a pending login to `t` is over. */
  loginSettled(t: Pick<IscsiTarget, 'portal' | 'iqn'>): void {
    this.#pendingLogins.delete(targetKey(t));
  }

  rememberSession(t: Pick<IscsiTarget, 'portal' | 'iqn'>, sid: number): void {
    this.#sessions.set(targetKey(t), sid);
    if (this.#newest === null || sid > this.#newest) this.#newest = sid;
  }

  /**
   * A login is about to start: the numbers its session will likely get, likeliest first, and
   * `end` to call once the login is over. The kernel numbers sessions in login order and never
   * reuses a number, so the k-th of the logins in flight together (a volume's portals) most
   * likely gets the k-th number after the newest this connector has seen — its neighbour when
   * another login overtook it — unless somebody else logged in meanwhile. A guess, checked
   * before use; none while no session is known.
   */
  startLogin(): { readonly guesses: readonly number[]; end(): void } {
    const n = this.#newest;
    const k = this.#loginsInFlight++;
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      this.#loginsInFlight--;
    };
    if (n === null) return { guesses: [], end };
    const mine = n + 1 + k;
    return { guesses: k === 0 ? [mine, mine + 1] : [mine, mine - 1], end };
  }

  forgetSession(t: Pick<IscsiTarget, 'portal' | 'iqn'>): void {
    this.#sessions.delete(targetKey(t));
  }

  sessionHint(t: Pick<IscsiTarget, 'portal' | 'iqn'>): number | null {
    return this.#sessions.get(targetKey(t)) ?? null;
  }

  own(t: Pick<IscsiTarget, 'portal' | 'iqn'>): void {
    const k = targetKey(t);
    this.#owned.set(k, { portal: t.portal, iqn: t.iqn });
    if (!this.#claims.has(k)) this.#unclaimedOwned.add(k);
  }

  /**
   * Done with `t` — unless a map over its disks is still to be flushed, or a login to it may still
   * complete: then the reaper is not.
   */
  disown(t: Pick<IscsiTarget, 'portal' | 'iqn'>): void {
    const k = targetKey(t);
    if (this.#unflushedMaps.has(k) || this.#pendingLogins.has(k)) return;
    this.#owned.delete(k);
    this.#unclaimedOwned.delete(k);
  }

  /** A cleanup of `t` could not flush map `name`: the target stays owned, the reaper flushes it. */
  unflushedMap(t: Pick<IscsiTarget, 'portal' | 'iqn'>, name: string): void {
    this.own(t);
    const k = targetKey(t);
    this.#unflushedMaps.set(k, (this.#unflushedMaps.get(k) ?? new Set()).add(name));
  }

  unflushedMaps(t: Pick<IscsiTarget, 'portal' | 'iqn'>): string[] {
    return [...(this.#unflushedMaps.get(targetKey(t)) ?? [])];
  }

  /** The reaper flushed (or found gone) every map remembered for `t`. */
  mapsFlushed(t: Pick<IscsiTarget, 'portal' | 'iqn'>): void {
    this.#unflushedMaps.delete(targetKey(t));
  }

  owned(): Array<Pick<IscsiTarget, 'portal' | 'iqn'>> {
    return [...this.#owned.values()];
  }

  /** Owned targets that nothing here needs right now: no claim, no background work. */
  reapable(): Array<Pick<IscsiTarget, 'portal' | 'iqn'>> {
    const out: Array<Pick<IscsiTarget, 'portal' | 'iqn'>> = [];
    for (const k of this.#unclaimedOwned) {
      const t = this.#owned.get(k);
      if (t && !this.#backgroundTargets.has(k)) out.push(t);
    }
    return out;
  }

  /** Is any LUN of this target claimed by an attachment (attached or connecting) on this host? */
  targetClaimed(t: Pick<IscsiTarget, 'portal' | 'iqn'>): boolean {
    return this.#claims.has(targetKey(t));
  }

  /** Does a connect of some volume on this target still have portals working in the background? */
  backgroundOn(t: Pick<IscsiTarget, 'portal' | 'iqn'>): boolean {
    return this.#backgroundTargets.has(targetKey(t));
  }

  claim(targets: readonly IscsiTarget[]): void {
    for (const t of targets) {
      const k = targetKey(t);
      const luns = this.#claims.get(k) ?? new Map<number, number>();
      luns.set(t.lun, (luns.get(t.lun) ?? 0) + 1);
      this.#claims.set(k, luns);
      this.#unclaimedOwned.delete(k);
    }
  }

  unclaim(targets: readonly IscsiTarget[]): void {
    for (const t of targets) {
      const k = targetKey(t);
      const luns = this.#claims.get(k);
      const n = luns?.get(t.lun) ?? 0;
      if (!luns) continue;
      if (n <= 1) luns.delete(t.lun);
      else luns.set(t.lun, n - 1);
      if (luns.size === 0) {
        this.#claims.delete(k);
        if (this.#owned.has(k)) this.#unclaimedOwned.add(k);
      }
    }
  }

  /** Attachments using `lun` of this target (including the caller's own). */
  claimsOnLun(t: IscsiTarget): number {
    return this.#claims.get(targetKey(t))?.get(t.lun) ?? 0;
  }

  /** Is any LUN other than `t.lun` of this target claimed on this host? */
  otherLunsClaimed(t: IscsiTarget): boolean {
    const luns = this.#claims.get(targetKey(t));
    return luns !== undefined && [...luns.keys()].some((l) => l !== t.lun);
  }

  setBackground(volumeKey: string, abort: AbortController, done: Promise<void>): void {
    const previous = this.#background.get(volumeKey);
    if (previous) this.#countBackground(volumeKey, -1);
    this.#background.set(volumeKey, { abort, done });
    this.#countBackground(volumeKey, +1);
    void done.finally(() => {
      if (this.#background.get(volumeKey)?.done !== done) return;
      this.#background.delete(volumeKey);
      this.#countBackground(volumeKey, -1);
    });
  }

  /** A volume key names its targets as `portal,iqn,lun` separated by spaces (`volumeKey`). */
  #countBackground(volumeKey: string, by: 1 | -1): void {
    for (const part of new Set(volumeKey.split(' ').map((p) => p.slice(0, p.lastIndexOf(','))))) {
      const n = (this.#backgroundTargets.get(part) ?? 0) + by;
      if (n > 0) this.#backgroundTargets.set(part, n);
      else this.#backgroundTargets.delete(part);
    }
  }

  /** Stop a volume's background portal work and wait until it has cleaned up after itself. */
  async stopBackground(volumeKey: string): Promise<void> {
    const bg = this.#background.get(volumeKey);
    if (!bg) return;
    bg.abort.abort(new Error('volume is being disconnected'));
    await bg.done;
  }

  /** Resolves when every attach's background work has settled. */
  async settled(): Promise<void> {
    while (this.#background.size > 0) await Promise.all([...this.#background.values()].map((b) => b.done));
  }
}

export function volumeKey(targets: readonly IscsiTarget[]): string {
  return targets.map((t) => `${targetKey(t)},${t.lun}`).join(' ');
}
