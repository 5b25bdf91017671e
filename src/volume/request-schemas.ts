/**
 * Request body schemas, after Cinder's `cinder/api/schemas/` (additionalProperties false where
 * Cinder has it, so unknown fields are a 400 as they are there).
 */
import type { Schema } from '../http/validate.ts';

const nameField: Schema = { type: 'string', maxLength: 255, nullable: true };
const descField: Schema = { type: 'string', maxLength: 255, nullable: true };
const uuidOrNull: Schema = { type: 'string', format: 'uuid', nullable: true };

/** Cinder's metadata: keys of 1–255 characters from its set, values strings of at most 255. */
const METADATA_KEY = /^[a-zA-Z0-9-_:. /]{1,255}$/;
export const metadataSchema: Schema = {
  type: 'object',
  properties: {},
  patternProperties: [[METADATA_KEY, { type: 'string', maxLength: 255 }]],
  additionalProperties: false,
};

const metadataOrNull: Schema = { ...metadataSchema, nullable: true };

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

/** Cinder's `volume_size`: an integer, or a string of digits, from 1. */
const volumeSize: Schema = { type: 'integer', minimum: 1, maximum: 2147483647 };
const booleanLike: Schema = { type: 'boolean-like' };
const nameOrNull: Schema = { type: 'string', maxLength: 255, nullable: true };

/** Cinder's `extra_specs`: keys of `[a-zA-Z0-9-_:. /]`, string values up to 255. */
const extraSpecs = (nullable: boolean, spaces: boolean): Schema => ({
  type: 'object',
  properties: {},
  patternProperties: [[spaces ? /^[a-zA-Z0-9\-_:. /]{1,255}$/ : /^[a-zA-Z0-9\-_:.]{1,255}$/, { type: 'string', maxLength: 255, nullable }]],
  additionalProperties: false,
  nullable,
});

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
  'os-extend': { type: 'object', required: ['new_size'], additionalProperties: false, properties: { new_size: volumeSize } },
  'os-force_delete': { type: 'any' },
  'os-set_bootable': { type: 'object', required: ['bootable'], additionalProperties: false, properties: { bootable: booleanLike } },
  'os-update_readonly_flag': { type: 'object', required: ['readonly'], additionalProperties: false, properties: { readonly: booleanLike } },
  'os-retype': {
    type: 'object',
    required: ['new_type'],
    additionalProperties: false,
    properties: { new_type: { type: 'string', maxLength: 255 }, migration_policy: { type: 'string', enum: ['on-demand', 'never'], nullable: true } },
  },
};

export const createSnapshotSchema: Schema = {
  type: 'object',
  required: ['snapshot'],
  additionalProperties: false,
  properties: {
    snapshot: {
      type: 'object',
      required: ['volume_id'],
      additionalProperties: false,
      properties: {
        name: nameOrNull,
        display_name: nameOrNull,
        description: descField,
        volume_id: uuidOrNull,
        force: booleanLike,
        metadata: metadataOrNull,
      },
    },
  },
};

export const updateSnapshotSchema: Schema = {
  type: 'object',
  required: ['snapshot'],
  additionalProperties: false,
  properties: {
    snapshot: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      properties: { name: nameOrNull, description: descField, display_name: nameOrNull, display_description: descField },
    },
  },
};

export const snapshotActionSchemas: Readonly<Record<string, Schema>> = {
  'os-reset_status': { type: 'object', required: ['status'], additionalProperties: false, properties: { status: { type: 'string', maxLength: 255 } } },
  'os-force_delete': { type: 'any' },
};

export const createTypeSchema: Schema = {
  type: 'object',
  required: ['volume_type'],
  additionalProperties: false,
  properties: {
    volume_type: {
      type: 'object',
      required: ['name'],
      additionalProperties: false,
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 255, pattern: /\S/ },
        description: descField,
        extra_specs: extraSpecs(true, true),
        'os-volume-type-access:is_public': booleanLike,
      },
    },
  },
};

export const updateTypeSchema: Schema = {
  type: 'object',
  required: ['volume_type'],
  additionalProperties: false,
  properties: {
    volume_type: {
      type: 'object',
      additionalProperties: false,
      properties: { name: { type: 'string', minLength: 1, maxLength: 255, nullable: true }, description: descField, is_public: booleanLike },
    },
  },
};

export const extraSpecsBodySchema: Schema = { type: 'object', required: ['extra_specs'], additionalProperties: false, properties: { extra_specs: extraSpecs(false, false) } };
export const extraSpecItemSchema: Schema = { ...(extraSpecs(false, false) as Schema & { type: 'object' }), minProperties: 1, maxProperties: 1 };

export const typeActionSchemas: Readonly<Record<string, Schema>> = {
  addProjectAccess: { type: 'object', required: ['project'], additionalProperties: false, properties: { project: { type: 'string', minLength: 1, maxLength: 255 } } },
  removeProjectAccess: { type: 'object', required: ['project'], additionalProperties: false, properties: { project: { type: 'string', minLength: 1, maxLength: 255 } } },
};

export const defaultTypeSchema: Schema = {
  type: 'object',
  required: ['default_type'],
  properties: { default_type: { type: 'object', required: ['volume_type'], additionalProperties: false, properties: { volume_type: { type: 'string', minLength: 1, maxLength: 255 } } } },
};

export const createQosSchema: Schema = {
  type: 'object',
  required: ['qos_specs'],
  additionalProperties: false,
  properties: {
    qos_specs: {
      type: 'object',
      required: ['name'],
      properties: { name: { type: 'string', minLength: 1, maxLength: 255, pattern: /\S/ } },
      additionalProperties: { type: 'string', maxLength: 255 },
    },
  },
};

export const setQosSchema: Schema = { type: 'object', required: ['qos_specs'], additionalProperties: false, properties: { qos_specs: extraSpecs(false, true) } };

export const unsetQosSchema: Schema = {
  type: 'object',
  required: ['keys'],
  additionalProperties: false,
  properties: { keys: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 255 }, uniqueItems: true } },
};

export function createTransferSchema(withNoSnapshots: boolean): Schema {
  return {
    type: 'object',
    required: ['transfer'],
    additionalProperties: false,
    properties: {
      transfer: {
        type: 'object',
        required: ['volume_id'],
        additionalProperties: false,
        properties: {
          volume_id: { type: 'string', format: 'uuid' },
          name: { type: 'string', maxLength: 255, nullable: true },
          ...(withNoSnapshots ? { no_snapshots: booleanLike } : {}),
        },
      },
    },
  };
}

export const acceptTransferSchema: Schema = {
  type: 'object',
  required: ['accept'],
  additionalProperties: false,
  properties: { accept: { type: 'object', required: ['auth_key'], additionalProperties: false, properties: { auth_key: { type: 'anyOf', anyOf: [{ type: 'string', maxLength: 255 }, { type: 'integer' }] } } } },
};

export const updateServiceSchema: Schema = {
  type: 'object',
  properties: { binary: { type: 'string', minLength: 1, maxLength: 255 }, host: { type: 'string', minLength: 1, maxLength: 255 }, disabled_reason: { type: 'string', maxLength: 255, nullable: true } },
  required: ['host'],
  additionalProperties: true,
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
