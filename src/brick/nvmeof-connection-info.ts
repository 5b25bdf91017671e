/**
 * The NVMe-oF `connection_info` (`driver_volume_type: "nvmeof"`, the `data` Cinder's NVMe-oF
 * drivers return, in os-brick's shape), validated where JSON enters (`parseNvmeofData`) and read
 * into what brick connects to (`NvmeVolume`).
 *
 * Every value ends up as an argument of `nvme connect`, in a sysfs comparison or in a log line,
 * so each is checked against its grammar before any command runs; a value that fails is
 * `HITCH_INVALID_CONNECTION_INFO` naming the field. Hitch speaks NVMe over TCP only: a portal
 * with another transport (`rdma`, `RoCEv2`, `fc`) is refused by name rather than tried as TCP
 * (os-brick treats anything but `RoCEv2` as TCP).
 */
import type { NvmeofConnectionData, NvmeofPortal } from '../ports/attach.ts';
import { HOSTNAME_RE, IPV4_RE, IPV6_RE, MAX_PATHS, UUID_RE, bad, checkString, has, isRecord, optBool, parseQos, type AccessMode } from './connection-info.ts';

/** One controller to make: a TCP portal of the subsystem. */
export interface NvmePortal {
  /** An IPv4/IPv6 address or host name, as `nvme connect -a` takes it. */
  readonly address: string;
  /** The TCP port (`trsvcid`), in decimal. */
  readonly port: string;
  readonly transport: 'tcp';
}

/** How the namespace is named: os-brick's order of preference, uuid, then nguid, then nsid. */
export type NamespaceId =
  | { readonly kind: 'uuid'; readonly value: string }
  | { readonly kind: 'nguid'; readonly value: string }
  | { readonly kind: 'nsid'; readonly value: number };

export interface NvmeVolume {
  readonly nqn: string;
  readonly portals: readonly NvmePortal[];
  readonly namespace: NamespaceId;
  /** The host NQN the storage exported to, when the driver says (else the host's own). */
  readonly hostNqn: string | null;
  readonly accessMode: AccessMode;
  readonly discard: boolean;
  readonly volumeId: string | null;
}

/** NVMe base spec §4.5 (NQN): at most 223 bytes, `nqn.YYYY-MM.reverse-domain[:anything]`. */
const MAX_NQN = 223;
const NQN_RE = /^nqn\.\d{4}-(0[1-9]|1[0-2])\.[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[A-Za-z0-9._:@+=,-]+)?$/i;
const NGUID_RE = /^[0-9a-f]{32}$/i;
/** NSIDs 1..0xFFFFFFFE (0 and 0xFFFFFFFF are reserved). */
const MAX_NSID = 0xfffffffe;

export function validateNqn(field: string, v: unknown): string {
  const s = checkString(field, v, MAX_NQN);
  if (s.includes('/')) bad(field, 'contains "/"');
  if (!NQN_RE.test(s)) bad(field, `"${s}" is not an NVMe qualified name (nqn.YYYY-MM.reverse.domain[:name])`);
  return s;
}

function validateAddress(field: string, v: unknown): string {
  const s = checkString(field, v, 253);
  if (s.includes(':')) {
    if (!IPV6_RE.test(s)) bad(field, `"${s}" is not an IPv6 address`);
    return s;
  }
  const looksNumeric = /^[\d.]+$/.test(s);
  if (looksNumeric ? !IPV4_RE.test(s) : !HOSTNAME_RE.test(s)) bad(field, `"${s}" is not an IP address or host name`);
  return s;
}

function validatePort(field: string, v: unknown): string {
  const text = typeof v === 'number' ? String(v) : typeof v === 'string' ? v : bad(field, `must be a port number, got ${v === null ? 'null' : typeof v}`);
  if (!/^\d{1,5}$/.test(text)) bad(field, `"${text.slice(0, 20)}" is not a port number`);
  const n = Number(text);
  if (n < 1 || n > 65535) bad(field, `${n} is outside 1..65535`);
  return String(n);
}

function validateTransport(field: string, v: unknown): 'tcp' {
  const s = checkString(field, v, 16);
  if (s.toLowerCase() === 'tcp') return 'tcp';
  return bad(field, `transport "${s}" is not supported: Hitch connects NVMe over TCP only`);
}

function validatePortalTuple(field: string, v: unknown): NvmePortal {
  if (!Array.isArray(v) || v.length !== 3) bad(field, 'must be [address, port, transport]');
  return { address: validateAddress(`${field}[0]`, v[0]), port: validatePort(`${field}[1]`, v[1]), transport: validateTransport(`${field}[2]`, v[2]) };
}

function validateNsid(field: string, v: unknown): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,10}$/.test(v) ? Number(v) : bad(field, 'must be a namespace id (an integer)');
  if (!Number.isInteger(n) || n < 1 || n > MAX_NSID) bad(field, `${n} is outside 1..${MAX_NSID}`);
  return n;
}

/** Check the `data` of an NVMe-oF `connection_info` and read it. */
export function parseNvmeVolume(raw: unknown): NvmeVolume {
  if (!isRecord(raw)) bad('data', 'must be an object');
  const data = raw;
  if (!has(data, 'target_nqn')) {
    // os-brick's old flat shape (`nqn`, `target_portal`, `target_port`, `transport_type`).
    if (has(data, 'nqn')) bad('target_nqn', 'is required (the flat `nqn`/`target_portal` shape is not accepted: send `target_nqn` and `portals`)');
    bad('target_nqn', 'is required');
  }
  const nqn = validateNqn('target_nqn', data['target_nqn']);
  if (!has(data, 'portals')) bad('portals', 'is required');
  const p = data['portals'];
  if (!Array.isArray(p)) bad('portals', `must be a list, got ${typeof p}`);
  if (p.length === 0) bad('portals', 'must not be empty');
  if (p.length > MAX_PATHS) bad('portals', `has ${p.length} entries; the limit is ${MAX_PATHS}`);
  const portals = p.map((x, i) => validatePortalTuple(`portals[${i}]`, x));
  const seen = new Set<string>();
  for (const x of portals) {
    const key = `${x.address} ${x.port}`;
    if (seen.has(key)) bad('portals', `lists ${x.address}:${x.port} twice`);
    seen.add(key);
  }

  let namespace: NamespaceId | null = null;
  if (has(data, 'vol_uuid')) {
    const u = checkString('vol_uuid', data['vol_uuid'], 36);
    if (!UUID_RE.test(u)) bad('vol_uuid', `"${u}" is not a UUID`);
    namespace = { kind: 'uuid', value: canonicalUuid(u) };
  }
  if (has(data, 'volume_nguid')) {
    const g = checkString('volume_nguid', data['volume_nguid'], 36).replaceAll('-', '');
    if (!NGUID_RE.test(g)) bad('volume_nguid', 'is not an NGUID (32 hex digits)');
    namespace ??= { kind: 'nguid', value: g.toLowerCase() };
  }
  if (has(data, 'ns_id')) {
    const n = validateNsid('ns_id', data['ns_id']);
    namespace ??= { kind: 'nsid', value: n };
  }
  if (!namespace) bad('vol_uuid', 'is required (or volume_nguid, or ns_id): nothing names the namespace');

  const hostNqn = has(data, 'host_nqn') ? validateNqn('host_nqn', data['host_nqn']) : null;
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
  optBool(data, 'encrypted');
  optBool(data, 'cacheable');
  parseQos(data);
  return Object.freeze({
    nqn,
    portals: Object.freeze(portals.map((x) => Object.freeze(x))),
    namespace: Object.freeze(namespace),
    hostNqn,
    accessMode,
    discard: optBool(data, 'discard'),
    volumeId,
  });
}

/** `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, lower case (what sysfs's `uuid` shows). */
export function canonicalUuid(u: string): string {
  const h = u.replaceAll('-', '').toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

type MutableData = { -readonly [K in keyof NvmeofConnectionData]: NvmeofConnectionData[K] };
const VOLUMES = new WeakMap<NvmeofConnectionData, NvmeVolume>();

/**
 * The JSON edge for NVMe-oF: check `raw` (`parseNvmeVolume`), then return its data typed — the
 * keys Hitch reads, in the sender's order, portals normalised to `[address, "port", "tcp"]`.
 */
export function parseNvmeofData(raw: unknown): NvmeofConnectionData {
  const volume = parseNvmeVolume(raw);
  if (!isRecord(raw)) bad('data', 'must be an object');
  const out: Partial<MutableData> = {};
  for (const [k, v] of Object.entries(raw)) {
    switch (k) {
      case 'target_nqn':
        out[k] = volume.nqn;
        break;
      case 'portals':
        out[k] = Object.freeze(volume.portals.map((p): NvmeofPortal => Object.freeze([p.address, p.port, p.transport] as const)));
        break;
      case 'vol_uuid':
      case 'volume_nguid':
      case 'host_nqn':
      case 'volume_id':
        if (typeof v === 'string') out[k] = v;
        break;
      case 'ns_id':
        if (typeof v === 'string' || typeof v === 'number') out[k] = v;
        break;
      case 'access_mode':
        if (v === 'rw' || v === 'ro') out[k] = v;
        break;
      case 'discard':
      case 'encrypted':
      case 'cacheable':
        if (typeof v === 'boolean') out[k] = v;
        break;
      case 'qos_specs':
        out[k] = v === null ? null : parseQos(raw);
        break;
    }
  }
  const typed: NvmeofConnectionData = Object.freeze({ ...out, target_nqn: volume.nqn, portals: out.portals ?? [] });
  VOLUMES.set(typed, volume);
  return typed;
}

/** The subsystem, portals and namespace of typed data (validated here when it did not come through `parseNvmeofData`). */
export function nvmeVolume(data: NvmeofConnectionData): NvmeVolume {
  let v = VOLUMES.get(data);
  if (!v) {
    v = parseNvmeVolume(data);
    VOLUMES.set(data, v);
  }
  return v;
}

/** How a namespace is named in logs and device info: its UUID, `nguid:…` or `nsid:N`. */
export function namespaceLabel(ns: NamespaceId): string {
  return ns.kind === 'uuid' ? ns.value : `${ns.kind}:${ns.value}`;
}
