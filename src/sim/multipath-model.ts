/**
 * Device-mapper multipath on one simulated host: multipathd (running or not), its
 * `find_multipaths` policy, the paths it knows (`pathvec`: in a map, or orphans), and maps
 * (`dm-N`, named by WWN as with `user_friendly_names no`) with their sysfs and, once udev has
 * handled the map, their /dev links (`/dev/mapper/<wwn>`, `/dev/disk/by-id/dm-uuid-mpath-<wwn>`,
 * `dm-name-<wwn>`, and the LUN's `scsi-<wwn>`/`wwn-0x…`, which then lead to the map).
 *
 * As multipath-tools 0.9.4 behaves on Debian 12 (the fidelity suite, src/sim/fidelity/):
 * - multipathd builds a map from udev's event for a path its policy allows, `multipathMapDelayMs`
 *   after the event; it records the WWID in /etc/multipath/wwids when it makes a map;
 * - `multipathd add path` answers `ok` whether or not a map comes of it (find_multipaths `yes`
 *   with one path, `strict` with the WWID unknown: `ok` and an orphan path), `fail` for a disk
 *   udev has not handled yet (no ID_SERIAL: the path stays an orphan until udev's event), and
 *   `blacklisted` for a blacklisted WWID; its answer comes once the map exists;
 * - builds take multipathd's own time, one at a time (`multipathMapBuildMs`);
 * - a path whose event multipathd reads while its WWN's map is new (udev not yet done with the
 *   map) waits for udev's event on the map, then joins by a reload ("delaying path addition
 *   until <wwid> is fully initialized"): the map can thus be built from any portal's disk first,
 *   and another disk joins 0.4–1.1 s later in the guest (the `multipathd-event-late` fault makes
 *   multipathd read one portal's disks late);
 * - once a session's disk is a path of a map, the session's recovery timeout is 5 s
 *   (fast_io_fail_tmo), not iscsid.conf's 120;
 * - a map whose last path goes is removed by multipathd (unless something holds it open);
 * - `multipath -f` refuses a map that is open ("map in use").
 */
import type { ScsiDisk, SimComputeHost } from './compute-host.ts';
import { DaemonQueue } from './daemon-queue.ts';
import { LINK_PRIORITY } from './udev-model.ts';
import { rel } from './vfs.ts';

/**
 * multipath.conf's `find_multipaths`: `no`/`greedy` build a map for every path; `yes`/`smart`
 * only once a second path with the same WWID appears or the WWID is in /etc/multipath/wwids;
 * `strict` only for WWIDs in that file.
 */
export type FindMultipaths = 'no' | 'yes' | 'greedy' | 'smart' | 'strict';

/** What multipath-tools sets a session's recovery timeout to once its disk is a map's path (fast_io_fail_tmo). */
export const MULTIPATH_RECOVERY_TMO_S = 5;

export interface DmMap {
  readonly index: number;
  readonly wwn: string;
  readonly name: string;
  readonly paths: ScsiDisk[];
  /** The map's table size: its first path's capacity, until `multipathd resize map` reloads it. */
  capacityBytes: number;
}

/** A path multipathd knows, with its priority (-1 until udev has told it about the disk). */
export interface KnownPath {
  readonly disk: ScsiDisk;
  prio: number;
}

export type AddPathAnswer = 'ok' | 'fail' | 'blacklisted';

export class MultipathModel {
  readonly #host: SimComputeHost;
  readonly maps = new Map<string, DmMap>();
  /** multipathd's pathvec: every path it knows, in the order it learnt of them. */
  readonly #pathvec = new Map<string, KnownPath>();
  readonly #daemon: DaemonQueue;
  /** Maps udev has not handled yet (by WWN), with the paths whose addition waits for that. */
  readonly #initializing = new Map<string, ScsiDisk[]>();
  /** Disks whose udev event multipathd has read. */
  readonly #seen = new WeakSet<ScsiDisk>();

  constructor(host: SimComputeHost) {
    this.#host = host;
    this.#daemon = new DaemonQueue(host.world.clock, 1);
  }

  /** multipathd is configured to run and no `multipathd-down` fault holds now. */
  running(): boolean {
    const h = this.#host;
    if (!h.config.multipathd) return false;
    return h.world.faults.peek('multipathd-down', { now: h.world.clock.now(), host: h.name }) === undefined;
  }

  mapList(): DmMap[] {
    return [...this.maps.values()].sort((a, b) => a.index - b.index);
  }

  mapByDm(dm: string): DmMap | undefined {
    return this.mapList().find((m) => `dm-${m.index}` === dm);
  }

  /** Paths multipathd knows that are in no map. */
  orphans(): KnownPath[] {
    return [...this.#pathvec.values()].filter((p) => !this.maps.get(p.disk.lun.wwn)?.paths.includes(p.disk));
  }

  /** Every path multipathd knows, in its order. */
  pathvec(): KnownPath[] {
    return [...this.#pathvec.values()];
  }

  knownWwids(): Set<string> {
    const text = this.#host.vfs.exists('/etc/multipath/wwids') ? this.#host.vfs.read('/etc/multipath/wwids') : '';
    return new Set([...text.matchAll(/^\/([^/]+)\/$/gm)].map((m) => m[1] ?? ''));
  }

  /** `multipath -a WWID` (and multipathd, when it makes a map): false when the WWID was there already. */
  addWwid(wwn: string): boolean {
    if (this.knownWwids().has(wwn)) return false;
    const v = this.#host.vfs;
    v.writeText('/etc/multipath/wwids', `${v.read('/etc/multipath/wwids')}/${wwn}/\n`);
    return true;
  }

  /**
   * Whether `wwn` can never get a map (the `map-never` fault). On a real host that is a WWID
   * blacklisted in multipath.conf: `multipath -a` refuses it and `multipathd add path` answers
   * `blacklisted` (multipath-tools 0.9.4, Debian 12 guest).
   */
  refuses(wwn: string): boolean {
    const h = this.#host;
    return h.world.faults.peek('map-never', { now: h.world.clock.now(), host: h.name, wwn }) !== undefined;
  }

  /** Whether the policy lets `d` be a path of a map now (a map of its WWID, the policy, the wwids file, a sibling path). */
  #allowed(d: ScsiDisk): boolean {
    const h = this.#host;
    const wwn = d.lun.wwn;
    if (this.maps.has(wwn)) return true;
    const policy = h.config.findMultipaths;
    if (policy === 'no' || policy === 'greedy') return true;
    if (this.knownWwids().has(wwn)) return true;
    if (policy === 'strict') return false;
    return h.diskList().filter((o) => o.lun.wwn === wwn && o.linked).length >= 2;
  }

  /** udev handled a new disk: multipathd (if running) learns of it and builds or extends its map later. */
  pathAdded(d: ScsiDisk, now = false): void {
    const h = this.#host;
    if (!this.running()) return;
    const wwn = d.lun.wwn;
    if (this.refuses(wwn)) {
      h.event(`multipathd ${d.name}: ${wwn} blacklisted, no map`);
      return;
    }
    const known = this.#pathvec.get(d.name);
    if (known && known.disk === d) known.prio = 1;
    // multipathd reading this disk's event late (busy, or the events' order): until then it does
    // not know the disk, and a map built meanwhile from another disk does not hold it.
    const late = h.world.faults.peek('multipathd-event-late', { now: h.world.clock.now(), host: h.name, portal: d.session.portal, wwn });
    if (!late) this.#seen.add(d);
    // A late disk is judged when multipathd reads it (with find_multipaths yes, alone, it waits
    // there for a sibling as an orphan).
    if (!late && !this.#allowed(d)) return;
    if (now && !late) {
      this.addPath(d);
      return;
    }
    const { multipathMapDelayMs, multipathMapBuildMs } = h.world.latency;
    h.world.clock.setTimer(Math.max(0, multipathMapDelayMs - multipathMapBuildMs) + (late?.delayMs ?? 0), () => {
      this.#seen.add(d);
      if (late && (h.disks.get(d.name) !== d || !this.#allowed(d))) return;
      void this.#daemon.serve(multipathMapBuildMs).then(() => {
        if (!this.running() || this.refuses(wwn) || h.disks.get(d.name) !== d) return;
        if (this.#delayWhileNew(d)) return;
        // With yes/smart the first path joins when the second one tips the balance.
        for (const s of h.diskList().filter((o) => o.lun.wwn === wwn && o.linked && this.#seen.has(o))) this.addPath(s);
      });
    });
  }

  /** `multipathd add path /dev/sdX`: multipathd's answer once it is done (see the module comment). */
  async cliAddPath(d: ScsiDisk): Promise<AddPathAnswer> {
    const h = this.#host;
    if (this.refuses(d.lun.wwn)) return 'blacklisted';
    if (!d.linked) {
      // No udev database entry (ID_SERIAL) yet: refused, and kept as an orphan.
      if (!this.#pathvec.has(d.name)) this.#pathvec.set(d.name, { disk: d, prio: -1 });
      h.event(`multipathd ${d.name}: no ID_SERIAL yet, orphan path`);
      return 'fail';
    }
    if (!this.#allowed(d)) {
      if (!this.#pathvec.has(d.name)) this.#pathvec.set(d.name, { disk: d, prio: 1 });
      return 'ok';
    }
    await this.#daemon.serve(h.world.latency.multipathMapBuildMs);
    // The guest: `sdb: add path (operator)`, then the same delay, and the answer `ok`.
    if (this.#delayWhileNew(d)) return 'ok';
    if (h.disks.get(d.name) === d) this.addPath(d);
    return 'ok';
  }

  /**
   * Whether `d`'s map is new (udev not done with it yet): then `d`, when not in it, waits for
   * the map's reload on udev's event ("delaying path addition until … is fully initialized").
   */
  #delayWhileNew(d: ScsiDisk): boolean {
    const wwn = d.lun.wwn;
    const waiting = this.#initializing.get(wwn);
    const map = this.maps.get(wwn);
    if (!waiting || !map) return false;
    if (!map.paths.includes(d)) {
      if (!waiting.includes(d)) waiting.push(d);
      this.#host.event(`multipathd ${d.name}: delaying path addition until ${wwn} is fully initialized`);
    }
    return true;
  }

  /**
   * Add a path to its WWN's map, creating the map if needed (`multipathd add path`, plain
   * `multipath`, or multipathd reacting to udev). Under a `map-never` fault no map is created
   * by any route: returns undefined.
   */
  addPath(d: ScsiDisk): DmMap | undefined {
    const h = this.#host;
    const v = h.vfs;
    let map = this.maps.get(d.lun.wwn);
    if (map === undefined && this.refuses(d.lun.wwn)) {
      h.event(`multipath ${d.name}: map for ${d.lun.wwn} not created (fault map-never)`);
      return undefined;
    }
    if (map === undefined) {
      const used = new Set(this.mapList().map((m) => m.index));
      let index = 0;
      while (used.has(index)) index++;
      map = { index, wwn: d.lun.wwn, name: d.lun.wwn, paths: [], capacityBytes: d.capacityBytes };
      this.maps.set(map.wwn, map);
      const m = map;
      const dir = `/sys/devices/virtual/block/dm-${index}`;
      v.attr(`${dir}/dm/name`, () => `${m.name}\n`);
      v.attr(`${dir}/dm/uuid`, () => `mpath-${m.wwn}\n`);
      v.attr(`${dir}/dm/suspended`, () => '0\n');
      v.attr(`${dir}/ro`, () => (m.paths.length > 0 && m.paths.every((p) => h.isReadOnly(p)) ? '1\n' : '0\n'));
      v.attr(`${dir}/size`, () => `${Math.floor(m.capacityBytes / 512)}\n`);
      v.attr(`${dir}/dev`, () => `254:${index}\n`);
      v.mkdirp(`${dir}/slaves`);
      v.mkdirp(`${dir}/holders`);
      v.symlink(`/sys/block/dm-${index}`, rel(`/sys/block/dm-${index}`, dir));
      v.symlink(`/sys/class/block/dm-${index}`, rel(`/sys/class/block/dm-${index}`, dir));
      v.writeText(`/dev/dm-${index}`, '');
      this.addWwid(m.wwn);
      h.event(`multipathd map add dm-${index} ${m.wwn}`);
      this.#initializing.set(m.wwn, []);
      // udev's rules for the new dm device: its links (and the LUN's by-id names) lead to the map.
      h.udev.event(() => {
        const waiting = this.#initializing.get(m.wwn) ?? [];
        this.#initializing.delete(m.wwn);
        if (this.maps.get(m.wwn) !== m) return;
        for (const link of [`/dev/mapper/${m.name}`, `/dev/disk/by-id/dm-uuid-mpath-${m.wwn}`, `/dev/disk/by-id/dm-name-${m.name}`, `/dev/disk/by-id/scsi-${m.wwn}`, `/dev/disk/by-id/wwn-0x${m.wwn.slice(1)}`]) {
          h.udev.claim(link, `dm-${m.index}`, LINK_PRIORITY.map);
        }
        // The delayed paths join now, by a reload (multipathd's "performing delayed actions").
        if (waiting.length > 0) {
          void this.#daemon.serve(h.world.latency.multipathMapBuildMs).then(() => {
            if (!this.running() || this.maps.get(m.wwn) !== m) return;
            for (const w of waiting) if (h.disks.get(w.name) === w) this.addPath(w);
          });
        }
      });
    }
    if (!map.paths.includes(d)) {
      map.paths.push(d);
      this.#pathvec.set(d.name, { disk: d, prio: 1 });
      d.session.recoveryTmo = MULTIPATH_RECOVERY_TMO_S;
      const dir = `/sys/devices/virtual/block/dm-${map.index}`;
      const blk = `${h.diskDeviceDir(d)}/block/${d.name}`;
      v.symlink(`${dir}/slaves/${d.name}`, rel(`${dir}/slaves/${d.name}`, blk));
      v.symlink(`${blk}/holders/dm-${map.index}`, rel(`${blk}/holders/dm-${map.index}`, dir));
      h.event(`multipathd path add ${d.name} to dm-${map.index}`);
    }
    return map;
  }

  /** A path went away (deleted, logged out) or `multipathd del path`; multipathd removes a map left without paths. */
  pathRemoved(d: ScsiDisk): void {
    if (this.#pathvec.get(d.name)?.disk === d) this.#pathvec.delete(d.name);
    const map = this.maps.get(d.lun.wwn);
    if (!map || !this.#detach(map, d)) return;
    if (map.paths.length === 0 && this.running() && this.#host.openCount(`dm-${map.index}`) === 0) this.flush(map);
  }

  #detach(map: DmMap, d: ScsiDisk): boolean {
    const i = map.paths.indexOf(d);
    if (i < 0) return false;
    map.paths.splice(i, 1);
    const h = this.#host;
    h.vfs.remove(`/sys/devices/virtual/block/dm-${map.index}/slaves/${d.name}`);
    h.vfs.remove(`${h.diskDeviceDir(d)}/block/${d.name}/holders/dm-${map.index}`);
    h.event(`multipathd path remove ${d.name} from dm-${map.index}`);
    return true;
  }

  /** `multipath -f`: remove a map and its links; multipathd keeps its paths, as orphans. */
  flush(map: DmMap): void {
    for (const p of [...map.paths]) this.#detach(map, p);
    if (this.maps.get(map.wwn) !== map) return;
    this.#initializing.delete(map.wwn);
    const v = this.#host.vfs;
    v.remove(`/sys/devices/virtual/block/dm-${map.index}`);
    v.remove(`/sys/block/dm-${map.index}`);
    v.remove(`/sys/class/block/dm-${map.index}`);
    v.remove(`/dev/dm-${map.index}`);
    this.maps.delete(map.wwn);
    this.#host.udev.releaseAll(`dm-${map.index}`);
    this.#host.event(`multipath map remove dm-${map.index} ${map.wwn}`);
  }

  /**
   * `multipathd resize map NAME`: reload the map at its paths' capacity. multipath-tools 0.9.4
   * answers `fail` for a map it does not know or whose paths disagree on the size (one not yet
   * rescanned), and `ok` otherwise — also when the size did not change.
   */
  resize(ref: string): 'ok' | 'fail' {
    const map = this.resolve(ref);
    if (!map || map.paths.length === 0) return 'fail';
    const sizes = new Set(map.paths.map((p) => p.capacityBytes));
    if (sizes.size !== 1) return 'fail';
    const size = map.paths[0]?.capacityBytes ?? map.capacityBytes;
    if (size !== map.capacityBytes) {
      this.#host.event(`multipathd resize dm-${map.index} ${map.capacityBytes} -> ${size}`);
      map.capacityBytes = size;
    }
    return 'ok';
  }

  /** Find a map by `dm-N`, `/dev/dm-N`, its name/WWN, `/dev/mapper/<name>`, or a path `sdX`. */
  resolve(ref: string): DmMap | undefined {
    const h = this.#host;
    let name = ref;
    if (ref.startsWith('/')) {
      if (!h.vfs.exists(ref)) return undefined;
      name = h.vfs.realpath(ref).split('/').pop() ?? ref;
    }
    const byDm = this.mapByDm(name);
    if (byDm) return byDm;
    const byName = this.mapList().find((m) => m.name === name || m.wwn === name);
    if (byName) return byName;
    return this.mapList().find((m) => m.paths.some((p) => p.name === name));
  }
}
