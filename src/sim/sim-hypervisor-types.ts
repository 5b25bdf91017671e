/**
 * The simulated hypervisor's knobs and views: per-call latency, guest behaviour, fault
 * injection, and the read-only views that invariant checks read.
 */
import type { Clock } from '../ports/host.ts';
import type { DiskInfo, DomainState } from '../ports/hypervisor.ts';

export type SimHypervisorOp =
  | 'define'
  | 'start'
  | 'destroy'
  | 'undefine'
  | 'attach'
  | 'detach'
  | 'list'
  | 'resize'
  | 'defineSecret'
  | 'undefineSecret';

/** Virtual cost of each call, in ms (defaults from the real virsh timings in the fixtures). */
export type SimHypervisorLatency = Readonly<Record<SimHypervisorOp, number>>;

export const DEFAULT_SIM_HYPERVISOR_LATENCY: SimHypervisorLatency = {
  define: 30,
  start: 250,
  destroy: 30,
  undefine: 20,
  attach: 35,
  detach: 20,
  list: 20,
  resize: 20,
  defineSecret: 20,
  undefineSecret: 20,
};

/** What QEMU is asked to reach for a network disk; `chapPassword` only when `<auth>` is given. */
export interface NetworkSourceProbe {
  readonly protocol: string;
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly initiatorIqn?: string;
  readonly chapUsername?: string;
  readonly chapPassword?: string;
}

export interface SimHypervisorOptions {
  readonly clock: Clock;
  readonly latency?: Partial<SimHypervisorLatency>;
  /** How long a new domain's guest takes to acknowledge a virtio unplug; `never` = no guest OS. Default 100. */
  readonly unplugAckMs?: number | 'never';
  /** Whether a block source exists on the host (the simulator's `/dev`). Default: always. */
  readonly blockSourceExists?: (path: string) => boolean | Promise<boolean>;
  /**
   * The size in bytes the host's kernel reports for a block source (`/sys/block/X/size` of the
   * device the path resolves to), null when it cannot say. QEMU opens a block device at that
   * size and refuses `block_resize` past it. Without it every size is taken as given.
   */
  readonly blockSourceBytes?: (path: string) => number | null | Promise<number | null>;
  /** QEMU's iSCSI login for a network disk: `null` when it works, else QEMU's error text. */
  readonly probeNetworkSource?: (probe: NetworkSourceProbe) => string | null | Promise<string | null>;
}

export interface SimFault {
  readonly op: SimHypervisorOp;
  /** Only calls on this domain (or secret usage) trip it. */
  readonly domain?: string;
  /** The libvirt message the call fails with. */
  readonly message?: string;
  /** How many calls fail; default 1. `Infinity` for every call. */
  readonly times?: number;
}

/** A read-only view for invariant checks. */
export interface SimDomainView {
  readonly name: string;
  readonly uuid: string;
  readonly state: DomainState;
  readonly persistent: boolean;
  readonly liveDisks: readonly SimDiskView[];
  readonly configDisks: readonly SimDiskView[];
  /** Targets whose unplug was requested and not yet acknowledged by the guest. */
  readonly pendingUnplugs: readonly string[];
}

export interface SimDiskView extends DiskInfo {
  readonly serial?: string;
  /** The size the guest sees (virtio's capacity): the source's when plugged, then each resize; null when unknown. */
  readonly guestBytes: number | null;
  readonly readOnly: boolean;
  readonly xml: string;
}

export const DEFAULT_FAULT_MESSAGE: Readonly<Record<SimHypervisorOp, string>> = {
  define: 'operation failed: injected fault: cannot define domain',
  start: 'internal error: qemu unexpectedly closed the monitor (injected fault)',
  destroy: 'operation failed: injected fault: failed to terminate process',
  undefine: 'operation failed: injected fault: cannot undefine domain',
  attach: "internal error: unable to execute QEMU command 'device_add': injected fault",
  detach: "internal error: unable to execute QEMU command 'device_del': injected fault",
  list: 'operation failed: injected fault: cannot list disks',
  resize: "internal error: unable to execute QEMU command 'block_resize': injected fault",
  defineSecret: 'operation failed: injected fault: cannot define secret',
  undefineSecret: 'operation failed: injected fault: cannot undefine secret',
};
