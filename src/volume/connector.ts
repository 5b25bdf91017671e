/**
 * Connector properties where JSON enters the block storage service (`os-initialize_connection`,
 * `os-terminate_connection`, `os-force_detach`, attachment create and update, and an
 * attachment's stored connector). Cinder takes any dict here and its drivers read the keys
 * they know; so does this: each known key is kept when it has its type, `multipath` and
 * `enforce_multipath` arrive as booleans or as the strings cinderclient sends (`"True"`), and
 * anything else is left out — a driver then answers for what is missing (no initiator: 400).
 */
import type { ConnectorProperties } from '../ports/attach.ts';

type Mutable = { -readonly [K in keyof ConnectorProperties]: ConnectorProperties[K] };

/** `true`, or one of the strings Python's clients write for it. */
function boolLike(v: unknown): boolean {
  return v === true || (typeof v === 'string' && ['true', '1', 'yes', 'on'].includes(v.toLowerCase()));
}

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** Read a connector dict (the request schemas have checked it is an object). */
export function parseConnector(raw: unknown): ConnectorProperties {
  const out: Mutable = { multipath: false };
  for (const [k, v] of typeof raw === 'object' && raw !== null ? Object.entries(raw) : []) {
    switch (k) {
      case 'platform':
      case 'os_type':
      case 'ip':
      case 'host':
      case 'initiator':
      case 'nqn':
      case 'mountpoint':
        if (typeof v === 'string') out[k] = v;
        break;
      case 'multipath':
      case 'enforce_multipath':
        out[k] = boolLike(v);
        break;
      case 'do_local_attach':
        if (typeof v === 'boolean') out[k] = v;
        break;
      case 'wwpns':
      case 'wwnns':
        if (isStrings(v)) out[k] = v;
        break;
    }
  }
  return out;
}

/** A connector the client sent, or null for none (absent, null, or `{}` as Nova sends to reserve). */
export function connectorOrNull(raw: unknown): ConnectorProperties | null {
  if (typeof raw !== 'object' || raw === null || Object.keys(raw).length === 0) return null;
  return parseConnector(raw);
}
