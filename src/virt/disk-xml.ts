/**
 * The libvirt `<disk>` element Hitch hot-plugs into a guest (seed step 7), and its parser.
 *
 * The block form is byte for byte what Nova logs in the seed (`attach device xml:` in
 * nova/virt/libvirt/guest.py), with the path of the host device os-brick returned:
 *
 *     <disk type="block" device="disk">
 *       <driver name="qemu" type="raw" cache="none" io="native"/>
 *       <source dev="/dev/disk/by-id/dm-uuid-mpath-36006016015e03a00ab2df25bb82d0ea9"/>
 *       <target bus="virtio" dev="vdb"/>
 *       <serial>5ed0cc5c-158c-4857-9bd5-3556884a23f0</serial>
 *     </disk>
 *
 * The network form is QEMU-native iSCSI (QEMU's libiscsi initiator, no host block device):
 * libvirt accepts exactly one `<host>` for protocol `iscsi`, so multipath is not available in
 * this mode. `io="native"` is left out there: it is a property of QEMU's host-file/host-device
 * backend, and the iSCSI backend does its own asynchronous I/O.
 */
import { HitchError } from '../errors.ts';
import {
  checkChapUsername,
  checkDevPath,
  checkIscsiName,
  checkLun,
  checkPort,
  checkPortalHost,
  checkSecretUsage,
  checkSerial,
  checkTargetDev,
  xmlEscape,
} from './xml-values.ts';
import type { DiskSource } from '../ports/hypervisor.ts';
import { attr, child, children, has, parseXml, text, type XmlNode } from './xml-read.ts';

export interface DiskXmlSpec {
  readonly source: DiskSource;
  /** Guest device name, `vdb` … `vdzz`. */
  readonly targetDev: string;
  /** The volume id; the guest sees it as `/dev/disk/by-id/virtio-<serial>`. */
  readonly serial: string;
  /** `connection_info.data.access_mode`; `ro` adds `<readonly/>`. Default `rw`. */
  readonly accessMode?: 'rw' | 'ro';
  /** A multiattach volume: `<shareable/>`, so QEMU lets several guests open it read-write. */
  readonly shareable?: boolean;
}

/** Build the `<disk>` element for `attach-device`; every value is validated and escaped. */
export function buildDiskXml(spec: DiskXmlSpec): string {
  const dev = checkTargetDev(spec.targetDev);
  const serial = checkSerial(spec.serial);
  const mode = spec.accessMode ?? 'rw';
  if (mode !== 'rw' && mode !== 'ro') {
    throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: `access mode ${JSON.stringify(mode)} is not rw or ro` });
  }
  const e = xmlEscape;
  const lines: string[] = [];
  const src = spec.source;
  if (src.kind === 'block') {
    const path = checkDevPath(src.path);
    lines.push(
      '<disk type="block" device="disk">',
      '  <driver name="qemu" type="raw" cache="none" io="native"/>',
      `  <source dev="${e(path)}"/>`,
    );
  } else if (src.kind === 'iscsi') {
    const name = `${checkIscsiName(src.iqn)}/${checkLun(src.lun)}`;
    const host = checkPortalHost(src.host.name);
    const port = checkPort(src.host.port);
    lines.push(
      '<disk type="network" device="disk">',
      '  <driver name="qemu" type="raw" cache="none"/>',
      `  <source protocol="iscsi" name="${e(name)}">`,
      `    <host name="${e(host)}" port="${port}"/>`,
    );
    if (src.initiatorIqn !== undefined) {
      const ini = checkIscsiName(src.initiatorIqn, 'initiator name');
      lines.push('    <initiator>', `      <iqn name="${e(ini)}"/>`, '    </initiator>');
    }
    lines.push('  </source>');
    if (src.auth) {
      const user = checkChapUsername(src.auth.username);
      const usage = checkSecretUsage(src.auth.secretUsage);
      lines.push(`  <auth username="${e(user)}">`, `    <secret type="iscsi" usage="${e(usage)}"/>`, '  </auth>');
    }
  } else {
    const kind = (src as { kind?: unknown }).kind;
    throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: `disk source kind ${JSON.stringify(kind)} is not block or iscsi` });
  }
  lines.push(`  <target bus="virtio" dev="${e(dev)}"/>`, `  <serial>${e(serial)}</serial>`);
  if (mode === 'ro') lines.push('  <readonly/>');
  if (spec.shareable === true) lines.push('  <shareable/>');
  lines.push('</disk>');
  return lines.join('\n');
}

/** A `<disk>` element as read back from XML (Hitch's own, or libvirt's `dumpxml`). */
export interface ParsedDisk {
  /** `block`, `network`, `file`, … */
  readonly type: string;
  /** `disk`, `cdrom`, `lun`, … */
  readonly device: string;
  readonly driver?: { readonly name?: string; readonly type?: string; readonly cache?: string; readonly io?: string };
  readonly source: {
    readonly dev?: string;
    readonly file?: string;
    readonly protocol?: string;
    readonly name?: string;
    readonly hosts: readonly { readonly name?: string; readonly port?: string }[];
    readonly initiatorIqn?: string;
  };
  readonly target: { readonly dev: string; readonly bus?: string };
  readonly serial?: string;
  readonly readOnly: boolean;
  readonly shareable: boolean;
  readonly auth?: { readonly username?: string; readonly secretType?: string; readonly secretUsage?: string; readonly secretUuid?: string };
  /** libvirt's device alias once attached (`virtio-disk1`). */
  readonly alias?: string;
}

/** Parse one `<disk>` document (what `attach-device` would be given). */
export function parseDiskXml(xml: string): ParsedDisk {
  const doc = parseXml(xml, 'disk XML');
  const roots = Object.keys(doc).filter((k) => k !== '?xml');
  if (roots.length !== 1 || roots[0] !== 'disk') {
    throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: `disk XML root must be <disk>, found ${roots.map((r) => `<${r}>`).join(', ') || 'none'}` });
  }
  const disks = children(doc, 'disk');
  if (disks.length !== 1 || !disks[0]) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'disk XML must hold one <disk>' });
  return diskFromNode(disks[0]);
}

/** Read a parsed `<disk>` node; throws when it has no `<target dev=…>`. */
export function diskFromNode(node: XmlNode): ParsedDisk {
  const driverNode = child(node, 'driver');
  const sourceNode = child(node, 'source');
  const targetNode = child(node, 'target');
  const authNode = child(node, 'auth') ?? child(sourceNode, 'auth');
  const secretNode = child(authNode, 'secret');
  const targetDev = attr(targetNode, 'dev');
  if (!targetDev) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'disk XML has no <target dev=…>' });
  const initiator = attr(child(child(sourceNode, 'initiator'), 'iqn'), 'name');
  return {
    type: attr(node, 'type') ?? 'file',
    device: attr(node, 'device') ?? 'disk',
    ...(driverNode
      ? {
          driver: dropUndefined({
            name: attr(driverNode, 'name'),
            type: attr(driverNode, 'type'),
            cache: attr(driverNode, 'cache'),
            io: attr(driverNode, 'io'),
          }),
        }
      : {}),
    source: {
      ...dropUndefined({
        dev: attr(sourceNode, 'dev'),
        file: attr(sourceNode, 'file'),
        protocol: attr(sourceNode, 'protocol'),
        name: attr(sourceNode, 'name'),
        initiatorIqn: initiator,
      }),
      hosts: children(sourceNode, 'host').map((h) => dropUndefined({ name: attr(h, 'name'), port: attr(h, 'port') })),
    },
    target: { dev: targetDev, ...dropUndefined({ bus: attr(targetNode, 'bus') }) },
    ...(has(node, 'serial') ? { serial: text(child(node, 'serial')) ?? '' } : {}),
    readOnly: has(node, 'readonly'),
    shareable: has(node, 'shareable'),
    ...(authNode
      ? {
          auth: dropUndefined({
            username: attr(authNode, 'username'),
            secretType: attr(secretNode, 'type'),
            secretUsage: attr(secretNode, 'usage'),
            secretUuid: attr(secretNode, 'uuid'),
          }),
        }
      : {}),
    ...(attr(child(node, 'alias'), 'name') !== undefined ? { alias: attr(child(node, 'alias'), 'name') } : {}),
  };
}

/** The single source string `domblklist` would show for this disk (`/dev/sdb`, `iqn…/1`, `-`). */
export function diskSourceLabel(d: ParsedDisk): string {
  return d.source.dev ?? d.source.file ?? d.source.name ?? '-';
}

/** Omit absent attributes, so a parsed disk compares equal to a literal without `undefined`s. */
function dropUndefined<T extends Record<string, unknown>>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as { [K in keyof T]?: Exclude<T[K], undefined> };
}

/**
 * The checks both drivers make on a `<disk>` before plugging it: well-formed, one virtio disk
 * with a `vdX` target and a source Hitch could have produced (a `/dev/` block device, or an iSCSI
 * network source with exactly one host). Returns the parsed disk.
 */
export function checkDiskForAttach(xml: string): ParsedDisk {
  const d = parseDiskXml(xml);
  const bad = (reason: string): HitchError => new HitchError('HITCH_INVALID_ARGUMENT', { reason: `disk XML: ${reason}` });
  checkTargetDev(d.target.dev);
  if (d.target.bus !== 'virtio') throw bad(`target bus ${JSON.stringify(d.target.bus ?? null)} is not virtio`);
  if (d.device !== 'disk') throw bad(`device ${JSON.stringify(d.device)} is not disk`);
  if (d.type === 'block') {
    if (d.source.dev === undefined) throw bad('block disk has no <source dev=…>');
    checkDevPath(d.source.dev);
  } else if (d.type === 'network') {
    if (d.source.protocol !== 'iscsi') throw bad(`network protocol ${JSON.stringify(d.source.protocol ?? null)} is not iscsi`);
    const m = /^(.+)\/(\d+)$/.exec(d.source.name ?? '');
    if (!m || m[1] === undefined || m[2] === undefined) throw bad('iSCSI source name must be IQN/LUN');
    checkIscsiName(m[1]);
    checkLun(Number(m[2]));
    const [host, ...more] = d.source.hosts;
    if (!host || more.length > 0) throw bad('an iSCSI source needs exactly one <host>');
    checkPortalHost(host.name ?? '');
    checkPort(Number(host.port ?? '3260'));
    if (d.auth && (d.auth.secretType !== 'iscsi' || (d.auth.secretUsage === undefined && d.auth.secretUuid === undefined))) {
      throw bad('iSCSI <auth> needs <secret type="iscsi" usage=…/>');
    }
  } else {
    throw bad(`disk type ${JSON.stringify(d.type)} is not block or network`);
  }
  if (d.serial !== undefined) checkSerial(d.serial);
  return d;
}
