/**
 * Domain XML for a Hitch server, and the readers of what libvirt says about a domain's disks
 * (`virsh domblklist --details`, `virsh dumpxml`).
 *
 * A server starts with no disks: volumes are hot-plugged. Hot-plug on the default i440fx
 * machine needs ACPI — without `<features><acpi/>` QEMU answers `device_add: Bus 'pci.0' does
 * not support hotplugging` (fixtures/host/libvirt-hotplug-virtio-kvm.txt).
 */
import { HitchError } from '../errors.ts';
import type { DomainSpec } from '../ports/hypervisor.ts';
import { diskFromNode, type ParsedDisk } from './disk-xml.ts';
import { attr, child, children, parseXml, text } from './xml-read.ts';
import { checkDomainName, checkFilePath, checkUuid, xmlEscape } from './xml-values.ts';

function invalid(reason: string): HitchError {
  return new HitchError('HITCH_INVALID_ARGUMENT', { reason });
}

/** Check a spec once; the builder and the simulated hypervisor both rely on it. */
export function checkDomainSpec(spec: DomainSpec): DomainSpec {
  checkDomainName(spec.name);
  checkUuid(spec.uuid, 'domain UUID');
  if (!Number.isInteger(spec.memoryMiB) || spec.memoryMiB < 16 || spec.memoryMiB > 1_048_576) {
    throw invalid(`memory ${JSON.stringify(spec.memoryMiB)} MiB is not an integer in 16..1048576`);
  }
  if (!Number.isInteger(spec.vcpus) || spec.vcpus < 1 || spec.vcpus > 256) {
    throw invalid(`vcpus ${JSON.stringify(spec.vcpus)} is not an integer in 1..256`);
  }
  if (spec.virtType !== 'qemu' && spec.virtType !== 'kvm') {
    throw invalid(`domain type ${JSON.stringify(spec.virtType)} is not qemu or kvm`);
  }
  if (spec.boot && spec.bootsFromVolume) throw invalid('a domain that boots from a volume has no kernel of its own (direct kernel boot)');
  if (spec.boot) {
    checkFilePath(spec.boot.kernel, 'kernel');
    if (spec.boot.initrd !== undefined) checkFilePath(spec.boot.initrd, 'initrd');
    if (spec.boot.cmdline !== undefined && (spec.boot.cmdline.length > 2048 || /[\u0000-\u001f]/.test(spec.boot.cmdline))) {
      throw invalid('kernel command line must be one line of at most 2048 characters');
    }
  }
  if (spec.console && spec.console.kind === 'file') checkFilePath(spec.console.path, 'console log');
  if (spec.console && spec.console.kind !== 'file' && spec.console.kind !== 'pty') {
    throw invalid('console kind must be file or pty');
  }
  if (spec.emulator !== undefined) checkFilePath(spec.emulator, 'emulator');
  return spec;
}

/** Build the domain XML for `virsh define`. */
export function buildDomainXml(spec: DomainSpec): string {
  checkDomainSpec(spec);
  const e = xmlEscape;
  const l: string[] = [
    `<domain type="${spec.virtType}">`,
    `  <name>${e(spec.name)}</name>`,
    `  <uuid>${spec.uuid}</uuid>`,
    `  <memory unit="MiB">${spec.memoryMiB}</memory>`,
    `  <vcpu>${spec.vcpus}</vcpu>`,
    '  <os>',
    '    <type arch="x86_64">hvm</type>',
  ];
  if (spec.boot) {
    l.push(`    <kernel>${e(spec.boot.kernel)}</kernel>`);
    if (spec.boot.initrd !== undefined) l.push(`    <initrd>${e(spec.boot.initrd)}</initrd>`);
    if (spec.boot.cmdline !== undefined) l.push(`    <cmdline>${e(spec.boot.cmdline)}</cmdline>`);
  } else {
    l.push('    <boot dev="hd"/>');
  }
  l.push(
    '  </os>',
    '  <features>',
    '    <acpi/>',
    '    <apic/>',
    '  </features>',
    '  <clock offset="utc"/>',
    '  <on_poweroff>destroy</on_poweroff>',
    '  <on_reboot>restart</on_reboot>',
    '  <on_crash>destroy</on_crash>',
    '  <devices>',
  );
  if (spec.emulator !== undefined) l.push(`    <emulator>${e(spec.emulator)}</emulator>`);
  const con = spec.console ?? { kind: 'pty' };
  if (con.kind === 'file') {
    l.push('    <serial type="file">', `      <source path="${e(con.path)}"/>`, '      <target port="0"/>', '    </serial>');
  } else {
    l.push('    <serial type="pty">', '      <target port="0"/>', '    </serial>');
  }
  // No balloon: one fewer virtio device for the tiny guest to probe, nothing Hitch uses.
  l.push('    <memballoon model="none"/>', '  </devices>', '</domain>');
  return l.join('\n');
}

/** What Hitch reads back from a domain's XML. */
export interface ParsedDomain {
  readonly name: string;
  readonly uuid?: string;
  readonly type: string;
  readonly memoryKiB?: number;
  readonly vcpus?: number;
  readonly acpi: boolean;
  readonly disks: readonly ParsedDisk[];
}

const UNIT_KIB: Readonly<Record<string, number>> = { b: 1 / 1024, bytes: 1 / 1024, k: 1, kib: 1, m: 1024, mib: 1024, g: 1024 * 1024, gib: 1024 * 1024 };

/**
 * Parse a domain document: Hitch's own, or `virsh dumpxml` output such as
 * `<domain type='qemu' id='5'><name>peer-qemu</name>…<devices><disk type='file' device='disk'>…`.
 */
export function parseDomainXml(xml: string): ParsedDomain {
  const doc = parseXml(xml, 'domain XML');
  const dom = child(doc, 'domain');
  if (!dom || !('domain' in doc)) throw invalid('domain XML root must be <domain>');
  const name = text(child(dom, 'name'));
  if (!name) throw invalid('domain XML has no <name>');
  const mem = child(dom, 'memory');
  const memText = text(mem);
  const unit = (attr(mem, 'unit') ?? 'KiB').toLowerCase();
  const factor = UNIT_KIB[unit];
  const vcpuText = text(child(dom, 'vcpu'));
  const uuid = text(child(dom, 'uuid'));
  return {
    name,
    ...(uuid !== undefined ? { uuid } : {}),
    type: attr(dom, 'type') ?? '',
    ...(memText !== undefined && factor !== undefined ? { memoryKiB: Number(memText) * factor } : {}),
    ...(vcpuText !== undefined ? { vcpus: Number(vcpuText) } : {}),
    acpi: child(child(dom, 'features'), 'acpi') !== undefined,
    disks: children(child(dom, 'devices'), 'disk').map(diskFromNode),
  };
}

/** One row of `virsh domblklist`; `type`/`device` only with `--details`. */
export interface BlockListEntry {
  readonly type?: string;
  readonly device?: string;
  readonly target: string;
  /** `-` for an empty drive, as virsh prints it. */
  readonly source: string;
}

/**
 * Parse `virsh domblklist DOMAIN [--details]`. With `--details`:
 *
 *      Type      Device   Target   Source
 *     -----------------------------------------------------------
 *      file      disk     vdb      ./guest/g-file.img
 *      network   disk     vdc      iqn.2024-01.org.peers:vol1/1
 *
 * and without it only ` Target   Source` columns. An empty table has just the two header lines.
 */
export function parseDomblklist(out: string): BlockListEntry[] {
  const lines = out.split('\n').map((s) => s.replace(/\r$/, ''));
  const headerAt = lines.findIndex((s) => /^\s*(Type\s+Device\s+)?Target\s+Source\s*$/.test(s));
  if (headerAt < 0) throw new HitchError('HITCH_HYPERVISOR_ERROR', { detail: `unexpected domblklist output: ${JSON.stringify(out.slice(0, 200))}` });
  const details = /^\s*Type\s/.test(lines[headerAt] ?? '');
  const rows: BlockListEntry[] = [];
  for (const line of lines.slice(headerAt + 1)) {
    if (/^-+\s*$/.test(line) || line.trim() === '') continue;
    const cols = line.trim().split(/\s+/);
    if (details) {
      const [type, device, target, ...rest] = cols;
      if (!type || !device || !target || rest.length === 0) throw new HitchError('HITCH_HYPERVISOR_ERROR', { detail: `unexpected domblklist row: ${JSON.stringify(line)}` });
      rows.push({ type, device, target, source: rest.join(' ') });
    } else {
      const [target, ...rest] = cols;
      if (!target || rest.length === 0) throw new HitchError('HITCH_HYPERVISOR_ERROR', { detail: `unexpected domblklist row: ${JSON.stringify(line)}` });
      rows.push({ target, source: rest.join(' ') });
    }
  }
  return rows;
}
