/**
 * A Host whose `virsh` is played by a SimHypervisor, answering with virsh's own text and exit
 * codes (fixtures/host/libvirt-*.txt). It lets the libvirt driver run the conformance suite
 * before a real libvirt is available: the driver's parsing, its error mapping and its
 * detach loop meet a hypervisor that behaves, including a guest that never lets go (virsh then
 * waits 5 s and says "Disk detached successfully" anyway, as the real one does).
 */
import { HitchError, isHitchError } from '../errors.ts';
import type { Clock, ExecResult } from '../ports/host.ts';
import { parseDomainXml } from '../virt/domain-xml.ts';
import type { DomainSpec } from '../ports/hypervisor.ts';
import type { SimHypervisor } from '../sim/sim-hypervisor.ts';
import { attr, child, parseXml, text } from '../virt/xml-read.ts';
import { ScriptedHost } from './scripted-host.ts';

/** How long virsh waits for the guest's DEVICE_DELETED event before returning. */
const VIRSH_UNPLUG_WAIT_MS = 5000;

/** A ScriptedHost whose script is virsh, played by `sim`. */
export function virshEmulatorHost(sim: SimHypervisor, clock: Clock): ScriptedHost {
  const virsh = new VirshEmulator(sim);
  return new ScriptedHost((cmd, args, opts) => virsh.answer(cmd, args, opts.input ?? ''), { clock });
}

class VirshEmulator {
  readonly #sim: SimHypervisor;
  readonly #defined = new Map<string, DomainSpec>();
  readonly #secretUsage = new Map<string, string>();

  constructor(sim: SimHypervisor) {
    this.#sim = sim;
  }

  async answer(cmd: string, args: readonly string[], input: string): Promise<ExecResult> {
    if (cmd !== 'virsh' || args[0] !== '-c') throw new Error(`emulator only runs virsh -c URI …, got ${cmd} ${args.join(' ')}`);
    const [sub, ...rest] = args.slice(2);
    try {
      return ok(await this.#run(sub ?? '', rest, input));
    } catch (e) {
      if (e instanceof VirshFailure) return { code: 1, stdout: '', stderr: e.lines.map((l) => `error: ${l}\n`).join('') };
      throw e;
    }
  }

  async #run(sub: string, rest: string[], input: string): Promise<string> {
    const sim = this.#sim;
    const name = rest[0] ?? '';
    const flag = (f: string): boolean => rest.includes(f);
    switch (sub) {
      case 'define': {
        const d = parseDomainXml(input);
        const type = d.type === 'kvm' ? 'kvm' : 'qemu';
        this.#defined.set(d.name, { name: d.name, uuid: d.uuid ?? '', memoryMiB: Math.round((d.memoryKiB ?? 0) / 1024), vcpus: d.vcpus ?? 1, virtType: type });
        return `Domain '${d.name}' defined from ${rest[0]}\n`;
      }
      case 'start': {
        const state = await sim.domainState(name);
        if (state === 'running') throw new VirshFailure(`Failed to start domain '${name}'`, 'Requested operation is not valid: domain is already active');
        const spec = this.#defined.get(name);
        if (!spec) throw new VirshFailure(`failed to get domain '${name}'`);
        await this.#sim.defineAndStart(spec).catch(rethrow(`Failed to start domain '${name}'`));
        return `Domain '${name}' started\n`;
      }
      case 'destroy': {
        const state = await this.#state(name);
        if (state !== 'running') throw new VirshFailure(`Failed to destroy domain '${name}'`, 'Requested operation is not valid: domain is not running');
        await sim.destroy(name);
        return `Domain '${name}' destroyed\n`;
      }
      case 'undefine':
        await this.#state(name);
        await sim.undefine(name);
        this.#defined.delete(name);
        return `Domain '${name}' has been undefined\n`;
      case 'domuuid': {
        await this.#state(name);
        return `${sim.domain(name)?.uuid ?? ''}\n\n`;
      }
      case 'domstate':
        return `${await this.#state(name)}\n\n`;
      case 'attach-device':
        await this.#state(name);
        await sim.attachDisk(name, input, { live: flag('--live'), persistent: flag('--config') }).catch(rethrow(`Failed to attach device from ${rest[1]}`));
        return 'Device attached successfully\n';
      case 'detach-disk': {
        await this.#state(name);
        const target = rest[1] ?? '';
        const view = sim.domain(name);
        const live = flag('--live');
        const inCopy = (live ? view?.liveDisks : view?.configDisks)?.some((x) => x.target === target);
        if (!inCopy) throw new VirshFailure(`No disk found whose source path or target is ${target}`);
        try {
          await sim.detachDisk(name, target, { timeoutMs: live ? VIRSH_UNPLUG_WAIT_MS : 0, persistent: !live });
        } catch (e) {
          if (!isHitchError(e, 'HITCH_HYPERVISOR_DETACH_TIMEOUT')) rethrow('Failed to detach disk')(e);
        }
        return 'Disk detached successfully\n';
      }
      case 'domblklist': {
        await this.#state(name);
        const disks = await sim.listDisks(name);
        const rows = disks.map((d) => ` ${d.type.padEnd(9)} ${d.device.padEnd(8)} ${d.target.padEnd(8)} ${d.source}\n`);
        return ` Type      Device   Target   Source\n${'-'.repeat(40)}\n${rows.join('')}\n`;
      }
      case 'secret-define': {
        const doc = parseXml(input, 'secret XML');
        const secret = child(doc, 'secret');
        const uuid = text(child(secret, 'uuid')) ?? '';
        const usage = child(secret, 'usage');
        if (attr(usage, 'type') !== 'iscsi') throw new VirshFailure('unsupported configuration: only iscsi secrets are emulated');
        this.#secretUsage.set(uuid, text(child(usage, 'target')) ?? '');
        return `Secret ${uuid} created\n`;
      }
      case 'secret-set-value': {
        const usage = this.#secretUsage.get(name);
        if (usage === undefined) throw new VirshFailure(`failed to get secret '${name}'`, `Secret not found: no secret with matching uuid '${name}'`);
        if (!flag('--plain') || rest[2] !== '/dev/stdin') throw new VirshFailure('emulator: expected --file /dev/stdin --plain');
        await sim.defineSecret(usage, input);
        return 'Secret value set\n';
      }
      case 'secret-undefine': {
        const usage = this.#secretUsage.get(name);
        if (usage === undefined) throw new VirshFailure(`failed to get secret '${name}'`, `Secret not found: no secret with matching uuid '${name}'`);
        this.#secretUsage.delete(name);
        await sim.undefineSecret(usage);
        return `Secret ${name} deleted\n`;
      }
      default:
        throw new VirshFailure(`unknown command: '${sub}'`);
    }
  }

  async #state(name: string): Promise<string> {
    const state = await this.#sim.domainState(name);
    if (state === null) throw new VirshFailure(`failed to get domain '${name}'`);
    return state;
  }
}

class VirshFailure extends Error {
  readonly lines: string[];
  constructor(...lines: string[]) {
    super(lines.join('; '));
    this.lines = lines;
  }
}

function ok(stdout: string): ExecResult {
  return { code: 0, stdout, stderr: '' };
}

/** A sim refusal becomes virsh's two error lines: what failed, then libvirt's reason. */
function rethrow(what: string): (e: unknown) => never {
  return (e) => {
    if (isHitchError(e, 'HITCH_HYPERVISOR_ERROR')) throw new VirshFailure(what, String(e.details.detail));
    if (e instanceof HitchError && e.code !== 'HITCH_INTERNAL') throw new VirshFailure(what, e.message);
    throw e;
  };
}
