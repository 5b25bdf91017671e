/**
 * The hypervisor port the compute service uses: define and start a server, hot-plug and
 * unplug disks, list them, and keep CHAP passwords as hypervisor secrets.
 *
 * Two implementations, one conformance suite (`driver.conformance.ts`): `LibvirtDriver` runs
 * `virsh` through the Host port; `SimHypervisor` models domains, disks and guests on a clock.
 *
 * Contract shared by both:
 * - every name, device and XML is validated before anything runs (`HITCH_INVALID_ARGUMENT`);
 * - hypervisor refusals are `HITCH_HYPERVISOR_ERROR` carrying libvirt's own message;
 *   an unknown domain is `HITCH_HYPERVISOR_DOMAIN_NOT_FOUND`;
 * - `destroy`, `undefine`, `undefineSecret` are idempotent (cleanup must converge);
 * - `detachDisk` returns only once the disk is gone from the running guest (checked by listing
 *   the disks, never by trusting the unplug request), or throws
 *   `HITCH_HYPERVISOR_DETACH_TIMEOUT` when the guest does not release it within the bound;
 * - secret values never appear in a command line, log, trace or error.
 */
import type { Span } from '../trace/span.ts';
import type { DomainSpec } from '../virt/domain-xml.ts';

export type { DomainSpec } from '../virt/domain-xml.ts';

export interface OpOptions {
  /** Parent span; each driver call records one child span (name `virt.<op>`). */
  readonly span?: Span;
}

export interface AttachOptions extends OpOptions {
  /** Plug into the running guest (`--live`). */
  readonly live: boolean;
  /** Keep it in the domain's persistent definition (`--config`). */
  readonly persistent: boolean;
}

export interface DetachOptions extends OpOptions {
  /** How long the guest may take to release the disk before `HITCH_HYPERVISOR_DETACH_TIMEOUT`. */
  readonly timeoutMs: number;
  /** Also remove it from the persistent definition. Default true. */
  readonly persistent?: boolean;
}

export interface DetachResult {
  /** `absent`: the disk was not attached to the running guest (nothing to do; idempotent). */
  readonly outcome: 'detached' | 'absent';
  /** Unplug requests sent to the guest. */
  readonly requests: number;
}

/** One disk of a running domain, as `virsh domblklist --details` shows it. */
export interface DiskInfo {
  /** `block`, `network`, `file` */
  readonly type: string;
  /** `disk`, `cdrom`, … */
  readonly device: string;
  readonly target: string;
  /** A host path, `iqn…/lun` for network disks, `-` when empty. */
  readonly source: string;
}

export type DomainState = 'running' | 'shut off' | 'paused' | 'other';

export interface SecretRef {
  readonly uuid: string;
  readonly usage: string;
}

export interface HypervisorDriver {
  readonly kind: 'libvirt' | 'sim';

  /**
   * Define a persistent domain and start it. For an existing domain of the same name and uuid
   * (a re-run after a crash) the definition is kept as it is — with its attached disks — and
   * the domain is only started if it is off; another uuid under that name is refused.
   */
  defineAndStart(spec: DomainSpec, opts?: OpOptions): Promise<void>;
  /** Power off (hard). No error when the domain is already off or does not exist. */
  destroy(name: string, opts?: OpOptions): Promise<void>;
  /** Remove the persistent definition. No error when it does not exist. */
  undefine(name: string, opts?: OpOptions): Promise<void>;
  /** `null` when no such domain exists. */
  domainState(name: string, opts?: OpOptions): Promise<DomainState | null>;

  /** Hot-plug a `<disk>` (from `buildDiskXml`). At least one of `live`/`persistent`. */
  attachDisk(domain: string, diskXml: string, opts: AttachOptions): Promise<void>;
  /** Unplug the disk at `targetDev` (`vdb`) and wait, bounded, until the guest has released it. */
  detachDisk(domain: string, targetDev: string, opts: DetachOptions): Promise<DetachResult>;
  /** The disks of the running guest (or of the definition, when the domain is off). */
  listDisks(domain: string, opts?: OpOptions): Promise<DiskInfo[]>;

  /** Create (or update) the `iscsi` secret with this usage id and set its value. */
  defineSecret(usage: string, value: string, opts?: OpOptions): Promise<SecretRef>;
  /** Remove the secret with this usage id. No error when it does not exist. */
  undefineSecret(usage: string, opts?: OpOptions): Promise<void>;
}
