/**
 * The NVMe over Fabrics side of a simulated storage array: subsystems (an NQN, the TCP portals
 * it is reachable on, its namespaces) and the host NQNs each one admits — what the Linux
 * kernel's nvmet keeps in configfs (`/sys/kernel/config/nvmet/subsystems/<nqn>`, the ports'
 * `subsystems/` links, `allowed_hosts/`), which is what the storage host guest serves and what
 * Hitch's `nvmet` backend drives.
 *
 * Identifiers as nvmet gives them (recorded in the storage host guest, `testdata/nvme/`): the
 * model `Linux`, the firmware the target kernel's release cut to 8 characters (`6.1.0-57`), a
 * serial of 20 hex digits, a namespace's UUID as configured and its NGUID all zeros unless set.
 */
import { HitchError } from '../errors.ts';
import { portalKey } from './network.ts';
import type { SeededRandom } from './random.ts';

export interface SimNamespace {
  readonly nsid: number;
  readonly uuid: string;
  /** 32 hex digits; all zeros when the target sets none (nvmet's default). */
  readonly nguid: string;
  readonly sizeBytes: number;
  readonly readOnly: boolean;
}

export interface SimSubsystem {
  readonly nqn: string;
  readonly serial: string;
  readonly model: string;
  readonly firmware: string;
  readonly portals: readonly string[];
  readonly namespaces: Map<number, SimNamespace>;
  /** Host NQNs admitted (`allowed_hosts`), unless `allowAnyHost`. */
  readonly hosts: Set<string>;
  allowAnyHost: boolean;
}

export interface AddNamespaceOptions {
  readonly nsid?: number;
  readonly uuid?: string;
  readonly nguid?: string;
  readonly sizeBytes?: number;
  readonly readOnly?: boolean;
}

/** Debian 12's nvmet: `Firmware` in `nvme list` is the target kernel's release, 8 characters. */
export const NVMET_FIRMWARE = '6.1.0-57';
/** The transport service id nvmet-tcp listens on by default. */
export const NVME_TCP_PORT = 4420;

export class NvmeSubsystems {
  readonly #subsystems = new Map<string, SimSubsystem>();
  readonly #rng: SeededRandom;
  readonly #onChange: (what: string) => void;
  readonly #defaultPortals: () => readonly string[];

  constructor(rng: SeededRandom, defaultPortals: () => readonly string[], onChange: (what: string) => void) {
    this.#rng = rng;
    this.#defaultPortals = defaultPortals;
    this.#onChange = onChange;
  }

  create(nqn: string, opts: { portals?: readonly string[]; serial?: string; allowAnyHost?: boolean } = {}): SimSubsystem {
    if (this.#subsystems.has(nqn)) throw new HitchError('HITCH_CONFLICT', { reason: `subsystem ${nqn} already exists` });
    const portals = (opts.portals ?? this.#defaultPortals()).map(portalKey);
    if (portals.length === 0) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: `subsystem ${nqn} needs at least one portal` });
    const s: SimSubsystem = {
      nqn,
      serial: opts.serial ?? this.#rng.hex(20),
      model: 'Linux',
      firmware: NVMET_FIRMWARE,
      portals,
      namespaces: new Map(),
      hosts: new Set(),
      allowAnyHost: opts.allowAnyHost ?? false,
    };
    this.#subsystems.set(nqn, s);
    this.#onChange(`subsystem add ${nqn} portals=${portals.join(',')}`);
    return s;
  }

  delete(nqn: string): void {
    if (this.#subsystems.delete(nqn)) this.#onChange(`subsystem remove ${nqn}`);
  }

  get(nqn: string): SimSubsystem | undefined {
    return this.#subsystems.get(nqn);
  }

  list(): SimSubsystem[] {
    return [...this.#subsystems.values()].sort((a, b) => a.nqn.localeCompare(b.nqn));
  }

  #need(nqn: string): SimSubsystem {
    const s = this.#subsystems.get(nqn);
    if (!s) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Subsystem', id: nqn });
    return s;
  }

  addNamespace(nqn: string, opts: AddNamespaceOptions = {}): SimNamespace {
    const s = this.#need(nqn);
    let nsid = opts.nsid;
    if (nsid === undefined) {
      nsid = 1;
      while (s.namespaces.has(nsid)) nsid++;
    }
    if (s.namespaces.has(nsid)) throw new HitchError('HITCH_CONFLICT', { reason: `namespace ${nsid} already exists on ${nqn}` });
    const ns: SimNamespace = {
      nsid,
      uuid: (opts.uuid ?? this.#rng.uuid()).toLowerCase(),
      nguid: (opts.nguid ?? '0'.repeat(32)).toLowerCase().replaceAll('-', ''),
      sizeBytes: opts.sizeBytes ?? 1024 ** 3,
      readOnly: opts.readOnly ?? false,
    };
    s.namespaces.set(nsid, ns);
    this.#onChange(`namespace add ${nqn} nsid=${nsid} uuid=${ns.uuid} size=${ns.sizeBytes}`);
    return ns;
  }

  allowHost(nqn: string, hostNqn: string): void {
    this.#need(nqn).hosts.add(hostNqn);
    this.#onChange(`host allow ${nqn} ${hostNqn}`);
  }

  denyHost(nqn: string, hostNqn: string): void {
    const s = this.#need(nqn);
    if (s.hosts.delete(hostNqn)) this.#onChange(`host deny ${nqn} ${hostNqn}`);
  }

  /** Whether `hostNqn` may connect (nvmet refuses others: the Connect command fails). */
  admits(s: SimSubsystem, hostNqn: string): boolean {
    return s.allowAnyHost || s.hosts.has(hostNqn);
  }
}
