/**
 * The libvirt driver: `virsh -c qemu:///system …` through the Host port, nothing else.
 *
 * XML goes to virsh on stdin as the file `/dev/stdin`. virsh reads the file itself (client
 * side) before calling libvirtd, so a pipe works — the fixtures show `attach-device … /dev/fd/63`
 * accepted — and nothing is left on disk to clean up after a crash, no data directory has to
 * be readable by libvirtd, and the XML is never written anywhere.
 *
 * Disks are detached by target (`detach-disk DOMAIN vdb`): virsh finds the disk's current XML
 * in the domain and asks libvirt to unplug exactly that, as Nova does with the XML it reads
 * back (`guest.get_disk`), so Hitch needs no copy of the attach-time XML after a restart.
 *
 * Detach is live first, persistent second: the live unplug is re-requested and checked with
 * `domblklist` until the disk is gone or the bound passes. virsh's own "Device detached
 * successfully" is not trusted — with no guest OS QEMU never completes a virtio unplug and
 * virsh says it anyway after 5 s (fixtures/host/libvirt-hotplug-tcg.txt). The persistent copy
 * is removed only after the guest released the disk, so a timeout leaves it attached in both.
 */
import { HitchError } from '../errors.ts';
import type { Host } from '../ports/host.ts';
import type { Span } from '../trace/span.ts';
import { checkDiskForAttach, diskSourceLabel } from './disk-xml.ts';
import { buildDomainXml, checkDomainSpec, parseDomblklist } from './domain-xml.ts';
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
import { inSpan } from './in-span.ts';
import { buildSecretXml, secretUuidForUsage } from './secret-xml.ts';
import { checkDomainName, checkSecretUsage, checkTargetDev, checkTimeout } from './xml-values.ts';

export interface LibvirtDriverOptions {
  readonly host: Host;
  /** libvirt connection URI. Default `qemu:///system`. */
  readonly uri?: string;
  /** Timeout of one virsh call. Default 30 s. */
  readonly commandTimeoutMs?: number;
  /** Pause between `domblklist` checks while waiting for the guest to release a disk. Default 500 ms. */
  readonly detachPollMs?: number;
  /** Re-request the unplug this often while the guest holds on. Default 5 s (virsh itself waits 5 s). */
  readonly detachRetryMs?: number;
}

interface VirshResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
  /** The `error: …` lines of stderr, prefix stripped, joined with `; `. */
  readonly message: string;
}

const NOT_FOUND = /failed to get domain|Domain not found/;
const NOT_RUNNING = /domain is not running/;
const ALREADY_ACTIVE = /domain is already active/;
// libvirt 9.0's virsh says only "Failed to get disk information" for a target the domain lacks.
const NO_SUCH_DISK = /No disk found whose source path or target is|disk \S+ not found|Failed to get disk information/;
const NO_SUCH_SECRET = /failed to get secret|Secret not found/;

export class LibvirtDriver implements HypervisorDriver {
  readonly kind = 'libvirt' as const;
  readonly #host: Host;
  readonly #uri: string;
  readonly #timeoutMs: number;
  readonly #pollMs: number;
  readonly #retryMs: number;

  constructor(opts: LibvirtDriverOptions) {
    this.#host = opts.host;
    this.#uri = opts.uri ?? 'qemu:///system';
    this.#timeoutMs = opts.commandTimeoutMs ?? 30_000;
    this.#pollMs = opts.detachPollMs ?? 500;
    this.#retryMs = opts.detachRetryMs ?? 5_000;
  }

  defineAndStart(spec: DomainSpec, opts: DefineOptions = {}): Promise<void> {
    return inSpan(opts.span, 'virt.define_and_start', { domain: spec.name, hypervisor: 'libvirt', ...(opts.start === false ? { start: false } : {}) }, async (span) => {
      checkDomainSpec(spec);
      const xml = buildDomainXml(spec);
      // Re-running after a crash must not `define` over an existing domain: the new definition
      // has no disks and would drop the volumes attached with --config. Check it is the same
      // server (uuid), then only start it if it is off.
      const state = await this.domainState(spec.name, span ? { span } : {});
      if (state === null) {
        this.#ok(await this.#virsh(span, ['define', '/dev/stdin'], { input: xml }));
      } else {
        const u = await this.#virsh(span, ['domuuid', spec.name]);
        this.#ok(u, spec.name);
        const uuid = u.stdout.trim();
        if (uuid !== spec.uuid) {
          throw new HitchError('HITCH_HYPERVISOR_ERROR', { detail: `operation failed: domain '${spec.name}' already exists with uuid ${uuid}` });
        }
        if (state === 'running') return;
      }
      if (opts.start === false) return;
      const r = await this.#virsh(span, ['start', spec.name]);
      // Started by someone else in between: already up is what was asked for.
      if (r.code !== 0 && !ALREADY_ACTIVE.test(r.message)) this.#ok(r, spec.name);
    });
  }

  destroy(name: string, opts: OpOptions = {}): Promise<void> {
    return inSpan(opts.span, 'virt.destroy', { domain: name, hypervisor: 'libvirt' }, async (span) => {
      checkDomainName(name);
      const r = await this.#virsh(span, ['destroy', name]);
      if (r.code !== 0 && !NOT_RUNNING.test(r.message) && !NOT_FOUND.test(r.message)) this.#ok(r, name);
    });
  }

  undefine(name: string, opts: OpOptions = {}): Promise<void> {
    return inSpan(opts.span, 'virt.undefine', { domain: name, hypervisor: 'libvirt' }, async (span) => {
      checkDomainName(name);
      const r = await this.#virsh(span, ['undefine', name]);
      if (r.code !== 0 && !NOT_FOUND.test(r.message)) this.#ok(r, name);
    });
  }

  domainState(name: string, opts: OpOptions = {}): Promise<DomainState | null> {
    return inSpan(opts.span, 'virt.domain_state', { domain: name, hypervisor: 'libvirt' }, async (span) => {
      checkDomainName(name);
      const r = await this.#virsh(span, ['domstate', name]);
      if (r.code !== 0 && NOT_FOUND.test(r.message)) return null;
      this.#ok(r, name);
      const s = r.stdout.trim();
      return s === 'running' || s === 'shut off' || s === 'paused' ? s : 'other';
    });
  }

  attachDisk(domain: string, diskXml: string, opts: AttachOptions): Promise<void> {
    return inSpan(opts.span, 'virt.attach_disk', { domain, hypervisor: 'libvirt' }, async (span) => {
      checkDomainName(domain);
      const parsed = checkDiskForAttach(diskXml);
      span?.set({ target: parsed.target.dev, source: diskSourceLabel(parsed) });
      const flags = flagsFor(opts.live, opts.persistent);
      this.#ok(await this.#virsh(span, ['attach-device', domain, '/dev/stdin', ...flags], { input: diskXml }), domain);
    });
  }

  detachDisk(domain: string, targetDev: string, opts: DetachOptions): Promise<DetachResult> {
    return inSpan(opts.span, 'virt.detach_disk', { domain, target: targetDev, hypervisor: 'libvirt' }, async (span) => {
      checkDomainName(domain);
      checkTargetDev(targetDev);
      checkTimeout(opts.timeoutMs);
      const persistent = opts.persistent ?? true;
      const state = await this.domainState(domain, { ...(span ? { span } : {}) });
      if (state === null) throw new HitchError('HITCH_HYPERVISOR_DOMAIN_NOT_FOUND', { domain });
      // A paused (or shutting-down) guest still has its live devices; only an off one has none.
      if (state === 'shut off') {
        const had = persistent && (await this.#detachConfig(span, domain, targetDev));
        return { outcome: had ? 'detached' : 'absent', requests: 0 };
      }
      if (!(await this.#hasDisk(span, domain, targetDev))) {
        if (persistent) await this.#detachConfig(span, domain, targetDev);
        span?.set({ outcome: 'absent' });
        return { outcome: 'absent', requests: 0 };
      }
      const clock = this.#host.clock;
      const deadline = clock.now() + opts.timeoutMs;
      let requests = 0;
      let gone = false;
      while (!gone) {
        const nextRequest = clock.now() + this.#retryMs;
        const r = await this.#virsh(span, ['detach-disk', domain, targetDev, '--live']);
        requests += 1;
        // A repeated request may be refused while the first is pending; only the first must succeed.
        if (r.code !== 0 && requests === 1 && !NO_SUCH_DISK.test(r.message)) this.#ok(r, domain);
        for (;;) {
          gone = !(await this.#hasDisk(span, domain, targetDev));
          const now = clock.now();
          if (gone || now >= deadline || now >= nextRequest) break;
          await clock.sleep(Math.min(this.#pollMs, deadline - now));
        }
        if (!gone && clock.now() >= deadline) {
          span?.set({ requests });
          throw new HitchError('HITCH_HYPERVISOR_DETACH_TIMEOUT', { domain, target: targetDev, timeoutMs: opts.timeoutMs });
        }
      }
      if (persistent) await this.#detachConfig(span, domain, targetDev);
      span?.set({ requests });
      return { outcome: 'detached', requests };
    });
  }

  /** `virsh blockresize DOMAIN TARGET --size NB`: the size in bytes, as Nova's `dev.resize(bytes)`. */
  resizeDisk(domain: string, targetDev: string, sizeBytes: number, opts: OpOptions = {}): Promise<void> {
    return inSpan(opts.span, 'virt.resize_disk', { domain, target: targetDev, size_bytes: sizeBytes, hypervisor: 'libvirt' }, async (span) => {
      checkDomainName(domain);
      checkTargetDev(targetDev);
      if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: `size must be a positive whole number of bytes, got ${sizeBytes}` });
      this.#ok(await this.#virsh(span, ['blockresize', domain, targetDev, '--size', `${sizeBytes}B`]), domain);
    });
  }

  listDisks(domain: string, opts: OpOptions = {}): Promise<DiskInfo[]> {
    return inSpan(opts.span, 'virt.list_disks', { domain, hypervisor: 'libvirt' }, (span) => this.#list(span, domain));
  }

  defineSecret(usage: string, value: string, opts: OpOptions = {}): Promise<SecretRef> {
    return inSpan(opts.span, 'virt.define_secret', { usage, hypervisor: 'libvirt' }, async (span) => {
      checkSecretUsage(usage);
      if (typeof value !== 'string' || value.length === 0) {
        throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'secret value must be a non-empty string' });
      }
      const uuid = secretUuidForUsage(usage);
      this.#ok(await this.#virsh(span, ['secret-define', '/dev/stdin'], { input: buildSecretXml(usage) }));
      // The value goes on stdin, raw (`--plain`): `--base64 VALUE` would put it on the command
      // line, where every process on the host can read it (virsh itself warns).
      this.#ok(await this.#virsh(span, ['secret-set-value', uuid, '--file', '/dev/stdin', '--plain'], { input: value, secrets: [value] }), undefined, [value]);
      return { uuid, usage };
    });
  }

  undefineSecret(usage: string, opts: OpOptions = {}): Promise<void> {
    return inSpan(opts.span, 'virt.undefine_secret', { usage, hypervisor: 'libvirt' }, async (span) => {
      checkSecretUsage(usage);
      const r = await this.#virsh(span, ['secret-undefine', secretUuidForUsage(usage)]);
      if (r.code !== 0 && !NO_SUCH_SECRET.test(r.message)) this.#ok(r);
    });
  }

  // --- internals --------------------------------------------------------------------------

  async #list(span: Span | undefined, domain: string): Promise<DiskInfo[]> {
    checkDomainName(domain);
    const r = await this.#virsh(span, ['domblklist', domain, '--details']);
    this.#ok(r, domain);
    return parseDomblklist(r.stdout).map((e) => ({ type: e.type ?? '', device: e.device ?? '', target: e.target, source: e.source }));
  }

  async #hasDisk(span: Span | undefined, domain: string, target: string): Promise<boolean> {
    return (await this.#list(span, domain)).some((d) => d.target === target);
  }

  /** Remove the disk from the persistent definition; `false` when it was not there. */
  async #detachConfig(span: Span | undefined, domain: string, target: string): Promise<boolean> {
    const r = await this.#virsh(span, ['detach-disk', domain, target, '--config']);
    if (r.code !== 0 && NO_SUCH_DISK.test(r.message)) return false;
    // A transient domain has no persistent definition to edit.
    if (r.code !== 0 && /transient domain/.test(r.message)) return false;
    this.#ok(r, domain);
    return true;
  }

  async #virsh(
    span: Span | undefined,
    args: readonly string[],
    extra: { input?: string; secrets?: readonly string[] } = {},
  ): Promise<VirshResult> {
    const full = ['-c', this.#uri, ...args];
    return inSpan(span, 'virsh', { command: args[0] ?? '' }, async (s) => {
      const r = await this.#host.exec('virsh', full, {
        timeoutMs: this.#timeoutMs,
        okCodes: 'any',
        ...(extra.input !== undefined ? { input: extra.input } : {}),
        ...(extra.secrets ? { secrets: extra.secrets } : {}),
      });
      s?.set({ exitCode: r.code });
      const message = r.stderr
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l.startsWith('error: '))
        .map((l) => l.slice('error: '.length))
        .join('; ');
      return { stdout: r.stdout, stderr: r.stderr, code: r.code, message: message || r.stderr.trim() || `virsh exited with ${r.code}` };
    });
  }

  /** Throw the catalog error for a failed virsh call; secrets are masked from the message. */
  #ok(r: VirshResult, domain?: string, secrets: readonly string[] = []): void {
    if (r.code === 0) return;
    let detail = r.message;
    for (const s of secrets) if (s) detail = detail.split(s).join('***');
    if (domain !== undefined && NOT_FOUND.test(detail)) {
      throw new HitchError('HITCH_HYPERVISOR_DOMAIN_NOT_FOUND', { domain }, { message: `Hypervisor error: ${detail}` });
    }
    throw new HitchError('HITCH_HYPERVISOR_ERROR', { detail });
  }
}

function flagsFor(live: boolean, persistent: boolean): string[] {
  if (!live && !persistent) {
    throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'attach needs live, persistent or both' });
  }
  return [...(live ? ['--live'] : []), ...(persistent ? ['--config'] : [])];
}
