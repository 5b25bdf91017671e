/**
 * The tgtd daemon behind the `tgt` backend: found running (someone else's; used, never stopped)
 * or started here (and stopped by `stop()`), always on explicit portals — tgtd's default is
 * every address on port 3260, and Hitch serves volumes only where it was told to.
 *
 * `tgtd` daemonizes at once but answers on its control socket a moment later, so start waits
 * (bounded) for `tgtadm --op show --mode sys` to succeed. Stopping follows Debian's init script:
 * offline, delete every target (tgtd refuses to exit while it has any), delete the system.
 */
import { HitchError } from '../../errors.ts';
import { Tgtadm, TGTD_NOT_RUNNING } from './tgtadm.ts';

export interface TgtDaemonOptions {
  readonly tgtadm: Tgtadm;
  /** `ip:port` portals to serve on; at least one. */
  readonly portals: readonly string[];
  /** How long a started tgtd may take to answer. Default 10 s. */
  readonly startTimeoutMs?: number;
}

export class TgtDaemon {
  readonly #tgtadm: Tgtadm;
  readonly #portals: readonly string[];
  readonly #startTimeoutMs: number;
  #started = false;

  constructor(opts: TgtDaemonOptions) {
    if (opts.portals.length === 0) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'tgt needs at least one portal' });
    this.#tgtadm = opts.tgtadm;
    this.#portals = opts.portals;
    this.#startTimeoutMs = opts.startTimeoutMs ?? 10_000;
  }

  /** Whether this object started the running tgtd (and so will stop it). */
  get startedHere(): boolean {
    return this.#started;
  }

  /**
   * Make sure a tgtd answers and serves every configured portal, starting one when none answers
   * and `start` allows it. With `start: false` a missing tgtd is `HITCH_INVALID_ARGUMENT`, naming
   * the control port and the setting that would start one.
   */
  async ensure(opts: { start: boolean }): Promise<{ started: boolean }> {
    const host = this.#tgtadm.host;
    if (!(await this.#tgtadm.ping())) {
      if (!opts.start) {
        throw new HitchError('HITCH_INVALID_ARGUMENT', {
          reason: `no tgtd answers on control port ${this.#tgtadm.controlPort}; start it, or let Hitch start it (tgtStart: true)`,
        });
      }
      const args = [...(this.#tgtadm.controlPort ? ['-C', String(this.#tgtadm.controlPort)] : []), '--iscsi', `portal=${this.#portals[0]}`];
      await host.exec('tgtd', args, { timeoutMs: 10_000 });
      this.#started = true;
      const deadline = host.clock.now() + this.#startTimeoutMs;
      let pause = 20;
      while (!(await this.#tgtadm.ping())) {
        if (host.clock.now() >= deadline) {
          throw new HitchError('HITCH_EXEC_TIMEOUT', { timeoutMs: this.#startTimeoutMs, command: `tgtd ${args.join(' ')} (waiting for its control port)` });
        }
        await host.clock.sleep(pause);
        pause = Math.min(pause * 2, 500);
      }
    }
    const have = new Set(await this.#tgtadm.portals());
    for (const p of this.#portals) {
      if (!have.has(p)) await this.#tgtadm.must(['--op', 'new', '--mode', 'portal', '--param', `portal=${p}`], { tolerate: /already exists/ });
    }
    return { started: this.#started };
  }

  /** Stop tgtd if this object started it; a tgtd found running is left alone. */
  async stop(): Promise<void> {
    if (!this.#started) return;
    const t = this.#tgtadm;
    const off = await t.run(['--op', 'update', '--mode', 'sys', '--name', 'State', '-v', 'offline']);
    if (off.code === TGTD_NOT_RUNNING) {
      this.#started = false;
      return;
    }
    for (const target of await t.targets()) {
      await t.must(['--op', 'delete', '--mode', 'target', '--tid', String(target.tid), '--force'], { tolerate: /can't find/ });
    }
    for (const user of await t.accounts()) await t.must(['--op', 'delete', '--mode', 'account', '--user', user], { tolerate: /can't find/ });
    await t.must(['--op', 'delete', '--mode', 'system']);
    // tgtd exits after answering; wait (bounded) until its control port is gone.
    const host = t.host;
    const deadline = host.clock.now() + 5_000;
    let pause = 20;
    while ((await t.ping()) && host.clock.now() < deadline) {
      await host.clock.sleep(pause);
      pause = Math.min(pause * 2, 250);
    }
    this.#started = false;
  }

  /** Take a portal down or bring it back (fault injection for tests and drills). */
  async setPortal(portal: string, up: boolean): Promise<void> {
    const op = up ? 'new' : 'delete';
    await this.#tgtadm.must(['--op', op, '--mode', 'portal', '--param', `portal=${portal}`], { tolerate: up ? /already exists/ : /can't find|does not exist|invalid request/ });
  }
}
