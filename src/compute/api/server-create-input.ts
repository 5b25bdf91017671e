/**
 * A validated `POST /servers` body turned into the compute service's input, with what Nova
 * decides at the API: the admin password (the one given, or a generated one — returned once,
 * never stored or logged), the description before 2.19 (the name), and the scheduler hints Hitch
 * honours.
 */
import { randomInt } from 'node:crypto';
import type { ApiVersion } from '../../http/microversion.ts';
import type { CreateServerInput } from '../server-request.ts';
import { truthy } from './nova-types.ts';

export interface CreateBody {
  readonly server: Readonly<Record<string, unknown>>;
  readonly 'os:scheduler_hints'?: Readonly<Record<string, unknown>>;
  readonly 'OS-SCH-HNT:scheduler_hints'?: Readonly<Record<string, unknown>>;
}

/** Nova's `utils.generate_password`: 12 characters, no look-alikes. */
function generatePassword(): string {
  const groups = ['23456789', 'ABCDEFGHJKLMNPQRSTUVWXYZ', 'abcdefghijkmnopqrstuvwxyz'];
  const all = groups.join('');
  const chars = groups.map((g) => g[randomInt(g.length)] as string);
  while (chars.length < 12) chars.push(all[randomInt(all.length)] as string);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j] as string, chars[i] as string];
  }
  return chars.join('');
}

const list = (v: unknown): string[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

export function createInput(body: CreateBody, v: ApiVersion): { input: CreateServerInput; adminPass: string; returnReservationId: boolean } {
  const s = body.server;
  const hints = body['os:scheduler_hints'] ?? body['OS-SCH-HNT:scheduler_hints'] ?? {};
  const name = String(s['name']);
  const networks = s['networks'] as CreateServerInput['networks'] | undefined;
  const input: CreateServerInput = {
    name,
    imageRef: typeof s['imageRef'] === 'string' ? s['imageRef'] : '',
    flavorRef: String(s['flavorRef']),
    metadata: (s['metadata'] as Record<string, string> | undefined) ?? {},
    keyName: str(s['key_name']),
    userData: str(s['user_data']),
    availabilityZone: str(s['availability_zone']),
    description: v.atLeast('2.19') ? str(s['description']) : name,
    hostname: v.atLeast('2.90') ? str(s['hostname']) : null,
    configDrive: s['config_drive'] === undefined ? false : truthy(s['config_drive']),
    accessIPv4: str(s['accessIPv4']),
    accessIPv6: str(s['accessIPv6']),
    diskConfig: str(s['OS-DCF:diskConfig']),
    tags: (s['tags'] as string[] | undefined) ?? [],
    trustedCerts: (s['trusted_image_certificates'] as string[] | null | undefined) ?? null,
    ...(networks !== undefined ? { networks } : {}),
    securityGroups: ((s['security_groups'] as Array<{ name?: string }> | undefined) ?? []).map((g) => g.name ?? '').filter((n) => n !== ''),
    blockDevices: (s['block_device_mapping_v2'] as Array<Record<string, unknown>> | undefined) ?? [],
    legacyBlockDevices: (s['block_device_mapping'] as Array<Record<string, unknown>> | undefined) ?? [],
    minCount: s['min_count'] === undefined ? 1 : Number(s['min_count']),
    ...(s['max_count'] !== undefined ? { maxCount: Number(s['max_count']) } : {}),
    host: str(s['host']),
    hypervisorHostname: str(s['hypervisor_hostname']),
    sameHost: list(hints['same_host']),
    differentHost: list(hints['different_host']),
    group: hints['group'] === undefined ? null : list(hints['group'])[0] ?? null,
    multiattachAllowed: v.atLeast('2.60'),
    injectedFiles: Array.isArray(s['personality']) ? s['personality'].length : 0,
  };
  const adminPass = typeof s['adminPass'] === 'string' ? s['adminPass'] : generatePassword();
  return { input, adminPass, returnReservationId: s['return_reservation_id'] !== undefined && truthy(s['return_reservation_id']) };
}
