/**
 * The iSCSI `connection_info` (the `data` dict that Cinder's `os-initialize_connection`
 * returns, with os-brick's keys), validated where JSON enters (`parseIscsiData`), and read into
 * the paths brick logs in to (`IscsiVolume`).
 *
 * Everything in here ends up as an argument of `iscsiadm` or in a sysfs/udev path, so every
 * value is checked against a strict grammar before any command runs: a value that fails is
 * rejected with `HITCH_INVALID_CONNECTION_INFO` naming the field. Hitch never runs a shell, but
 * the grammars still exclude shell metacharacters, whitespace, NUL bytes and `..`, because the
 * same strings are written into node records, log lines and `/dev/disk/by-path` names.
 */
import { HitchError } from '../errors.ts';
import type { IscsiConnectionData } from '../ports/attach.ts';

export type AccessMode = 'rw' | 'ro';

/** One path to the volume: a portal, the target behind it, and the LUN. */
export interface IscsiTarget {
  /** `ip:port` or `[ipv6]:port`, port always present (3260 when the driver left it out). */
  readonly portal: string;
  readonly iqn: string;
  readonly lun: number;
}

export interface ChapCredentials {
  readonly method: 'CHAP';
  readonly username: string;
  readonly password: string;
}

/** An iSCSI connection read for the initiator: its paths, CHAP and access mode. */
export interface IscsiVolume {
  /** Every path, in the driver's order; index 0 is the primary (`target_portal`). */
  readonly targets: readonly IscsiTarget[];
  readonly targetDiscovered: boolean;
  readonly auth: ChapCredentials | null;
  readonly accessMode: AccessMode;
  readonly encrypted: boolean;
  readonly discard: boolean;
  readonly volumeId: string | null;
  readonly qosSpecs: Readonly<Record<string, string | number | boolean | null>> | null;
}

export const MAX_PATHS = 64;
const MAX_LUN = 16_383; // SAM flat-space addressing; arrays in the field stay far below it
const MAX_NAME = 223; // RFC 3720 limit for iSCSI names

/** RFC 3720 §3.2.6: iqn.YYYY-MM.reversed.domain[:anything], eui.<16 hex>, naa.<16|32 hex>. */
const IQN_RE = /^iqn\.\d{4}-(0[1-9]|1[0-2])\.[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[A-Za-z0-9.:_-]+)?$/i;
const EUI_RE = /^eui\.[0-9A-F]{16}$/i;
const NAA_RE = /^naa\.([0-9A-F]{16}|[0-9A-F]{32})$/i;
export const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
export const HOSTNAME_RE = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
export const IPV6_RE = /^[0-9A-Fa-f:.]{2,45}$/;
/** CHAP names and secrets: printable, no whitespace, quotes, `$`, backquote, `;|&<>\`, etc. */
const CHAP_RE = /^[A-Za-z0-9._~@#%+=:,/^!-]{1,255}$/;
export const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

export function bad(field: string, reason: string): never {
  throw new HitchError('HITCH_INVALID_CONNECTION_INFO', { field, reason });
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A key the driver set (own property, not `null`/`undefined`). */
export function has(data: Record<string, unknown>, key: string): boolean {
  return Object.hasOwn(data, key) && data[key] !== null && data[key] !== undefined;
}

/** Reasons common to every string field, checked before the field's own grammar. */
export function checkString(field: string, v: unknown, max: number): string {
  if (typeof v !== 'string') bad(field, `must be a string, got ${v === null ? 'null' : typeof v}`);
  if (v.length === 0) bad(field, 'must not be empty');
  if (v.length > max) bad(field, `is ${v.length} characters long; the limit is ${max}`);
  if (v.includes('\0')) bad(field, 'contains a NUL byte');
  if (/[\s]/.test(v)) bad(field, 'contains whitespace');
  if (/[;&|`$<>(){}'"\\*?!]/.test(v) && field !== 'auth_password') bad(field, 'contains a shell metacharacter');
  if (v.includes('..') && !field.startsWith('auth_')) bad(field, 'contains ".." (path traversal)');
  return v;
}

export function validateIqn(field: string, v: unknown): string {
  const s = checkString(field, v, MAX_NAME);
  if (s.includes('/')) bad(field, 'contains "/"');
  if (!IQN_RE.test(s) && !EUI_RE.test(s) && !NAA_RE.test(s)) {
    bad(field, `"${s}" is not an iSCSI name (iqn.YYYY-MM.domain[:id], eui.<16 hex> or naa.<hex>)`);
  }
  return s;
}

/** `ip:port`, `[ipv6]:port`, `host:port`, or any of them without a port (3260 assumed). */
export function validatePortal(field: string, v: unknown): string {
  const s = checkString(field, v, 300);
  let host: string;
  let port = '3260';
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (v6) {
    host = v6[1] ?? '';
    if (!IPV6_RE.test(host) || !host.includes(':')) bad(field, `"${s}" has an invalid IPv6 address`);
    if (v6[2] !== undefined) port = v6[2];
  } else {
    const m = /^([^:]+)(?::(\d+))?$/.exec(s);
    if (!m) bad(field, `"${s}" is not host:port`);
    host = m[1] ?? '';
    if (m[2] !== undefined) port = m[2];
    const looksNumeric = /^[\d.]+$/.test(host);
    if (looksNumeric ? !IPV4_RE.test(host) : !HOSTNAME_RE.test(host)) bad(field, `"${s}" has an invalid address`);
  }
  const n = Number(port);
  if (!/^\d{1,5}$/.test(port) || n < 1 || n > 65535) bad(field, `"${s}" has an invalid port`);
  return v6 ? `[${host}]:${n}` : `${host}:${n}`;
}

export function validateLun(field: string, v: unknown): number {
  if (typeof v !== 'number') bad(field, `must be an integer, got ${v === null ? 'null' : typeof v}`);
  if (!Number.isInteger(v)) bad(field, `${v} is not an integer`);
  if (v < 0 || v > MAX_LUN) bad(field, `${v} is outside 0..${MAX_LUN}`);
  return v;
}

export function optBool(data: Record<string, unknown>, key: string): boolean {
  if (!has(data, key)) return false;
  const v = data[key];
  if (typeof v !== 'boolean') bad(key, `must be a boolean, got ${typeof v}`);
  return v;
}

function list<T>(data: Record<string, unknown>, key: string, check: (field: string, v: unknown) => T): T[] | null {
  if (!has(data, key)) return null;
  const v = data[key];
  if (!Array.isArray(v)) bad(key, `must be a list, got ${typeof v}`);
  if (v.length === 0) bad(key, 'must not be empty');
  if (v.length > MAX_PATHS) bad(key, `has ${v.length} entries; the limit is ${MAX_PATHS}`);
  return v.map((item, i) => check(`${key}[${i}]`, item));
}

function parseAuth(data: Record<string, unknown>): ChapCredentials | null {
  if (!has(data, 'auth_method')) return null;
  const m = data['auth_method'];
  if (typeof m !== 'string') bad('auth_method', `must be a string, got ${typeof m}`);
  if (m === 'None' || m === 'none') return null;
  if (m.toUpperCase() !== 'CHAP') bad('auth_method', `"${m.slice(0, 40)}" is not supported (only CHAP)`);
  const username = checkString('auth_username', data['auth_username'], 255);
  const password = checkString('auth_password', data['auth_password'], 255);
  if (!CHAP_RE.test(username)) bad('auth_username', 'contains characters outside the CHAP name alphabet');
  // The secret is never shown, not even in the error.
  if (!CHAP_RE.test(password)) bad('auth_password', 'contains characters outside the CHAP secret alphabet');
  return { method: 'CHAP', username, password };
}

export function parseQos(data: Record<string, unknown>): IscsiVolume['qosSpecs'] {
  if (!has(data, 'qos_specs')) return null;
  const q = data['qos_specs'];
  if (!isRecord(q)) bad('qos_specs', 'must be an object or null');
  const out: Record<string, string | number | boolean | null> = {};
  for (const [k, v] of Object.entries(q)) {
    if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(k)) bad('qos_specs', `has an invalid key "${k.slice(0, 64)}"`);
    if (typeof v === 'string' && v.length <= 255 && !v.includes('\0')) out[k] = v;
    else if ((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean' || v === null) out[k] = v;
    else bad(`qos_specs.${k}`, 'must be a short string, a finite number, a boolean or null');
  }
  return Object.freeze(out);
}

/**
 * Validate the `data` dict of an iSCSI `connection_info` and read its paths. Multipath keys
 * (`target_portals`, `target_iqns`, `target_luns`) win over the single ones, as in os-brick; a
 * missing `target_iqns` or `target_luns` repeats the single value for every portal.
 */
export function parseIscsiVolume(raw: unknown): IscsiVolume {
  if (!isRecord(raw)) bad('data', 'must be an object');
  const data = raw;

  const portals = list(data, 'target_portals', validatePortal);
  const iqns = list(data, 'target_iqns', validateIqn);
  const luns = list(data, 'target_luns', validateLun);
  const portal = has(data, 'target_portal') ? validatePortal('target_portal', data['target_portal']) : null;
  const iqn = has(data, 'target_iqn') ? validateIqn('target_iqn', data['target_iqn']) : null;
  const lun = has(data, 'target_lun') ? validateLun('target_lun', data['target_lun']) : null;

  const allPortals = portals ?? (portal !== null ? [portal] : bad('target_portal', 'is required'));
  const n = allPortals.length;
  const allIqns = iqns ?? (iqn !== null ? Array<string>(n).fill(iqn) : bad('target_iqn', 'is required'));
  const allLuns = luns ?? (lun !== null ? Array<number>(n).fill(lun) : bad('target_lun', 'is required'));
  if (allIqns.length !== n) bad('target_iqns', `has ${allIqns.length} entries but target_portals has ${n}`);
  if (allLuns.length !== n) bad('target_luns', `has ${allLuns.length} entries but target_portals has ${n}`);

  const targets: IscsiTarget[] = allPortals.map((p, i) => ({ portal: p, iqn: allIqns[i] ?? '', lun: allLuns[i] ?? 0 }));
  const seen = new Set<string>();
  for (const t of targets) {
    const key = `${t.portal} ${t.iqn} ${t.lun}`;
    if (seen.has(key)) bad('target_portals', `lists ${t.portal} ${t.iqn} LUN ${t.lun} twice`);
    seen.add(key);
  }

  let accessMode: AccessMode = 'rw';
  if (has(data, 'access_mode')) {
    const a = data['access_mode'];
    if (a !== 'rw' && a !== 'ro') bad('access_mode', 'must be "rw" or "ro"');
    accessMode = a;
  }
  let volumeId: string | null = null;
  if (has(data, 'volume_id')) {
    volumeId = checkString('volume_id', data['volume_id'], 36);
    if (!UUID_RE.test(volumeId)) bad('volume_id', `"${volumeId}" is not a UUID`);
  }

  return Object.freeze({
    targets: Object.freeze(targets.map((t) => Object.freeze(t))),
    targetDiscovered: optBool(data, 'target_discovered'),
    auth: parseAuth(data),
    accessMode,
    encrypted: optBool(data, 'encrypted'),
    discard: optBool(data, 'discard'),
    volumeId,
    qosSpecs: parseQos(data),
  });
}

type MutableData = { -readonly [K in keyof IscsiConnectionData]: IscsiConnectionData[K] };

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
const isNumbers = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === 'number');

/** Read already-validated data once per object (the edge hands brick what it checked). */
const VOLUMES = new WeakMap<IscsiConnectionData, IscsiVolume>();

/**
 * The JSON edge for iSCSI: check `raw` as `parseIscsiVolume` does (throwing
 * `HITCH_INVALID_CONNECTION_INFO` naming the field), then return its data typed — the same keys
 * and values in the sender's order (it is stored and shown as it came), without keys Hitch does
 * not read.
 */
export function parseIscsiData(raw: unknown): IscsiConnectionData {
  const volume = parseIscsiVolume(raw);
  if (!isRecord(raw)) bad('data', 'must be an object');
  const out: MutableData = {};
  for (const [k, v] of Object.entries(raw)) {
    switch (k) {
      case 'target_portal':
      case 'target_iqn':
      case 'volume_id':
      case 'auth_method':
      case 'auth_username':
      case 'auth_password':
        if (typeof v === 'string') out[k] = v;
        break;
      case 'target_lun':
        if (typeof v === 'number') out[k] = v;
        break;
      case 'target_portals':
      case 'target_iqns':
        if (isStrings(v)) out[k] = Object.freeze([...v]);
        break;
      case 'target_luns':
        if (isNumbers(v)) out[k] = Object.freeze([...v]);
        break;
      case 'target_discovered':
      case 'encrypted':
      case 'cacheable':
      case 'discard':
        if (typeof v === 'boolean') out[k] = v;
        break;
      case 'access_mode':
        if (v === 'rw' || v === 'ro') out[k] = v;
        break;
      case 'qos_specs':
        if (v === null) out[k] = null;
        else if (volume.qosSpecs) out[k] = volume.qosSpecs;
        break;
    }
  }
  Object.freeze(out);
  VOLUMES.set(out, volume);
  return out;
}

/** The paths, CHAP and access mode of typed data (validated here when it did not come through `parseIscsiData`). */
export function iscsiVolume(data: IscsiConnectionData): IscsiVolume {
  let v = VOLUMES.get(data);
  if (!v) {
    v = parseIscsiVolume(data);
    VOLUMES.set(data, v);
  }
  return v;
}

/** Key of the lock and session a target path uses: one per portal and IQN. */
export function targetKey(t: Pick<IscsiTarget, 'portal' | 'iqn'>): string {
  return `${t.portal},${t.iqn}`;
}

/** The udev link a path's SCSI disk gets: `/dev/disk/by-path/ip-<portal>-iscsi-<iqn>-lun-<lun>`. */
export function byPathLink(t: IscsiTarget): string {
  return `/dev/disk/by-path/ip-${t.portal}-iscsi-${t.iqn}-lun-${t.lun}`;
}
