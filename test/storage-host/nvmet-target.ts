/**
 * Inside the storage host guest: the kernel's NVMe target (nvmet, nvmet-tcp) configured through
 * configfs, and what the NVMe initiator side holds. The test runner's tool, not Hitch's.
 *
 * A subsystem's namespaces are sparse files under /tmp (nvmet's file backend); ports listen on
 * the guest's loopback addresses. `reset()` disconnects every controller and removes every port,
 * subsystem and namespace, so each case starts from nothing.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { must, sh } from '../../src/test-support/storage-host/guest/storage.ts';

const ROOT = '/sys/kernel/config/nvmet';

export interface NamespaceSpec {
  readonly nsid: number;
  readonly uuid: string;
  readonly sizeMb?: number;
}

function ls(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

function read(p: string): string {
  try {
    return readFileSync(p, 'utf8').trim();
  } catch {
    return '';
  }
}

/** What the NVMe initiator side holds: controllers, subsystems, namespace block devices. */
export interface NvmeLeftovers {
  readonly controllers: string[];
  readonly subsystems: string[];
  readonly devices: string[];
}

export function nvmeLeftovers(): NvmeLeftovers {
  return {
    controllers: ls('/sys/class/nvme').map((c) => `${c} ${read(`/sys/class/nvme/${c}/state`)} ${read(`/sys/class/nvme/${c}/subsysnqn`)}`),
    subsystems: ls('/sys/class/nvme-subsystem').map((s) => `${s} ${read(`/sys/class/nvme-subsystem/${s}/subsysnqn`)}`),
    devices: ls('/sys/class/block').filter((b) => b.startsWith('nvme')),
  };
}

export function nvmeIsClean(l: NvmeLeftovers): boolean {
  return l.controllers.length + l.subsystems.length + l.devices.length === 0;
}

export class NvmetTarget {
  async ensureModules(): Promise<void> {
    await must('modprobe', ['-a', 'nvmet', 'nvmet_tcp', 'nvme_tcp']);
    if (!existsSync(ROOT)) throw new Error(`${ROOT} missing after modprobe nvmet (configfs not mounted?)`);
  }

  /** Disconnect every controller, then remove every port link, port, namespace and subsystem. */
  async reset(): Promise<void> {
    await this.ensureModules();
    if (ls('/sys/class/nvme').length > 0) await sh('nvme', ['disconnect-all']);
    for (const port of ls(`${ROOT}/ports`)) {
      for (const s of ls(`${ROOT}/ports/${port}/subsystems`)) unlinkSync(`${ROOT}/ports/${port}/subsystems/${s}`);
      rmdirSync(`${ROOT}/ports/${port}`);
    }
    for (const nqn of ls(`${ROOT}/subsystems`)) {
      for (const h of ls(`${ROOT}/subsystems/${nqn}/allowed_hosts`)) unlinkSync(`${ROOT}/subsystems/${nqn}/allowed_hosts/${h}`);
      for (const ns of ls(`${ROOT}/subsystems/${nqn}/namespaces`)) {
        writeFileSync(`${ROOT}/subsystems/${nqn}/namespaces/${ns}/enable`, '0');
        rmdirSync(`${ROOT}/subsystems/${nqn}/namespaces/${ns}`);
      }
      rmdirSync(`${ROOT}/subsystems/${nqn}`);
    }
    for (const h of ls(`${ROOT}/hosts`)) rmdirSync(`${ROOT}/hosts/${h}`);
    for (const f of ls('/tmp').filter((n) => n.startsWith('nvmet-ns-'))) unlinkSync(`/tmp/${f}`);
  }

  /** A subsystem any host may connect to, with its namespaces (sparse files) and, when given, its serial. */
  async addSubsystem(nqn: string, namespaces: readonly NamespaceSpec[], serial?: string): Promise<void> {
    const dir = `${ROOT}/subsystems/${nqn}`;
    mkdirSync(dir);
    writeFileSync(`${dir}/attr_allow_any_host`, '1');
    if (serial !== undefined) writeFileSync(`${dir}/attr_serial`, serial);
    for (const ns of namespaces) await this.addNamespace(nqn, ns);
  }

  async addNamespace(nqn: string, ns: NamespaceSpec): Promise<void> {
    const file = `/tmp/nvmet-ns-${nqn.replace(/[^A-Za-z0-9.-]/g, '_')}-${ns.nsid}`;
    await must('truncate', ['-s', `${ns.sizeMb ?? 64}M`, file]);
    const d = `${ROOT}/subsystems/${nqn}/namespaces/${ns.nsid}`;
    mkdirSync(d);
    writeFileSync(`${d}/device_path`, file);
    writeFileSync(`${d}/device_uuid`, ns.uuid);
    // The file sits on tmpfs, which has no O_DIRECT: nvmet must use the page cache.
    writeFileSync(`${d}/buffered_io`, '1');
    writeFileSync(`${d}/enable`, '1');
  }

  async removeNamespace(nqn: string, nsid: number): Promise<void> {
    const d = `${ROOT}/subsystems/${nqn}/namespaces/${nsid}`;
    writeFileSync(`${d}/enable`, '0');
    rmdirSync(d);
  }

  /** A TCP port on `addr:port` exporting `nqns`. */
  async addPort(id: number, addr: string, port: number, nqns: readonly string[]): Promise<void> {
    const d = `${ROOT}/ports/${id}`;
    mkdirSync(d);
    writeFileSync(`${d}/addr_trtype`, 'tcp');
    writeFileSync(`${d}/addr_adrfam`, 'ipv4');
    writeFileSync(`${d}/addr_traddr`, addr);
    writeFileSync(`${d}/addr_trsvcid`, String(port));
    for (const nqn of nqns) symlinkSync(`${ROOT}/subsystems/${nqn}`, `${d}/subsystems/${nqn}`);
  }
}
