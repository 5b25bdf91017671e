/**
 * The reaper of one compute host: after every operation, and on start after recovery, it asks
 * the host's initiator to remove node records, sessions and devices that a cleanup could not (a
 * logout that hung, a disk that appeared after the connect gave up) for targets no mapping on
 * this host needs. A pass that leaves something (or a login iscsid may still complete) is
 * retried on the host's clock with growing pauses, in the background; a pass with nothing to do
 * runs no command. Passes never overlap: a request while one runs makes another run after it,
 * with a fresh view of the mappings.
 */
import { toHitchError } from '../errors.ts';
import type { ConnectionInfo } from '../ports/attach.ts';
import type { Clock } from '../ports/host.ts';
import type { HostVolumeConnector } from '../ports/host-connector.ts';
import { Trace } from '../trace/span.ts';

/**
 * Pauses between reap passes that left something behind (≈ 8 min in all): a hung iscsiadm or an
 * unreachable portal usually comes back within minutes; after that the next operation (or the
 * next start) tries again.
 */
export const REAP_RETRY_MS = [5_000, 15_000, 30_000, 60_000, 120_000, 240_000] as const;

export interface ReapRecord {
  readonly atMs: number;
  readonly reaped: readonly string[];
  readonly failures: readonly string[];
  readonly trace: Trace;
}

export interface ReaperOptions {
  readonly clock: Clock;
  readonly connector: HostVolumeConnector;
  /** The connections every mapping on this host needs, attached or in flight. */
  readonly needed: () => Promise<ConnectionInfo[]>;
  /** Keep a background pass until it settles (the manager's `drain()` waits for it). */
  readonly track: (p: Promise<void>) => Promise<void>;
}

export class Reaper {
  readonly #o: ReaperOptions;
  #wanted = false;
  #running = false;
  #adopt: ConnectionInfo[] = [];
  /** Aborted by `stop()`: a shutdown must not wait out minutes of retries. */
  readonly #stop = new AbortController();
  /** The last pass that did or tried something (for tests and inspection). */
  last: ReapRecord | null = null;

  constructor(opts: ReaperOptions) {
    this.#o = opts;
  }

  /** Connections a previous process made (crash recovery's journal): the next pass takes them over. */
  adopt(connections: readonly ConnectionInfo[]): void {
    this.#adopt.push(...connections);
  }

  /** Ask for a pass (see the note at the top). */
  request(): void {
    if (this.#stop.signal.aborted) return;
    this.#wanted = true;
    if (this.#running) return;
    this.#running = true;
    void this.#o.track(
      (async () => {
        try {
          while (this.#wanted) {
            this.#wanted = false;
            await this.#untilClean();
          }
        } finally {
          this.#running = false;
        }
      })(),
    );
  }

  /** A pass in progress finishes; no retry waits out its pause, no new pass starts. */
  stop(): void {
    this.#stop.abort();
  }

  async #untilClean(): Promise<void> {
    const { connector, clock } = this.#o;
    for (let attempt = 0; ; attempt++) {
      const trace = new Trace(clock);
      const adopt = this.#adopt.splice(0);
      let failures: readonly string[];
      let pending: readonly string[] = [];
      try {
        const r = await connector.reap(trace.root(), { keep: () => this.#o.needed(), adopt });
        failures = r.failures;
        pending = r.pending;
        if (r.reaped.length > 0 || r.failures.length > 0) this.last = { atMs: clock.now(), reaped: r.reaped, failures: r.failures, trace };
      } catch (e) {
        // Adopted targets are owned by the initiator now; only the pass itself failed.
        failures = [toHitchError(e).message];
        this.last = { atMs: clock.now(), reaped: [], failures, trace };
      }
      // A login iscsid may still complete is watched until its window has passed.
      if (failures.length === 0 && pending.length === 0) return;
      const pause = REAP_RETRY_MS[attempt];
      if (pause === undefined || this.#stop.signal.aborted) return;
      try {
        await clock.sleep(pause, this.#stop.signal);
      } catch {
        return; // stopped: the next start's reap picks up what is left, if recovery adopts it
      }
    }
  }
}
