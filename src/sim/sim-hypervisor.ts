/**
 * A simulated hypervisor: libvirt's behaviour for the calls Hitch makes, on a clock.
 *
 * It holds domains (persistent definition + running state), the disks of each (live and
 * persistent copies, as libvirt keeps them), guests that acknowledge a virtio unplug after a
 * delay or never, and iSCSI secrets. It validates every XML it is given as strictly as the
 * libvirt driver does, and refuses what libvirt refuses with libvirt's own messages
 * (fixtures/host/libvirt-*.txt): a duplicated target, a missing domain, a live attach to a
 * stopped domain, a second writer on one block device. Faults can be injected per operation.
 *
 * Time: each call costs its configured latency on the clock; an unplug the guest has not yet
 * acknowledged completes lazily the next time anything looks at the domain.
 */
import { HitchError } from '../errors.ts';
import type { Clock, Host } from '../ports/host.ts';
import { checkDiskForAttach, diskSourceLabel, type ParsedDisk } from '../virt/disk-xml.ts';
import { checkDomainSpec } from '../virt/domain-xml.ts';
import type { DomainSpec } from '../ports/hypervisor.ts';
import type {
  AttachOptions,
  DefineOptions,
  DetachOptions,
  DetachResult,
  DiskInfo,
  DomainState,
  HypervisorDriver,
  OpOptions,
  SecretRef,
} from '../ports/hypervisor.ts';
import { inSpan } from '../virt/in-span.ts';
import type { Vfs } from './vfs.ts';
import {
  DEFAULT_FAULT_MESSAGE,
  DEFAULT_SIM_HYPERVISOR_LATENCY,
  type SimDiskView,
  type SimDomainView,
  type SimFault,
  type SimHypervisorLatency,
  type SimHypervisorOp,
  type SimHypervisorOptions,
} from './sim-hypervisor-types.ts';
import { secretUuidForUsage } from '../virt/secret-xml.ts';
import { checkDomainName, checkSecretUsage, checkTargetDev, checkTimeout } from '../virt/xml-values.ts';

export * from './sim-hypervisor-types.ts';

interface SimDisk {
  readonly xml: string;
  readonly parsed: ParsedDisk;
  /** What the guest sees (virtio capacity); null when the source's size is unknown. */
  guestBytes: number | null;
}

/**
 * The size the host's kernel gives the block device at `path` (a `/dev` node or a udev link):
 * `/sys/block/NAME/size`, in 512-byte sectors, of what the path resolves to. Null when the path
 * or the attribute is not there.
 */
export type BlockSizeReader = Pick<Host, 'exists' | 'realpath' | 'readFile'>;

/** A simulated host's files read directly (no command latency): what QEMU's own open sees. */
export function vfsReader(vfs: Vfs): BlockSizeReader {
  return { exists: async (p) => vfs.exists(p), realpath: async (p) => vfs.realpath(p), readFile: async (p) => vfs.read(p) };
}

export async function blockDeviceBytes(host: BlockSizeReader, path: string): Promise<number | null> {
  if (!(await host.exists(path))) return null;
  const name = (await host.realpath(path)).split('/').pop() ?? '';
  if (!/^[A-Za-z0-9_-]+$/.test(name)) return null;
  const text = await host.readFile(`/sys/block/${name}/size`).catch(() => null);
  const n = text === null ? NaN : Number(text.trim());
  return Number.isFinite(n) ? n * 512 : null;
}

interface SimDomain {
  readonly name: string;
  uuid: string;
  spec: DomainSpec;
  persistent: boolean;
  running: boolean;
  readonly live: Map<string, SimDisk>;
  readonly config: Map<string, SimDisk>;
  /** target → virtual time the guest releases it (`Infinity`: never). */
  readonly pendingUnplug: Map<string, number>;
  unplugAckMs: number | 'never';
}

export class SimHypervisor implements HypervisorDriver {
  readonly kind = 'sim' as const;
  readonly #clock: Clock;
  readonly #latency: SimHypervisorLatency;
  readonly #opts: SimHypervisorOptions;
  readonly #domains = new Map<string, SimDomain>();
  readonly #secrets = new Map<string, { uuid: string; value: string }>();
  #faults: { fault: SimFault; left: number }[] = [];

  constructor(opts: SimHypervisorOptions) {
    this.#clock = opts.clock;
    this.#latency = { ...DEFAULT_SIM_HYPERVISOR_LATENCY, ...opts.latency };
    this.#opts = opts;
  }

  // --- fault injection and guest behaviour ------------------------------------------------

  /** Make the next matching call(s) fail with a libvirt-like message. */
  injectFault(fault: SimFault): void {
    this.#faults.push({ fault, left: fault.times ?? 1 });
  }

  clearFaults(): void {
    this.#faults = [];
  }

  /** How this domain's guest answers unplug requests from now on (`never`: no guest OS). */
  setUnplugBehaviour(domain: string, ackMs: number | 'never'): void {
    this.#mustGet(domain).unplugAckMs = ackMs;
  }

  // --- inspection -------------------------------------------------------------------------

  domains(): SimDomainView[] {
    this.#settle();
    return [...this.#domains.values()].map((d) => this.#view(d));
  }

  domain(name: string): SimDomainView | undefined {
    this.#settle();
    const d = this.#domains.get(name);
    return d ? this.#view(d) : undefined;
  }

  secrets(): { usage: string; uuid: string }[] {
    return [...this.#secrets].map(([usage, s]) => ({ usage, uuid: s.uuid }));
  }

  /** Whether the secret holds `value` (the value itself is never handed out). */
  secretHasValue(usage: string, value: string): boolean {
    return this.#secrets.get(usage)?.value === value;
  }

  // --- HypervisorDriver -------------------------------------------------------------------

  defineAndStart(spec: DomainSpec, opts: DefineOptions = {}): Promise<void> {
    return inSpan(opts.span, 'virt.define_and_start', { domain: spec.name, hypervisor: 'sim', ...(opts.start === false ? { start: false } : {}) }, async () => {
      checkDomainSpec(spec);
      await this.#cost('define', spec.name);
      const byUuid = [...this.#domains.values()].find((d) => d.uuid === spec.uuid && d.name !== spec.name);
      if (byUuid) this.#refuse(`operation failed: domain '${byUuid.name}' is already defined with uuid ${spec.uuid}`);
      const existing = this.#domains.get(spec.name);
      if (existing && existing.uuid !== spec.uuid) {
        this.#refuse(`operation failed: domain '${spec.name}' already exists with uuid ${existing.uuid}`);
      }
      const d: SimDomain = existing ?? {
        name: spec.name,
        uuid: spec.uuid,
        spec,
        persistent: true,
        running: false,
        live: new Map(),
        config: new Map(),
        pendingUnplug: new Map(),
        unplugAckMs: this.#opts.unplugAckMs ?? 100,
      };
      // As the libvirt driver: an existing domain keeps its definition (and its disks).
      this.#domains.set(spec.name, d);
      if (d.running || opts.start === false) return;
      await this.#cost('start', spec.name);
      // QEMU opens every disk of the definition at start: one it cannot open fails the start.
      for (const disk of d.config.values()) await this.#checkSourceUsable(disk.parsed);
      d.running = true;
      d.live.clear();
      for (const [t, disk] of d.config) {
        disk.guestBytes = await this.#sourceBytes(disk.parsed);
        d.live.set(t, disk);
      }
    });
  }

  destroy(name: string, opts: OpOptions = {}): Promise<void> {
    return inSpan(opts.span, 'virt.destroy', { domain: name, hypervisor: 'sim' }, async () => {
      checkDomainName(name);
      await this.#cost('destroy', name);
      const d = this.#domains.get(name);
      if (!d || !d.running) return;
      d.running = false;
      d.live.clear();
      d.pendingUnplug.clear();
      if (!d.persistent) this.#domains.delete(name);
    });
  }

  undefine(name: string, opts: OpOptions = {}): Promise<void> {
    return inSpan(opts.span, 'virt.undefine', { domain: name, hypervisor: 'sim' }, async () => {
      checkDomainName(name);
      await this.#cost('undefine', name);
      const d = this.#domains.get(name);
      if (!d || !d.persistent) return;
      // As libvirt: a running domain becomes transient and goes away when it stops.
      if (d.running) {
        d.persistent = false;
        d.config.clear();
      } else {
        this.#domains.delete(name);
      }
    });
  }

  async domainState(name: string, opts: OpOptions = {}): Promise<DomainState | null> {
    return inSpan(opts.span, 'virt.domain_state', { domain: name, hypervisor: 'sim' }, async () => {
      checkDomainName(name);
      const d = this.#domains.get(name);
      if (!d) return null;
      return d.running ? 'running' : 'shut off';
    });
  }

  async attachDisk(domain: string, diskXml: string, opts: AttachOptions): Promise<void> {
    await this.attachDiskNamed(domain, diskXml, opts);
  }

  /**
   * `attachDisk`, answering the disk's target and source as the span names them, so the
   * simulator daemon's client can label its own span without parsing the XML a second time.
   */
  attachDiskNamed(domain: string, diskXml: string, opts: AttachOptions): Promise<{ target: string; source: string }> {
    return inSpan(opts.span, 'virt.attach_disk', { domain, hypervisor: 'sim' }, async (span) => {
      checkDomainName(domain);
      const parsed = checkDiskForAttach(diskXml);
      span?.set({ target: parsed.target.dev, source: diskSourceLabel(parsed) });
      if (!opts.live && !opts.persistent) {
        throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'attach needs live, persistent or both' });
      }
      await this.#cost('attach', domain);
      const d = this.#mustGet(domain);
      if (opts.live && !d.running) this.#refuse('Requested operation is not valid: domain is not running');
      if (opts.persistent && !d.persistent) this.#refuse('Requested operation is not valid: cannot modify device on transient domain');
      const disk: SimDisk = { xml: diskXml, parsed, guestBytes: opts.live ? await this.#sourceBytes(parsed) : null };
      for (const copy of [opts.live ? d.live : undefined, opts.persistent ? d.config : undefined]) {
        const other = copy?.get(parsed.target.dev);
        if (other) {
          this.#refuse(
            `XML error: target '${parsed.target.dev}' duplicated for disk sources '${diskSourceLabel(other.parsed)}' and '${diskSourceLabel(parsed)}'`,
          );
        }
      }
      if (opts.live) await this.#checkSourceUsable(parsed);
      // Both copies change only once every check passed, as libvirt's live+config attach does.
      if (opts.live) d.live.set(parsed.target.dev, disk);
      if (opts.persistent) d.config.set(parsed.target.dev, disk);
      return { target: parsed.target.dev, source: diskSourceLabel(parsed) };
    });
  }

  detachDisk(domain: string, targetDev: string, opts: DetachOptions): Promise<DetachResult> {
    return inSpan(opts.span, 'virt.detach_disk', { domain, target: targetDev, hypervisor: 'sim' }, async (span) => {
      checkDomainName(domain);
      checkTargetDev(targetDev);
      checkTimeout(opts.timeoutMs);
      await this.#cost('detach', domain);
      const d = this.#mustGet(domain);
      const persistent = opts.persistent ?? true;
      // The persistent copy goes only once the guest has let go, so a timeout leaves the disk
      // attached in both copies (still `in-use`), never half-detached.
      if (!d.running) {
        const had = persistent && d.config.delete(targetDev);
        return { outcome: had ? 'detached' : 'absent', requests: 0 };
      }
      if (!d.live.has(targetDev)) {
        if (persistent) d.config.delete(targetDev);
        span?.set({ outcome: 'absent' });
        return { outcome: 'absent', requests: 0 };
      }
      const now = this.#clock.now();
      let ackAt = d.pendingUnplug.get(targetDev);
      if (ackAt === undefined) {
        ackAt = d.unplugAckMs === 'never' ? Infinity : now + d.unplugAckMs;
        d.pendingUnplug.set(targetDev, ackAt);
      }
      const deadline = now + opts.timeoutMs;
      await this.#clock.sleep(Math.max(0, Math.min(ackAt, deadline) - now));
      this.#settle();
      if (d.live.has(targetDev)) {
        throw new HitchError('HITCH_HYPERVISOR_DETACH_TIMEOUT', { domain, target: targetDev, timeoutMs: opts.timeoutMs });
      }
      if (persistent) d.config.delete(targetDev);
      return { outcome: 'detached', requests: 1 };
    });
  }

  listDisks(domain: string, opts: OpOptions = {}): Promise<DiskInfo[]> {
    return inSpan(opts.span, 'virt.list_disks', { domain, hypervisor: 'sim' }, async () => {
      checkDomainName(domain);
      await this.#cost('list', domain);
      const d = this.#mustGet(domain);
      return [...(d.running ? d.live : d.config).values()].map((disk) => diskInfo(disk.parsed));
    });
  }

  defineSecret(usage: string, value: string, opts: OpOptions = {}): Promise<SecretRef> {
    return inSpan(opts.span, 'virt.define_secret', { usage, hypervisor: 'sim' }, async () => {
      checkSecretUsage(usage);
      if (typeof value !== 'string' || value.length === 0) {
        throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'secret value must be a non-empty string' });
      }
      await this.#cost('defineSecret', usage);
      const uuid = secretUuidForUsage(usage);
      this.#secrets.set(usage, { uuid, value });
      return { uuid, usage };
    });
  }

  undefineSecret(usage: string, opts: OpOptions = {}): Promise<void> {
    return inSpan(opts.span, 'virt.undefine_secret', { usage, hypervisor: 'sim' }, async () => {
      checkSecretUsage(usage);
      await this.#cost('undefineSecret', usage);
      this.#secrets.delete(usage);
    });
  }

  resizeDisk(domain: string, targetDev: string, sizeBytes: number, opts: OpOptions = {}): Promise<void> {
    return inSpan(opts.span, 'virt.resize_disk', { domain, target: targetDev, size_bytes: sizeBytes, hypervisor: 'sim' }, async () => {
      checkDomainName(domain);
      checkTargetDev(targetDev);
      if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: `size must be a positive whole number of bytes, got ${sizeBytes}` });
      await this.#cost('resize', domain);
      const d = this.#mustGet(domain);
      if (!d.running) this.#refuse('Requested operation is not valid: domain is not running');
      const disk = d.live.get(targetDev);
      if (!disk || d.pendingUnplug.has(targetDev)) this.#refuse(`invalid argument: disk '${targetDev}' was not found in domain ${domain}`);
      // QEMU's block_resize: a host block device cannot grow past what the kernel reports for it
      // (the host must have rescanned first); shrinking below what the guest has is refused too.
      const host = await this.#sourceBytes(disk.parsed);
      if (disk.parsed.type === 'block' && host !== null && sizeBytes > host) {
        this.#refuse(`internal error: unable to execute QEMU command 'block_resize': Cannot grow device files`);
      }
      if (disk.guestBytes !== null && sizeBytes < disk.guestBytes) {
        this.#refuse(`internal error: unable to execute QEMU command 'block_resize': Shrinking is not supported for this disk (${disk.guestBytes} bytes)`);
      }
      disk.guestBytes = sizeBytes;
    });
  }

  // --- internals --------------------------------------------------------------------------

  async #sourceBytes(p: ParsedDisk): Promise<number | null> {
    if (p.type !== 'block' || p.source.dev === undefined || !this.#opts.blockSourceBytes) return null;
    return this.#opts.blockSourceBytes(p.source.dev);
  }

  /** Spend the call's latency, then trip an injected fault if one matches. */
  async #cost(op: SimHypervisorOp, subject: string): Promise<void> {
    const ms = this.#latency[op];
    if (ms > 0) await this.#clock.sleep(ms);
    this.#settle();
    const i = this.#faults.findIndex((f) => f.fault.op === op && (f.fault.domain === undefined || f.fault.domain === subject));
    const hit = this.#faults[i];
    if (!hit) return;
    hit.left -= 1;
    if (hit.left <= 0) this.#faults.splice(i, 1);
    this.#refuse(hit.fault.message ?? DEFAULT_FAULT_MESSAGE[op]);
  }

  /** Apply every unplug the guest has acknowledged by now. */
  #settle(): void {
    const now = this.#clock.now();
    for (const d of this.#domains.values()) {
      for (const [target, at] of d.pendingUnplug) {
        if (at <= now) {
          d.pendingUnplug.delete(target);
          d.live.delete(target);
        }
      }
    }
  }

  async #checkSourceUsable(p: ParsedDisk): Promise<void> {
    if (p.type === 'block' && p.source.dev !== undefined) {
      const path = p.source.dev;
      const exists = this.#opts.blockSourceExists ? await this.#opts.blockSourceExists(path) : true;
      if (!exists) this.#refuse(`Cannot access storage file '${path}': No such file or directory`);
      // QEMU takes a write lock on an image opened read-write; a second writer is refused.
      for (const other of this.#domains.values()) {
        for (const disk of other.live.values()) {
          const o = disk.parsed;
          if (o.source.dev === path && !(o.readOnly && p.readOnly) && !(o.shareable && p.shareable)) {
            this.#refuse(`internal error: unable to execute QEMU command 'device_add': Failed to get "write" lock`);
          }
        }
      }
      return;
    }
    const [iqn, _lun] = (p.source.name ?? '').split('/');
    const host = p.source.hosts[0];
    let chapPassword: string | undefined;
    if (p.auth) {
      const usage = p.auth.secretUsage;
      const secret = usage !== undefined ? this.#secrets.get(usage) : [...this.#secrets.values()].find((s) => s.uuid === p.auth?.secretUuid);
      if (!secret) {
        this.#refuse(
          usage !== undefined
            ? `Secret not found: no secret with matching usage '${usage}'`
            : `Secret not found: no secret with matching uuid '${p.auth.secretUuid ?? ''}'`,
        );
      }
      chapPassword = secret.value;
    }
    if (this.#opts.probeNetworkSource && iqn !== undefined && host) {
      const err = await this.#opts.probeNetworkSource({
        protocol: p.source.protocol ?? 'iscsi',
        name: p.source.name ?? '',
        host: host.name ?? '',
        port: Number(host.port ?? '3260'),
        ...(p.source.initiatorIqn !== undefined ? { initiatorIqn: p.source.initiatorIqn } : {}),
        ...(p.auth?.username !== undefined ? { chapUsername: p.auth.username } : {}),
        ...(chapPassword !== undefined ? { chapPassword } : {}),
      });
      if (err !== null) this.#refuse(`internal error: unable to execute QEMU command 'blockdev-add': ${err}`);
    }
  }

  #mustGet(name: string): SimDomain {
    const d = this.#domains.get(name);
    if (!d) throw new HitchError('HITCH_HYPERVISOR_DOMAIN_NOT_FOUND', { domain: name });
    return d;
  }

  #refuse(message: string): never {
    throw new HitchError('HITCH_HYPERVISOR_ERROR', { detail: message });
  }

  #view(d: SimDomain): SimDomainView {
    const disks = (m: Map<string, SimDisk>): SimDiskView[] =>
      [...m.values()].map((x) => ({
        ...diskInfo(x.parsed),
        ...(x.parsed.serial !== undefined ? { serial: x.parsed.serial } : {}),
        readOnly: x.parsed.readOnly,
        guestBytes: x.guestBytes,
        xml: x.xml,
      }));
    return {
      name: d.name,
      uuid: d.uuid,
      state: d.running ? 'running' : 'shut off',
      persistent: d.persistent,
      liveDisks: disks(d.live),
      configDisks: disks(d.config),
      pendingUnplugs: [...d.pendingUnplug.keys()],
    };
  }
}

function diskInfo(p: ParsedDisk): DiskInfo {
  return { type: p.type, device: p.device, target: p.target.dev, source: diskSourceLabel(p) };
}
