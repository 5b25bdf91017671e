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
import type { Span } from './span.ts';

export interface OpOptions {
  /** Parent span; each driver call records one child span (name `virt.<op>`). */
  readonly span?: Span;
}

export interface DefineOptions extends OpOptions {
  /**
   * Start the domain (default true). False defines it and leaves it off, so the disks a server
   * boots with go into its definition before the first start (as Nova's spawn puts them in the
   * domain XML); a later `defineAndStart` keeps that definition and starts it.
   */
  readonly start?: boolean;
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
  defineAndStart(spec: DomainSpec, opts?: DefineOptions): Promise<void>;
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
  /**
   * Grow the running guest's disk at `targetDev` to `sizeBytes` (libvirt's `blockresize`, in
   * bytes), after the host sees the volume's new size: QEMU refuses to grow a host block
   * device past what the kernel reports ("Cannot grow device files"). The guest's kernel learns
   * the new capacity from virtio's config-change interrupt.
   */
  resizeDisk(domain: string, targetDev: string, sizeBytes: number, opts?: OpOptions): Promise<void>;
  /** The disks of the running guest (or of the definition, when the domain is off). */
  listDisks(domain: string, opts?: OpOptions): Promise<DiskInfo[]>;

  /** Create (or update) the `iscsi` secret with this usage id and set its value. */
  defineSecret(usage: string, value: string, opts?: OpOptions): Promise<SecretRef>;
  /** Remove the secret with this usage id. No error when it does not exist. */
  undefineSecret(usage: string, opts?: OpOptions): Promise<void>;
}

export interface DomainSpec {
  /** libvirt domain name (Nova: `instance-0000002a`); also what every `virsh` call names. */
  readonly name: string;
  readonly uuid: string;
  readonly memoryMiB: number;
  readonly vcpus: number;
  /** `kvm` where the host can, `qemu` (TCG) where it cannot. */
  readonly virtType: 'qemu' | 'kvm';
  /** Direct kernel boot (the tiny test guest: Debian cloud kernel + busybox initramfs). */
  readonly boot?: { readonly kernel: string; readonly initrd?: string; readonly cmdline?: string };
  /**
   * The server boots from a volume (Nova's boot from volume): the firmware boots its first disk
   * (`<boot dev="hd"/>`), the volume with boot index 0, and no kernel is given from the host.
   */
  readonly bootsFromVolume?: boolean;
  /** Serial console: to a file (tests read it for `GUEST-BLOCK:` lines) or a pty. Default pty. */
  readonly console?: { readonly kind: 'pty' } | { readonly kind: 'file'; readonly path: string };
  /** QEMU binary; libvirt picks the default for the arch when absent. */
  readonly emulator?: string;
}

/** A host block device (kernel iSCSI single path, or a multipath map). */
export interface BlockDiskSource {
  readonly kind: 'block';
  /** Under `/dev/`, e.g. `/dev/disk/by-path/ip-…-lun-192` or `/dev/disk/by-id/dm-uuid-mpath-<wwn>`. */
  readonly path: string;
}

/** CHAP for QEMU-native iSCSI: the password lives in a libvirt secret, referenced by usage. */
export interface IscsiAuth {
  readonly username: string;
  /** The usage id of a libvirt secret of type `iscsi` (see `HypervisorDriver.defineSecret`). */
  readonly secretUsage: string;
}

/** A LUN reached by QEMU's own iSCSI initiator. */
export interface IscsiNetworkDiskSource {
  readonly kind: 'iscsi';
  readonly iqn: string;
  readonly lun: number;
  readonly host: { readonly name: string; readonly port: number };
  readonly auth?: IscsiAuth;
  /**
   * The initiator name QEMU logs in with. Without it QEMU uses `iqn.2008-11.org.linux-kvm:<domain
   * uuid>`, which the target's ACL would have to know in advance.
   */
  readonly initiatorIqn?: string;
}

export type DiskSource = BlockDiskSource | IscsiNetworkDiskSource;
