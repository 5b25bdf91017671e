/**
 * udev on one simulated host: the kernel's events (a disk added, a map made) wait for a worker,
 * each takes `udevDelayMs` to handle (the rules run, the database is written, the links
 * appear), `udevWorkers` of them at once (0: any number). Until udev has handled a disk, the
 * disk has no links and no entry in udev's database — which is what multipathd needs before it
 * can take the disk as a path (`multipathd add path` answers `fail` then).
 *
 * `hold()` and `release()` are `udevadm control --stop-exec-queue` / `--start-exec-queue`:
 * events wait, in order, until released (the fidelity suite uses it to catch the moment between
 * the kernel's disk and udev's).
 */
import { DaemonQueue } from './daemon-queue.ts';
import { rel, type Vfs } from './vfs.ts';
import type { SimWorld } from './world.ts';

/**
 * Priority of a device's claim on a /dev link: several devices may want the same name
 * (`/dev/disk/by-id/scsi-<WWN>` for each path of a LUN, and for its multipath map); the highest
 * priority wins, and among equals the device udev handled last — so with two paths and no map
 * the link leads to the second path, and once the map exists to the map (what Debian 12's rules
 * do: measured in the storage host guest).
 */
export const LINK_PRIORITY = { disk: 0, map: 10 } as const;

interface Claim {
  readonly dev: string;
  readonly priority: number;
  readonly seq: number;
}

export class UdevModel {
  readonly #world: SimWorld;
  readonly #vfs: Vfs;
  readonly #workers: DaemonQueue;
  #held = false;
  readonly #waiting: Array<() => void> = [];
  readonly #claims = new Map<string, Claim[]>();
  #seq = 0;

  constructor(world: SimWorld, vfs: Vfs) {
    this.#world = world;
    this.#vfs = vfs;
    this.#workers = new DaemonQueue(world.clock, world.latency.udevWorkers);
  }

  /** Device `dev` (`sdb`, `dm-0`) wants `/dev/…` link `link`. */
  claim(link: string, dev: string, priority: number): void {
    const list = (this.#claims.get(link) ?? []).filter((c) => c.dev !== dev);
    list.push({ dev, priority, seq: this.#seq++ });
    this.#claims.set(link, list);
    this.#settle(link);
  }

  /** Device `dev` went away: its claims go, and each link leads to the next claimant (or goes). */
  releaseAll(dev: string): void {
    for (const [link, list] of this.#claims) {
      if (!list.some((c) => c.dev === dev)) continue;
      this.#claims.set(link, list.filter((c) => c.dev !== dev));
      this.#settle(link);
    }
  }

  #settle(link: string): void {
    const list = this.#claims.get(link) ?? [];
    const owner = [...list].sort((a, b) => b.priority - a.priority || b.seq - a.seq)[0];
    const v = this.#vfs;
    if (owner === undefined) {
      this.#claims.delete(link);
      if (v.lstat(link) !== undefined) v.remove(link);
      return;
    }
    const target = rel(link, `/dev/${owner.dev}`);
    if (v.lstat(link)?.kind === 'link' && v.readlink(link) === target) return;
    if (v.lstat(link) !== undefined) v.remove(link);
    v.symlink(link, target);
  }

  /** An event: `handle` runs once a worker has spent `udevDelayMs` on it. */
  event(handle: () => void): void {
    const start = (): void => {
      void this.#workers.serve(this.#world.latency.udevDelayMs).then(handle);
    };
    if (this.#held) this.#waiting.push(start);
    else start();
  }

  /**
   * A change event for a block device closed after a write (the `watch` option Debian 12's
   * rules set on disks and dm maps: inotify's close-after-write). Its rules probe the device
   * (blkid): `open()` is called when a worker takes the event and its close once the worker is
   * done, so for `udevDelayMs` the device is open — a `multipath -f` then finds the map busy.
   */
  change(open: () => () => void): void {
    const start = (): void => {
      let close: (() => void) | undefined;
      void this.#workers
        .serve(this.#world.latency.udevDelayMs, () => {
          close = open();
        })
        .then(() => close?.());
    };
    if (this.#held) this.#waiting.push(start);
    else start();
  }

  /** `udevadm control --stop-exec-queue` */
  hold(): void {
    this.#held = true;
  }

  /** `udevadm control --start-exec-queue`: the events that waited go to the workers, in order. */
  release(): void {
    this.#held = false;
    for (const start of this.#waiting.splice(0)) start();
  }

  get held(): boolean {
    return this.#held;
  }
}
