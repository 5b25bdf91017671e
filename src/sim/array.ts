/**
 * A simulated storage array: targets (IQN, TPGT, portals), LUNs with NAA WWNs, and the
 * initiator ACLs that decide who sees what — a LUN is visible only to initiators it was
 * exported to — with optional CHAP credentials per initiator.
 *
 * This is the API the volume service's `sim` backend drives (create a target, add a LUN,
 * allow an initiator) and the one the simulated initiators read at login and scan time.
 */
import { HitchError } from '../errors.ts';
import { portalKey } from './network.ts';
import type { SeededRandom } from './random.ts';
import { NvmeSubsystems } from './nvme-subsystem.ts';

export interface SimLun {
  readonly lun: number;
  readonly wwn: string;
  /** Grows when the array extends the LUN (`resizeLun`); a host sees it after a rescan. */
  sizeBytes: number;
  readOnly: boolean;
  /** Vendor and model as `multipath -ll` and `lsblk` show them. */
  readonly vendor: string;
  readonly model: string;
  /** The unit serial (VPD page 0x80) where the array gives one: LIO's, of which it makes the WWN. */
  readonly serial?: string;
}

export interface SimAcl {
  readonly initiator: string;
  readonly chapUser?: string;
  readonly chapPassword?: string;
  /** LUNs this initiator may see; undefined = every LUN of the target. */
  luns?: Set<number>;
}

/**
 * Which target software the array behaves like, where they differ in what an initiator sees:
 * - `tgt` (the Linux SCSI target framework, what Hitch's real backend drives): SendTargets
 *   answers with the portal it was asked on only; LUN 0 of every target is a controller (a SCSI
 *   device without a disk) that a full scan finds; disks carry tgt's identifiers (`IET` T10 id,
 *   a locally assigned NAA, serial `beaf<tid><lun>`) and WWNs made of the target id and LUN;
 * - `lio` (LinuxIO, the kernel target): SendTargets answers every portal of the target; each
 *   LUN has a unit serial (a UUID) its WWN is made of;
 * - `generic` (the default, any other array): every portal, no controller LUN.
 */
export type ArrayKind = 'tgt' | 'lio' | 'generic';

export interface SimTarget {
  readonly iqn: string;
  /** The target's number on the array, from 1 in creation order (tgt's `--tid`). */
  readonly tid: number;
  readonly tpgt: number;
  readonly portals: readonly string[];
  readonly luns: Map<number, SimLun>;
  readonly acls: Map<string, SimAcl>;
}

export interface AddLunOptions {
  readonly lun?: number;
  readonly sizeBytes?: number;
  readonly wwn?: string;
  readonly readOnly?: boolean;
  /** LIO: the unit serial (a UUID); default one from the seeded RNG. */
  readonly serial?: string;
}

export interface AllowOptions {
  readonly chapUser?: string;
  readonly chapPassword?: string;
  /** Restrict to these LUNs (default: all LUNs of the target). */
  readonly luns?: readonly number[];
}

/** tgt's WWN of LUN `lun` of target `tid`: `360000000000000000e00000000010001` for 1, 1. */
export function tgtWwn(tid: number, lun: number): string {
  const hex4 = (n: number): string => n.toString(16).padStart(4, '0');
  return `36${'0'.repeat(16)}e${'0'.repeat(6)}${hex4(tid)}${hex4(lun)}`;
}

/** LIO's WWN: NAA 6, company 001405, then the unit serial's first 25 hex digits (`36001405` + `4e1d3c2b5…`). */
export function lioWwn(serial: string): string {
  return `36001405${serial.replace(/[^0-9a-f]/gi, '').toLowerCase().slice(0, 25).padEnd(25, '0')}`;
}

export class StorageArray {
  readonly name: string;
  readonly #targets = new Map<string, SimTarget>();
  readonly #rng: SeededRandom;
  readonly #companyId: string;
  readonly vendor: string;
  readonly model: string;
  /** Reports each change as a line for the simulation's trace. */
  readonly #onChange: (what: string) => void;
  /** Portals new targets get unless told otherwise. */
  readonly portals: readonly string[];
  readonly kind: ArrayKind;
  /** NVMe/TCP subsystems it serves (`nvme-subsystem.ts`), on its portals unless told otherwise. */
  readonly nvme: NvmeSubsystems;
  #nextTid = 1;

  constructor(
    name: string,
    rng: SeededRandom,
    opts: { portals?: readonly string[]; companyId?: string; vendor?: string; model?: string; kind?: ArrayKind; onChange?: (what: string) => void } = {},
  ) {
    this.name = name;
    this.kind = opts.kind ?? 'generic';
    this.portals = (opts.portals ?? []).map(portalKey);
    this.#rng = rng;
    this.#companyId = opts.companyId ?? '001405';
    this.vendor = opts.vendor ?? 'HITCH';
    this.model = opts.model ?? 'SIMARRAY';
    this.#onChange = opts.onChange ?? (() => undefined);
    this.nvme = new NvmeSubsystems(rng, () => this.portals, (what) => this.#onChange(what));
  }

  /** Create a target on `portals` (default: the array's portals). */
  createTarget(iqn: string, portals: readonly string[] = this.portals, tpgt = 1): SimTarget {
    if (this.#targets.has(iqn)) throw new HitchError('HITCH_CONFLICT', { reason: `target ${iqn} already exists on ${this.name}` });
    if (portals.length === 0) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: `target ${iqn} needs at least one portal` });
    const t: SimTarget = { iqn, tid: this.#nextTid++, tpgt, portals: portals.map(portalKey), luns: new Map(), acls: new Map() };
    this.#targets.set(iqn, t);
    this.#onChange(`target add ${iqn} tpgt=${tpgt} portals=${t.portals.join(',')}`);
    return t;
  }

  deleteTarget(iqn: string): void {
    this.#targets.delete(iqn);
    this.#onChange(`target remove ${iqn}`);
  }

  target(iqn: string): SimTarget | undefined {
    return this.#targets.get(iqn);
  }

  targets(): SimTarget[] {
    return [...this.#targets.values()].sort((a, b) => a.iqn.localeCompare(b.iqn));
  }

  #need(iqn: string): SimTarget {
    const t = this.#targets.get(iqn);
    if (!t) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Target', id: iqn });
    return t;
  }

  /** Add a LUN; its WWN comes from the seeded RNG unless given. Returns the LUN. */
  addLun(iqn: string, opts: AddLunOptions = {}): SimLun {
    const t = this.#need(iqn);
    let lun = opts.lun;
    if (lun === undefined) {
      lun = 0;
      while (t.luns.has(lun)) lun++;
    }
    if (t.luns.has(lun)) throw new HitchError('HITCH_CONFLICT', { reason: `LUN ${lun} already exists on ${iqn}` });
    const serial = this.kind === 'lio' ? (opts.serial ?? this.#rng.uuid()) : undefined;
    const l: SimLun = {
      lun,
      wwn: opts.wwn ?? (this.kind === 'tgt' ? tgtWwn(t.tid, lun) : serial !== undefined ? lioWwn(serial) : this.#rng.naaWwn(this.#companyId)),
      sizeBytes: opts.sizeBytes ?? 1024 ** 3,
      readOnly: opts.readOnly ?? false,
      vendor: this.vendor,
      model: this.model,
      ...(serial !== undefined ? { serial } : {}),
    };
    t.luns.set(lun, l);
    this.#onChange(`lun add ${iqn} lun=${lun} wwn=${l.wwn} size=${l.sizeBytes}`);
    return l;
  }

  /** Grow a LUN to `sizeBytes` (an array never shrinks one: smaller is refused). */
  resizeLun(iqn: string, lun: number, sizeBytes: number): SimLun {
    const l = this.#need(iqn).luns.get(lun);
    if (!l) throw new HitchError('HITCH_NOT_FOUND', { kind: 'LUN', id: `${iqn}/${lun}` });
    if (sizeBytes < l.sizeBytes) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: `LUN ${lun} of ${iqn} is ${l.sizeBytes} bytes; an array does not shrink a LUN to ${sizeBytes}` });
    l.sizeBytes = sizeBytes;
    this.#onChange(`lun resize ${iqn} lun=${lun} size=${sizeBytes}`);
    return l;
  }

  removeLun(iqn: string, lun: number): void {
    this.#need(iqn).luns.delete(lun);
    this.#onChange(`lun remove ${iqn} lun=${lun}`);
  }

  /** Export the target (or some of its LUNs) to an initiator, with optional CHAP. */
  allowInitiator(iqn: string, initiator: string, opts: AllowOptions = {}): void {
    const t = this.#need(iqn);
    const prev = t.acls.get(initiator);
    let luns: Set<number> | undefined;
    if (opts.luns !== undefined) luns = new Set([...(prev?.luns ?? []), ...opts.luns]);
    else if (prev !== undefined && prev.luns !== undefined && opts.luns === undefined) luns = undefined;
    const acl: SimAcl = { initiator, luns };
    if (opts.chapUser !== undefined) Object.assign(acl, { chapUser: opts.chapUser, chapPassword: opts.chapPassword ?? '' });
    else if (prev?.chapUser !== undefined) Object.assign(acl, { chapUser: prev.chapUser, chapPassword: prev.chapPassword });
    t.acls.set(initiator, acl);
    this.#onChange(`acl allow ${iqn} ${initiator}${acl.chapUser !== undefined ? ' chap' : ''}${acl.luns ? ` luns=${[...acl.luns].join(',')}` : ''}`);
  }

  /** Withdraw an initiator's access (all of it, or some LUNs). */
  denyInitiator(iqn: string, initiator: string, luns?: readonly number[]): void {
    const t = this.#need(iqn);
    const acl = t.acls.get(initiator);
    if (acl === undefined) return;
    if (luns === undefined) t.acls.delete(initiator);
    else {
      const keep = new Set(acl.luns ?? t.luns.keys());
      for (const l of luns) keep.delete(l);
      acl.luns = keep;
    }
    this.#onChange(`acl deny ${iqn} ${initiator}${luns ? ` luns=${luns.join(',')}` : ''}`);
  }

  /** The LUNs `initiator` may see through `iqn`, sorted by number. */
  visibleLuns(iqn: string, initiator: string): SimLun[] {
    const t = this.#targets.get(iqn);
    const acl = t?.acls.get(initiator);
    if (!t || !acl) return [];
    return [...t.luns.values()].filter((l) => acl.luns === undefined || acl.luns.has(l.lun)).sort((a, b) => a.lun - b.lun);
  }

  /** Inspection: every export as plain data. */
  exports(): Array<{ target: string; tpgt: number; portals: string[]; luns: Array<{ lun: number; wwn: string; sizeBytes: number; readOnly: boolean }>; acls: Array<{ initiator: string; chap: boolean; luns: number[] | 'all' }> }> {
    return this.targets().map((t) => ({
      target: t.iqn,
      tpgt: t.tpgt,
      portals: [...t.portals],
      luns: [...t.luns.values()].sort((a, b) => a.lun - b.lun).map((l) => ({ lun: l.lun, wwn: l.wwn, sizeBytes: l.sizeBytes, readOnly: l.readOnly })),
      acls: [...t.acls.values()]
        .sort((a, b) => a.initiator.localeCompare(b.initiator))
        .map((a) => ({ initiator: a.initiator, chap: a.chapUser !== undefined, luns: a.luns === undefined ? 'all' as const : [...a.luns].sort((x, y) => x - y) })),
    }));
  }
}
