/**
 * Request body schemas, after Cinder's `cinder/api/schemas/` (additionalProperties false where
 * Cinder has it, so unknown fields are a 400 as they are there).
 */
import type { Schema } from '../http/validate.ts';

const nameField: Schema = { type: 'string', maxLength: 255, nullable: true };
const descField: Schema = { type: 'string', maxLength: 255, nullable: true };
const uuidOrNull: Schema = { type: 'string', format: 'uuid', nullable: true };

export const metadataSchema: Schema = {
  type: 'object',
  properties: {},
  additionalProperties: { type: 'string', maxLength: 255 },
};

const metadataOrNull: Schema = { type: 'object', properties: {}, additionalProperties: { type: 'string', maxLength: 255 }, nullable: true };

export const createVolumeSchema: Schema = {
  type: 'object',
  required: ['volume'],
  additionalProperties: false,
  properties: {
    volume: {
      type: 'object',
      additionalProperties: false,
      properties: {
        name: nameField,
        description: descField,
        display_name: nameField,
        display_description: descField,
        size: { type: 'integer', minimum: 1, maximum: 2147483647, nullable: true },
        availability_zone: { type: 'string', maxLength: 255, nullable: true },
        multiattach: { type: 'boolean-like' },
        source_volid: uuidOrNull,
        snapshot_id: uuidOrNull,
        backup_id: uuidOrNull,
        consistencygroup_id: uuidOrNull,
        group_id: uuidOrNull,
        imageRef: { type: 'string', nullable: true, maxLength: 255 },
        volume_type: { type: 'string', maxLength: 255, nullable: true },
        metadata: metadataOrNull,
      },
    },
    'OS-SCH-HNT:scheduler_hints': { type: 'any' },
  },
};

export const updateVolumeSchema: Schema = {
  type: 'object',
  required: ['volume'],
  additionalProperties: false,
  properties: {
    volume: {
      type: 'object',
      additionalProperties: false,
      properties: { name: nameField, description: descField, display_name: nameField, display_description: descField, metadata: metadataOrNull },
    },
  },
};

export const metadataBodySchema: Schema = { type: 'object', required: ['metadata'], additionalProperties: false, properties: { metadata: metadataSchema } };
export const metaItemBodySchema: Schema = { type: 'object', required: ['meta'], additionalProperties: false, properties: { meta: { ...metadataSchema, maxProperties: 1 } as Schema } };

const connectorSchema: Schema = { type: 'object', properties: {}, additionalProperties: true };

export const actionSchemas: Readonly<Record<string, Schema>> = {
  'os-reserve': { type: 'any' },
  'os-unreserve': { type: 'any' },
  'os-begin_detaching': { type: 'any' },
  'os-roll_detaching': { type: 'any' },
  'os-initialize_connection': { type: 'object', required: ['connector'], additionalProperties: false, properties: { connector: connectorSchema } },
  'os-terminate_connection': { type: 'object', required: ['connector'], additionalProperties: false, properties: { connector: { ...connectorSchema, nullable: true } as Schema } },
  'os-attach': {
    type: 'object',
    required: ['mountpoint'],
    additionalProperties: false,
    properties: {
      instance_uuid: { type: 'string', format: 'uuid' },
      mountpoint: { type: 'string', maxLength: 255 },
      host_name: { type: 'string', maxLength: 255 },
      mode: { type: 'string', enum: ['rw', 'ro'] },
    },
  },
  'os-detach': { type: 'object', nullable: true, additionalProperties: false, properties: { attachment_id: uuidOrNull } },
  'os-force_detach': { type: 'object', nullable: true, additionalProperties: false, properties: { attachment_id: uuidOrNull, connector: { ...connectorSchema, nullable: true } as Schema } },
  'os-reset_status': {
    type: 'object',
    additionalProperties: false,
    properties: {
      status: { type: 'string', maxLength: 255 },
      attach_status: { type: 'string', enum: ['attached', 'detached'] },
      migration_status: { type: 'string', enum: ['migrating', 'error', 'success', 'completing', 'none', 'starting'] },
    },
  },
};

export function createAttachmentSchema(withMode: boolean): Schema {
  return {
    type: 'object',
    required: ['attachment'],
    additionalProperties: false,
    properties: {
      attachment: {
        type: 'object',
        required: ['volume_uuid'],
        additionalProperties: false,
        properties: {
          instance_uuid: { type: 'string', format: 'uuid', nullable: true },
          connector: { ...connectorSchema, nullable: true } as Schema,
          volume_uuid: { type: 'string', format: 'uuid' },
          ...(withMode ? { mode: { type: 'string', enum: ['rw', 'ro'] } as Schema } : {}),
        },
      },
    },
  };
}

export const updateAttachmentSchema: Schema = {
  type: 'object',
  required: ['attachment'],
  additionalProperties: false,
  properties: { attachment: { type: 'object', required: ['connector'], additionalProperties: false, properties: { connector: connectorSchema } } },
};
