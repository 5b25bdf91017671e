/**
 * The `tgt` backend: real iSCSI targets served by tgtd, the way Cinder's LVM driver with the
 * tgt helper does it, with a sparse file instead of a logical volume.
 *
 * - create: a sparse file `volume-<id>.img` under the LUN directory (`truncate --size`),
 *   a target `iqn.2010-10.org.openstack:volume-<id>` of its own with the file as LUN 1, and a
 *   per-volume incoming CHAP account bound to it. No ACL: nobody can log in yet.
 * - initialize_connection: bind the connector's initiator (`--op bind --initiator-name`), so the
 *   LUN is exported to that host only; multipath connectors get every portal.
 * - terminate_connection: unbind that initiator (or every one).
 * - delete: the target (forced: sessions go), the account, the file.
 * - extend: the file grows (`truncate`), and the LUN is re-added so tgtd reports the new size
 *   (tgtd reads a backing file's size when the LUN is created).
 * - snapshot: a copy of the file, `snapshot-<id>.img`, never exported; a volume from a snapshot
 *   or a clone of a volume: a copy of that file as the new volume's, grown to its size. Copies
 *   are `cp --reflink=auto --sparse=always` (a reflink where the filesystem has them, else a copy
 *   that keeps holes), to a `.part` file renamed when complete, so a crash never leaves a
 *   half-copied file under the final name.
 *
 * tgtd forgets everything when it restarts, and Hitch may crash between two tgtadm calls, so
 * every step reads `tgtadm --op show` first and does only what is missing: re-running any call
 * converges, and initialize re-creates a target that tgtd lost. Calls are serialized in this
 * process (target ids are allocated from what `show` lists).
 */
import { randomBytes } from 'node:crypto';
import { HitchError } from '../../errors.ts';
import type { BackendCapacity, BackendSnapshot, BackendVolume, VolumeBackend } from '../../ports/volume-backend.ts';
import type { ConnectionInfo, ConnectorProperties } from '../../ports/attach.ts';
import { iscsiConnectionInfo, providerFields, volumeIqn } from './iscsi-export.ts';
import { copyVolumeFile, directoryCapacity } from './lun-files.ts';
import { ALREADY_EXISTS, NOT_FOUND, tgtError, type Tgtadm, type TgtTarget } from './tgtadm.ts';

export interface TgtBackendOptions {
  readonly tgtadm: Tgtadm;
  /** `ip:port` portals tgtd serves on; the first is `target_portal`. */
  readonly portals: readonly string[];
  /** Absolute directory of the LUN files (under Hitch's data directory). */
  readonly lunDir: string;
  /** Cinder's `host@backend#pool`. */
  readonly host?: string;
  readonly iqnPrefix?: string;
}

/** What a tgt snapshot's provider_location holds: its file. */
interface TgtSnapshotLocation {
  readonly path: string;
}

const GiB = 1024 ** 3;

/** What `provider_location` holds for a tgt volume (backend-private, never shown to users). */
export interface TgtLocation {
  readonly iqn: string;
  readonly lun: number;
  readonly path: string;
  readonly chapUser: string;
  readonly chapPassword: string;
}

const LUN = 1;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function parseLocation(v: BackendVolume): TgtLocation {
  const loc = providerFields(v);
  if (typeof loc.iqn !== 'string' || typeof loc.path !== 'string' || typeof loc.chapUser !== 'string' || typeof loc.chapPassword !== 'string') {
    throw new HitchError('HITCH_INTERNAL', { detail: `volume ${v.id} has no tgt provider_location` });
  }
  return { iqn: loc.iqn, lun: typeof loc.lun === 'number' ? loc.lun : LUN, path: loc.path, chapUser: loc.chapUser, chapPassword: loc.chapPassword };
}

export class TgtBackend implements VolumeBackend {
  readonly name = 'tgt';
  readonly host: string;
  readonly backendName = 'tgt';
  readonly vendorName = 'Open Source';
  readonly #t: Tgtadm;
  readonly #portals: readonly string[];
  readonly #lunDir: string;
  readonly #prefix: string;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(opts: TgtBackendOptions) {
    if (opts.portals.length === 0) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'tgt needs at least one portal' });
    if (!opts.lunDir.startsWith('/')) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'tgt LUN directory must be absolute' });
    this.#t = opts.tgtadm;
    this.#portals = [...opts.portals];
    this.#lunDir = opts.lunDir.replace(/\/+$/, '');
    this.#prefix = opts.iqnPrefix ?? 'iqn.2010-10.org.openstack:';
    this.host = opts.host ?? `${opts.tgtadm.host.name}@tgt#tgt`;
  }

  get portals(): readonly string[] {
    return this.#portals;
  }

  /** The target tgtd serves for this volume, or null (tests, `hitch` diagnostics). */
  async target(volumeId: string): Promise<TgtTarget | null> {
    const iqn = volumeIqn(volumeId, this.#prefix);
    return (await this.#t.targets()).find((x) => x.iqn === iqn) ?? null;
  }

  createVolume(volume: { id: string; size: number }): Promise<{ providerLocation: string | null }> {
    return this.#serial(() => this.#create(volume, null));
  }

  /**
   * A volume's file (a copy of `from` when given, else sparse and empty), grown to its size,
   * and its target. A file already there (a re-run) is left as it is.
   */
  async #create(volume: { id: string; size: number }, from: { path: string; sizeGiB: number } | null): Promise<{ providerLocation: string }> {
    if (!UUID_RE.test(volume.id)) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: `volume id ${JSON.stringify(volume.id)} is not a UUID` });
    const loc: TgtLocation = {
      iqn: volumeIqn(volume.id, this.#prefix),
      lun: LUN,
      path: `${this.#lunDir}/volume-${volume.id}.img`,
      // Cinder's tgt helper: a 20-character user and a 16-character secret, random per volume.
      chapUser: randomBytes(10).toString('hex'),
      chapPassword: randomBytes(8).toString('hex'),
    };
    const host = this.#t.host;
    if (!(await host.exists(loc.path))) {
      if (from) await this.#copy(from.path, loc.path, from.sizeGiB);
      // Sparse: truncate only sets the length (and never shrinks a copy here: size ≥ the source's).
      await host.exec('truncate', ['--size', `${volume.size}G`, '--', loc.path], { timeoutMs: 30_000 });
    }
    await this.#ensureTarget(loc);
    return { providerLocation: JSON.stringify(loc) };
  }

  /** Copy a LUN file: reflink or hole-keeping copy into `.part`, then rename into place. */
  async #copy(src: string, dst: string, sizeGiB: number): Promise<void> {
    this.#checkPath(src);
    this.#checkPath(dst);
    await copyVolumeFile(this.#t.host, src, dst, sizeGiB, 'LUN file');
  }

  extendVolume(volume: BackendVolume, newSizeGiB: number): Promise<void> {
    return this.#serial(async () => {
      const loc = parseLocation(volume);
      this.#checkPath(loc.path);
      await this.#t.host.exec('truncate', ['--size', `>${newSizeGiB}G`, '--', loc.path], { timeoutMs: 30_000 });
      const target = (await this.#t.targets()).find((x) => x.iqn === loc.iqn);
      const lun = target?.luns.find((l) => l.lun === loc.lun);
      // `Size: N MB` is decimal and rounded.
      if (target && lun && lun.sizeMb !== Math.round((newSizeGiB * GiB) / 1e6)) {
        // tgtd took the file's size when the LUN was added: add it again to serve the new size.
        const tid = String(target.tid);
        await this.#t.must(['--op', 'delete', '--mode', 'logicalunit', '--tid', tid, '--lun', String(loc.lun)], { tolerate: NOT_FOUND });
        await this.#t.must(['--op', 'new', '--mode', 'logicalunit', '--tid', tid, '--lun', String(loc.lun), '-b', loc.path], { tolerate: ALREADY_EXISTS });
      }
    });
  }

  createSnapshot(snapshot: { id: string; size: number }, volume: BackendVolume): Promise<{ providerLocation: string | null }> {
    return this.#serial(async () => {
      if (!UUID_RE.test(snapshot.id)) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: `snapshot id ${JSON.stringify(snapshot.id)} is not a UUID` });
      const loc = parseLocation(volume);
      const snap: TgtSnapshotLocation = { path: `${this.#lunDir}/snapshot-${snapshot.id}.img` };
      if (!(await this.#t.host.exists(snap.path))) await this.#copy(loc.path, snap.path, volume.size);
      return { providerLocation: JSON.stringify(snap) };
    });
  }

  deleteSnapshot(snapshot: BackendSnapshot): Promise<void> {
    return this.#serial(async () => {
      if (!snapshot.providerLocation) return;
      const path = this.#snapshotPath(snapshot);
      this.#checkPath(path);
      await this.#t.host.exec('rm', ['-f', '--', path, `${path}.part`], { timeoutMs: 30_000 });
    });
  }

  createVolumeFromSnapshot(volume: { id: string; size: number }, snapshot: BackendSnapshot): Promise<{ providerLocation: string | null }> {
    return this.#serial(() => this.#create(volume, { path: this.#snapshotPath(snapshot), sizeGiB: snapshot.size }));
  }

  createClonedVolume(volume: { id: string; size: number }, source: BackendVolume): Promise<{ providerLocation: string | null }> {
    return this.#serial(() => this.#create(volume, { path: parseLocation(source).path, sizeGiB: source.size }));
  }

  /** The LUN directory's filesystem: its size and what is free on it (the files are sparse). */
  capacity(): Promise<BackendCapacity> {
    return directoryCapacity(this.#t.host, this.#lunDir);
  }

  #snapshotPath(snapshot: BackendSnapshot): string {
    if (!snapshot.providerLocation) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Backend snapshot', id: snapshot.id });
    const loc = providerFields(snapshot);
    if (typeof loc.path !== 'string') throw new HitchError('HITCH_INTERNAL', { detail: `snapshot ${snapshot.id} has no tgt provider_location` });
    return loc.path;
  }

  deleteVolume(volume: BackendVolume): Promise<void> {
    return this.#serial(async () => {
      if (!volume.providerLocation) return;
      const loc = parseLocation(volume);
      const target = (await this.#t.targets()).find((x) => x.iqn === loc.iqn);
      if (target) await this.#t.must(['--op', 'delete', '--mode', 'target', '--tid', String(target.tid), '--force'], { tolerate: NOT_FOUND });
      if ((await this.#t.accounts()).includes(loc.chapUser)) {
        await this.#t.must(['--op', 'delete', '--mode', 'account', '--user', loc.chapUser], { tolerate: NOT_FOUND });
      }
      this.#checkPath(loc.path);
      await this.#t.host.exec('rm', ['-f', '--', loc.path, `${loc.path}.part`], { timeoutMs: 30_000 });
    });
  }

  initializeConnection(volume: BackendVolume, connector: ConnectorProperties): Promise<ConnectionInfo> {
    return this.#serial(async () => {
      const initiator = connector.initiator;
      if (typeof initiator !== 'string' || initiator === '') {
        throw new HitchError('HITCH_INVALID_INPUT', { reason: 'Connector does not have an initiator (iSCSI needs one)' });
      }
      if (/\s/.test(initiator) || initiator.length > 223) throw new HitchError('HITCH_INVALID_INPUT', { reason: 'Connector initiator is not an iSCSI name' });
      const loc = parseLocation(volume);
      const target = await this.#ensureTarget(loc);
      if (!target.acls.includes(initiator)) {
        await this.#t.must(['--op', 'bind', '--mode', 'target', '--tid', String(target.tid), '--initiator-name', initiator], { tolerate: ALREADY_EXISTS });
      }
      return iscsiConnectionInfo({ volumeId: volume.id, iqn: loc.iqn, lun: loc.lun, portals: this.#portals, chapUser: loc.chapUser, chapPassword: loc.chapPassword }, connector);
    });
  }

  terminateConnection(volume: BackendVolume, connector: ConnectorProperties | null): Promise<void> {
    return this.#serial(async () => {
      if (!volume.providerLocation) return;
      const loc = parseLocation(volume);
      const target = (await this.#t.targets()).find((x) => x.iqn === loc.iqn);
      if (!target) return;
      const initiators = connector === null || typeof connector.initiator !== 'string' ? target.acls : target.acls.filter((a) => a === connector.initiator);
      for (const a of initiators) {
        const by = a === 'ALL' || /^[0-9.:/[\]]+$/.test(a) ? '--initiator-address' : '--initiator-name';
        await this.#t.must(['--op', 'unbind', '--mode', 'target', '--tid', String(target.tid), by, a], { tolerate: NOT_FOUND });
      }
    });
  }

  /** The volume's target with its LUN and CHAP account, created where missing. */
  async #ensureTarget(loc: TgtLocation): Promise<TgtTarget> {
    let targets = await this.#t.targets();
    let target = targets.find((x) => x.iqn === loc.iqn);
    if (!target) {
      // A tid another process took in between is refused with "already exists": take the next.
      const args = (tid: number): string[] => ['--op', 'new', '--mode', 'target', '--tid', String(tid), '-T', loc.iqn];
      for (let tid = Math.max(0, ...targets.map((x) => x.tid)) + 1; ; tid++) {
        const r = await this.#t.run(args(tid));
        if (r.code === 0) break;
        if (!ALREADY_EXISTS.test(r.message) || tid >= 65_535) throw tgtError(args(tid), r);
        if ((await this.#t.targets()).some((x) => x.iqn === loc.iqn)) break;
      }
      targets = await this.#t.targets();
      target = targets.find((x) => x.iqn === loc.iqn);
      if (!target) throw new HitchError('HITCH_INTERNAL', { detail: `tgtd did not keep target ${loc.iqn}` });
    }
    const tid = String(target.tid);
    if (!target.luns.some((l) => l.lun === loc.lun)) {
      this.#checkPath(loc.path);
      if (!(await this.#t.host.exists(loc.path))) throw new HitchError('HITCH_NOT_FOUND', { kind: 'LUN file', id: loc.path });
      await this.#t.must(['--op', 'new', '--mode', 'logicalunit', '--tid', tid, '--lun', String(loc.lun), '-b', loc.path], { tolerate: ALREADY_EXISTS });
    }
    // Any other account on this volume's own target is from an earlier attempt (a create re-run
    // after a crash draws new credentials): only the credentials in `loc` may log in. They go
    // before ours is bound: tgt 1.0.85 crashes on `show` after one of two bound accounts is
    // unbound (`tgtadm: tgtd closed the socket`), so a target never holds two.
    for (const stale of target.accounts.filter((a) => a !== loc.chapUser)) {
      await this.#t.must(['--op', 'unbind', '--mode', 'account', '--tid', tid, '--user', stale], { tolerate: NOT_FOUND });
      await this.#t.must(['--op', 'delete', '--mode', 'account', '--user', stale], { tolerate: NOT_FOUND });
    }
    if (!target.accounts.includes(loc.chapUser)) {
      if (!(await this.#t.accounts()).includes(loc.chapUser)) {
        await this.#t.must(['--op', 'new', '--mode', 'account', '--user', loc.chapUser, '--password', loc.chapPassword], {
          tolerate: ALREADY_EXISTS,
          secrets: [loc.chapPassword],
        });
      }
      await this.#t.must(['--op', 'bind', '--mode', 'account', '--tid', tid, '--user', loc.chapUser], { tolerate: ALREADY_EXISTS });
    }
    return (await this.#t.targets()).find((x) => x.iqn === loc.iqn) ?? target;
  }

  #checkPath(path: string): void {
    const rest = path.startsWith(`${this.#lunDir}/`) ? path.slice(this.#lunDir.length + 1) : '';
    if (!/^(volume|snapshot)-[0-9a-f-]{36}\.img(\.part)?$/i.test(rest)) {
      throw new HitchError('HITCH_INTERNAL', { detail: `refusing LUN file outside ${this.#lunDir}: ${JSON.stringify(path)}` });
    }
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }
}
