/**
 * Validation and escaping of every value Hitch puts into libvirt XML or onto a `virsh` command
 * line. A value that fails here never reaches libvirt: a device name, a path or an IQN that
 * came from a Cinder `connection_info` is untrusted input.
 */
import { HitchError } from '../errors.ts';

/** Escape text for an XML attribute value (double-quoted) or element content. */
export function xmlEscape(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

function invalid(reason: string): HitchError {
  return new HitchError('HITCH_INVALID_ARGUMENT', { reason });
}

/** Control characters never belong in libvirt XML values (and XML 1.0 cannot carry most). */
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Guest disk names Hitch hands out: `vdb` … `vdzz` (virtio-blk only). */
export const TARGET_DEV_RE = /^vd[a-z]{1,2}$/;

export function checkTargetDev(dev: string): string {
  if (typeof dev !== 'string' || !TARGET_DEV_RE.test(dev)) {
    throw invalid(`target device ${JSON.stringify(dev)} is not a virtio disk name (vdb, vdc, … vdzz)`);
  }
  return dev;
}

/**
 * A host block device path: absolute, under `/dev/`, no `..`, `.` or empty components, and only
 * the characters udev uses in its links (`/dev/disk/by-path/ip-192.168.1.60:3260-iscsi-iqn…-lun-192`).
 */
export function checkDevPath(path: string): string {
  if (typeof path !== 'string' || !path.startsWith('/dev/') || path.length > 4096) {
    throw invalid(`block device path ${JSON.stringify(path)} is not under /dev/`);
  }
  const parts = path.slice(1).split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw invalid(`block device path ${JSON.stringify(path)} is not normalised`);
  }
  if (!/^[A-Za-z0-9._:@+,=\\/-]+$/.test(path)) {
    throw invalid(`block device path ${JSON.stringify(path)} has characters udev does not use`);
  }
  return path;
}

/**
 * An iSCSI qualified name in one of RFC 3720's three forms: `iqn.yyyy-mm.reversed.domain[:anything]`,
 * `eui.` + 16 hex digits, `naa.` + 16 or 32 hex digits.
 */
export const ISCSI_NAME_RE = /^(iqn\.\d{4}-\d{2}\.[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[A-Za-z0-9.:_-]+)?|eui\.[0-9A-Fa-f]{16}|naa\.([0-9A-Fa-f]{16}|[0-9A-Fa-f]{32}))$/i;

export function checkIscsiName(name: string, what = 'iSCSI target name'): string {
  if (typeof name !== 'string' || name.length > 223 || !ISCSI_NAME_RE.test(name)) {
    throw invalid(`${what} ${JSON.stringify(name)} is not an IQN, EUI or NAA name`);
  }
  return name;
}

export function checkLun(lun: number): number {
  if (!Number.isInteger(lun) || lun < 0 || lun > 16383) {
    throw invalid(`LUN ${JSON.stringify(lun)} is not an integer in 0..16383`);
  }
  return lun;
}

/** A portal host: an IPv4 address, a bracket-less IPv6 address, or a DNS name. */
export function checkPortalHost(host: string): string {
  const ok =
    typeof host === 'string' &&
    host.length <= 253 &&
    (/^\d{1,3}(\.\d{1,3}){3}$/.test(host) ||
      /^[0-9A-Fa-f:.]+$/.test(host) && host.includes(':') ||
      /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(host));
  if (!ok) throw invalid(`portal host ${JSON.stringify(host)} is not an address or host name`);
  return host;
}

export function checkPort(port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw invalid(`port ${JSON.stringify(port)} is not in 1..65535`);
  }
  return port;
}

/**
 * A disk serial: libvirt accepts only `[A-Za-z0-9_ .+-]` (its VIR_DOMAIN_DISK_SERIAL_CHARS);
 * Nova puts the volume id there, which the guest sees as `/dev/disk/by-id/virtio-<serial>`.
 */
export function checkSerial(serial: string): string {
  // No space at either end: XML readers (and people) trim them, so it would not read back the same.
  if (typeof serial !== 'string' || serial.length > 256 || !/^[A-Za-z0-9_.+-]([A-Za-z0-9_ .+-]*[A-Za-z0-9_.+-])?$/.test(serial)) {
    throw invalid(`disk serial ${JSON.stringify(serial)} must be 1..256 of [A-Za-z0-9_ .+-], no space at either end`);
  }
  return serial;
}

/** A libvirt secret usage id for iSCSI (`<usage type="iscsi"><target>…</target>`). */
export function checkSecretUsage(usage: string): string {
  // Long enough for `hitch-iscsi-` + a 223-character IQN (brick's chapSecretUsage).
  if (typeof usage !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,254}$/.test(usage)) {
    throw invalid(`secret usage ${JSON.stringify(usage)} must be 1..255 of [A-Za-z0-9_.:-]`);
  }
  return usage;
}

/** A CHAP user name: printable, no control characters (it is escaped, not restricted further). */
export function checkChapUsername(username: string): string {
  if (typeof username !== 'string' || username.length === 0 || username.length > 255 || CONTROL.test(username) || username.trim() !== username) {
    throw invalid('CHAP user name must be 1..255 printable characters, no space at either end');
  }
  return username;
}

/**
 * A domain name as Hitch names servers (`instance-0000002a`, `hitch-<uuid>`). No leading `-`, so a
 * name can never be taken for a `virsh` option.
 */
export function checkDomainName(name: string): string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}$/.test(name)) {
    throw invalid(`domain name ${JSON.stringify(name)} must be 1..64 of [A-Za-z0-9_.+-], not starting with -`);
  }
  return name;
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function checkUuid(uuid: string, what = 'UUID'): string {
  if (typeof uuid !== 'string' || !UUID_RE.test(uuid)) {
    throw invalid(`${what} ${JSON.stringify(uuid)} is not a lower-case UUID`);
  }
  return uuid;
}

/** An absolute host file path for a kernel, initrd or console log: no `..`, no control chars. */
export function checkFilePath(path: string, what: string): string {
  if (
    typeof path !== 'string' ||
    !path.startsWith('/') ||
    path.length > 4096 ||
    CONTROL.test(path) ||
    path.split('/').some((p) => p === '..' || p === '.')
  ) {
    throw invalid(`${what} ${JSON.stringify(path)} must be an absolute, normalised path`);
  }
  return path;
}

/** A wait bound in ms: finite and not negative. */
export function checkTimeout(ms: number): number {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
    throw invalid(`timeout ${JSON.stringify(ms)} ms must be a finite number >= 0`);
  }
  return ms;
}
