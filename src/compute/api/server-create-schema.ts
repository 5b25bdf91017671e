/**
 * `POST /servers` as Nova validates it, per microversion (`schemas/servers.py`): 2.19 adds
 * `description`, 2.32/2.42 device tags, 2.37 makes `networks` required and allows `none`/`auto`,
 * 2.52 `tags`, 2.57 drops `personality`, 2.63 `trusted_image_certificates`, 2.67 a BDM's
 * `volume_type`, 2.74 `host`/`hypervisor_hostname`, 2.90 `hostname`. Anything else is Nova's 400.
 */
import type { ApiVersion } from '../../http/microversion.ts';
import type { Schema } from '../../http/validate.ts';
import { boolean, description, fqdn, hostname, ipAddress, ipv4, ipv6, metadata, name, positiveInteger, tag, uuid } from './nova-types.ts';

const legacyBdm: Record<string, Schema> = {
  virtual_name: { type: 'string', maxLength: 255 },
  volume_id: uuid,
  snapshot_id: uuid,
  volume_size: { type: 'integer', minimum: 1, maximum: 0x7fffffff },
  device_name: { type: 'string', minLength: 1, maxLength: 255, pattern: /^[a-zA-Z0-9._/-]*$/ },
  delete_on_termination: boolean,
  no_device: { type: 'any' },
  connection_info: { type: 'string', maxLength: 16777215 },
};

function bdmV2(v: ApiVersion): Schema {
  const props: Record<string, Schema> = {
    ...legacyBdm,
    source_type: { type: 'string', enum: ['volume', 'image', 'snapshot', 'blank'] },
    uuid: { type: 'string', minLength: 1, maxLength: 255, pattern: /^[a-zA-Z0-9._-]*$/ },
    image_id: uuid,
    destination_type: { type: 'string', enum: ['local', 'volume'] },
    guest_format: { type: 'string', maxLength: 255 },
    device_type: { type: 'string', maxLength: 255 },
    disk_bus: { type: 'string', maxLength: 255 },
    boot_index: { type: 'integer', nullable: true },
  };
  // 2.32 had device tags; 2.33–2.41 lost them on BDMs (a Nova bug kept for compatibility); 2.42 restored them.
  if (v.toString() === '2.32' || v.atLeast('2.42')) props['tag'] = tag;
  if (v.atLeast('2.67')) props['volume_type'] = { type: 'string', nullable: true, maxLength: 255 };
  return { type: 'object', properties: props, additionalProperties: false };
}

function networks(v: ApiVersion): Schema {
  const item: Record<string, Schema> = {
    fixed_ip: ipAddress,
    port: { type: 'string', nullable: true, format: 'uuid' },
    uuid: v.atLeast('2.37') ? uuid : { type: 'string' },
  };
  if (v.atLeast('2.32')) item['tag'] = tag;
  const list: Schema = { type: 'array', items: { type: 'object', properties: item, additionalProperties: false } };
  return v.atLeast('2.37') ? { type: 'oneOf', oneOf: [list, { type: 'string', enum: ['none', 'auto'] }] } : list;
}

const hints: Schema = {
  type: 'object',
  additionalProperties: true,
  properties: {
    group: { type: 'oneOf', oneOf: [{ type: 'array', items: uuid }, uuid] },
    different_host: { type: 'oneOf', oneOf: [uuid, { type: 'array', items: uuid }] },
    same_host: { type: 'oneOf', oneOf: [uuid, { type: 'array', items: uuid }] },
    query: { type: 'any' },
    target_cell: name,
    different_cell: { type: 'any' },
    build_near_host_ip: ipAddress,
    cidr: { type: 'string', pattern: /^\/[0-9a-f.:]+$/ },
  },
};

export function serverCreateSchema(v: ApiVersion): Schema {
  const server: Record<string, Schema> = {
    name,
    imageRef: { type: 'oneOf', oneOf: [uuid, { type: 'string', maxLength: 0 }] },
    flavorRef: { type: 'anyOf', anyOf: [{ type: 'string', minLength: 1 }, { type: 'integer' }] },
    adminPass: { type: 'string' },
    metadata,
    networks: networks(v),
    'OS-DCF:diskConfig': { type: 'string', enum: ['AUTO', 'MANUAL'] },
    accessIPv4: ipv4,
    accessIPv6: ipv6,
    availability_zone: name,
    block_device_mapping: { type: 'array', items: { type: 'object', properties: legacyBdm, additionalProperties: false } },
    block_device_mapping_v2: { type: 'array', items: bdmV2(v) },
    config_drive: boolean,
    key_name: name,
    min_count: positiveInteger,
    max_count: positiveInteger,
    return_reservation_id: boolean,
    security_groups: { type: 'array', items: { type: 'object', properties: { name }, additionalProperties: false } },
    user_data: { type: 'string', format: 'base64', maxLength: 65535 },
  };
  if (!v.atLeast('2.57')) {
    server['personality'] = {
      type: 'array',
      items: { type: 'object', additionalProperties: false, properties: { path: { type: 'string' }, contents: { type: 'string', format: 'base64' } } },
    };
  }
  if (v.atLeast('2.19')) server['description'] = description;
  if (v.atLeast('2.52')) server['tags'] = { type: 'array', items: tag, maxItems: 50 };
  if (v.atLeast('2.63')) server['trusted_image_certificates'] = { type: 'array', nullable: true, minItems: 1, maxItems: 50, items: { type: 'string', minLength: 1 } };
  if (v.atLeast('2.74')) {
    server['host'] = fqdn;
    server['hypervisor_hostname'] = fqdn;
  }
  if (v.atLeast('2.90')) server['hostname'] = hostname;
  return {
    type: 'object',
    required: ['server'],
    additionalProperties: false,
    properties: {
      server: { type: 'object', required: v.atLeast('2.37') ? ['name', 'flavorRef', 'networks'] : ['name', 'flavorRef'], additionalProperties: false, properties: server },
      'os:scheduler_hints': hints,
      'OS-SCH-HNT:scheduler_hints': hints,
    },
  };
}
