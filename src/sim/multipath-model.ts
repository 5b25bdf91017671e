/**
 * Device-mapper multipath on one simulated host: multipathd (running or not), its
 * `find_multipaths` policy, maps (`dm-N`, named by WWN as with `user_friendly_names no`) that
 * appear a modelled delay after a path's udev event, and their sysfs and /dev links:
 * `/sys/block/dm-N/dm/{name,uuid}`, `/sys/block/sdX/holders/dm-N`, `/dev/mapper/<wwn>`,
 * `/dev/disk/by-id/dm-uuid-mpath-<wwn>`.
 */
import type { ScsiDisk, SimComputeHost } from './compute-host.ts';
import { rel } from './vfs.ts';

/**
 * multipath.conf's `find_multipaths`: `no`/`greedy` build a map for every path; `yes`/`smart`
 * only once a second path with the same WWID appears or the WWID is in /etc/multipath/wwids;
 * `strict` only for WWIDs in that file.
 */
export type FindMultipaths = 'no' | 'yes' | 'greedy' | 'smart' | 'strict';

export interface DmMap {
  readonly index: number;
  readonly wwn: string;
  readonly name: string;
  readonly paths: ScsiDisk[];
}

export class MultipathModel {
  readonly #host: SimComputeHost;
  readonly maps = new Map<string, DmMap>();

  constructor(host: SimComputeHost) {
    this.#host = host;
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

  knownWwids(): Set<string> {
    const text = this.#host.vfs.exists('/etc/multipath/wwids') ? this.#host.vfs.read('/etc/multipath/wwids') : '';
    return new Set([...text.matchAll(/^\/([^/]+)\/$/gm)].map((m) => m[1] ?? ''));
  }

  /** `multipath -a WWID` */
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
    return this.#mapNever(wwn);
  }

  #mapNever(wwn: string): boolean {
    const h = this.#host;
    return h.world.faults.peek('map-never', { now: h.world.clock.now(), host: h.name, wwn }) !== undefined;
  }

  /** udev announced a path: multipathd (if running) builds or extends the map later. */
  pathAdded(d: ScsiDisk, now = false): void {
    const h = this.#host;
    if (!this.running()) return;
    const wwn = d.lun.wwn;
    if (this.#mapNever(wwn)) {
      h.event(`multipathd ${d.name}: no map for ${wwn} (fault map-never)`);
      return;
    }
    const policy = h.config.findMultipaths;
    const siblings = h.diskList().filter((o) => o.lun.wwn === wwn);
    const known = this.knownWwids().has(wwn);
    const allowed =
      this.maps.has(wwn) ||
      policy === 'no' ||
      policy === 'greedy' ||
      (policy === 'strict' && known) ||
      ((policy === 'yes' || policy === 'smart') && (known || siblings.length >= 2));
    if (!allowed) return;
    if (now) {
      this.addPath(d);
      return;
    }
    h.world.clock.setTimer(h.world.latency.multipathMapDelayMs, () => {
      if (!this.running() || this.#mapNever(wwn)) return;
      // With yes/smart the first path joins when the second one tips the balance.
      for (const s of h.diskList().filter((o) => o.lun.wwn === wwn && o.linked)) this.addPath(s);
    });
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
    if (map === undefined && this.#mapNever(d.lun.wwn)) {
      h.event(`multipath ${d.name}: map for ${d.lun.wwn} not created (fault map-never)`);
      return undefined;
    }
    if (map === undefined) {
      const used = new Set(this.mapList().map((m) => m.index));
      let index = 0;
      while (used.has(index)) index++;
      map = { index, wwn: d.lun.wwn, name: d.lun.wwn, paths: [] };
      this.maps.set(map.wwn, map);
      const m = map;
      const dir = `/sys/devices/virtual/block/dm-${index}`;
      v.attr(`${dir}/dm/name`, () => `${m.name}\n`);
      v.attr(`${dir}/dm/uuid`, () => `mpath-${m.wwn}\n`);
      v.attr(`${dir}/dm/suspended`, () => '0\n');
      v.attr(`${dir}/ro`, () => (m.paths.length > 0 && m.paths.every((p) => h.isReadOnly(p)) ? '1\n' : '0\n'));
      v.attr(`${dir}/size`, () => `${Math.floor(d.lun.sizeBytes / 512)}\n`);
      v.attr(`${dir}/dev`, () => `253:${index}\n`);
      v.mkdirp(`${dir}/slaves`);
      v.mkdirp(`${dir}/holders`);
      v.symlink(`/sys/block/dm-${index}`, rel(`/sys/block/dm-${index}`, dir));
      v.symlink(`/sys/class/block/dm-${index}`, rel(`/sys/class/block/dm-${index}`, dir));
      v.writeText(`/dev/dm-${index}`, '');
      for (const link of [`/dev/mapper/${m.name}`, `/dev/disk/by-id/dm-uuid-mpath-${m.wwn}`, `/dev/disk/by-id/dm-name-${m.name}`]) {
        v.symlink(link, rel(link, `/dev/dm-${index}`));
      }
      h.event(`multipathd map add dm-${index} ${m.wwn}`);
    }
    if (!map.paths.includes(d)) {
      map.paths.push(d);
      const dir = `/sys/devices/virtual/block/dm-${map.index}`;
      const blk = `${h.diskDeviceDir(d)}/block/${d.name}`;
      v.symlink(`${dir}/slaves/${d.name}`, rel(`${dir}/slaves/${d.name}`, blk));
      v.symlink(`${blk}/holders/dm-${map.index}`, rel(`${blk}/holders/dm-${map.index}`, dir));
      h.event(`multipathd path add ${d.name} to dm-${map.index}`);
    }
    return map;
  }

  /** A path went away (deleted, logged out) or `multipathd del path`. The map stays. */
  pathRemoved(d: ScsiDisk): void {
    const map = this.maps.get(d.lun.wwn);
    if (!map) return;
    const i = map.paths.indexOf(d);
    if (i < 0) return;
    map.paths.splice(i, 1);
    const h = this.#host;
    h.vfs.remove(`/sys/devices/virtual/block/dm-${map.index}/slaves/${d.name}`);
    h.vfs.remove(`${h.diskDeviceDir(d)}/block/${d.name}/holders/dm-${map.index}`);
    h.event(`multipathd path remove ${d.name} from dm-${map.index}`);
  }

  /** `multipath -f`: remove a map and its links. */
  flush(map: DmMap): void {
    for (const p of [...map.paths]) this.pathRemoved(p);
    const v = this.#host.vfs;
    v.remove(`/sys/devices/virtual/block/dm-${map.index}`);
    v.remove(`/sys/block/dm-${map.index}`);
    v.remove(`/sys/class/block/dm-${map.index}`);
    v.remove(`/dev/dm-${map.index}`);
    for (const link of [`/dev/mapper/${map.name}`, `/dev/disk/by-id/dm-uuid-mpath-${map.wwn}`, `/dev/disk/by-id/dm-name-${map.name}`]) v.remove(link);
    this.maps.delete(map.wwn);
    this.#host.event(`multipath map remove dm-${map.index} ${map.wwn}`);
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
