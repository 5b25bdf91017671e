/**
 * A small JSON-schema subset for request bodies, with Cinder's error messages.
 *
 * Cinder validates bodies with jsonschema and answers
 * `Invalid input for field/attribute size. Value: abc. 'abc' is not of type 'integer'`
 * (400 badRequest). Fastify's bundled Ajv coerces types and strips unknown properties by
 * default, which would accept what Cinder rejects, so bodies are checked here instead.
 */
import { HitchError } from '../errors.ts';

export type Schema =
  | { readonly type: 'object'; readonly properties: Readonly<Record<string, Schema>>; readonly required?: readonly string[]; readonly additionalProperties?: boolean | Schema; readonly nullable?: boolean; readonly maxProperties?: number }
  | { readonly type: 'string'; readonly maxLength?: number; readonly minLength?: number; readonly format?: 'uuid'; readonly enum?: readonly string[]; readonly nullable?: boolean; readonly pattern?: RegExp }
  | { readonly type: 'integer'; readonly minimum?: number; readonly maximum?: number; readonly nullable?: boolean }
  | { readonly type: 'boolean'; readonly nullable?: boolean }
  | { readonly type: 'boolean-like'; readonly nullable?: boolean }
  | { readonly type: 'null' }
  | { readonly type: 'any' };

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

export function isUuid(s: unknown): s is string {
  return typeof s === 'string' && UUID_RE.test(s);
}

/** Python's repr of a JSON value, as jsonschema prints it in its messages. */
export function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'string') return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  if (typeof v === 'object') {
    return `{${Object.entries(v as Record<string, unknown>).map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`).join(', ')}}`;
  }
  return String(v);
}

function fail(path: readonly string[], value: unknown, message: string): never {
  const field = path[path.length - 1];
  const text =
    field === undefined
      ? message
      : `Invalid input for field/attribute ${field}. Value: ${pyRepr(value)}. ${message}`;
  throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: text }, { message: text });
}

const BOOL_STRINGS = ['true', 'false', 't', 'f', 'yes', 'no', 'y', 'n', 'on', 'off', '1', '0'];

/** Throw a 400 HitchError with Cinder's message when `value` does not match `schema`. */
export function validate(schema: Schema, value: unknown, path: readonly string[] = []): void {
  if (schema.type === 'any') return;
  if (value === null && (schema.type === 'null' || ('nullable' in schema && schema.nullable))) return;
  switch (schema.type) {
    case 'null':
      return fail(path, value, `${pyRepr(value)} is not of type 'null'`);
    case 'boolean':
      if (typeof value !== 'boolean') fail(path, value, `${pyRepr(value)} is not of type 'boolean'`);
      return;
    case 'boolean-like':
      if (typeof value === 'boolean') return;
      if (typeof value === 'string' && BOOL_STRINGS.includes(value.toLowerCase())) return;
      return fail(path, value, `${pyRepr(value)} is not one of ${pyRepr([true, false, ...BOOL_STRINGS])}`);
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) {
        // Cinder accepts integer-valued strings for sizes ("1").
        if (!(typeof value === 'string' && /^\s*-?\d+\s*$/.test(value))) {
          fail(path, value, `${pyRepr(value)} is not of type 'integer', 'string'`);
        }
      }
      {
        const n = Number(value);
        if (schema.minimum !== undefined && n < schema.minimum) {
          fail(path, value, `${pyRepr(value)} is less than the minimum of ${schema.minimum}`);
        }
        if (schema.maximum !== undefined && n > schema.maximum) {
          fail(path, value, `${pyRepr(value)} is greater than the maximum of ${schema.maximum}`);
        }
      }
      return;
    case 'string':
      if (typeof value !== 'string') return fail(path, value, `${pyRepr(value)} is not of type 'string'`);
      if (schema.maxLength !== undefined && value.length > schema.maxLength) {
        fail(path, value, `${pyRepr(value)} is too long`);
      }
      if (schema.minLength !== undefined && value.length < schema.minLength) {
        fail(path, value, `${pyRepr(value)} is too short`);
      }
      if (schema.format === 'uuid' && !UUID_RE.test(value)) fail(path, value, `${pyRepr(value)} is not a 'uuid'`);
      if (schema.enum && !schema.enum.includes(value)) fail(path, value, `${pyRepr(value)} is not one of ${pyRepr(schema.enum)}`);
      if (schema.pattern && !schema.pattern.test(value)) fail(path, value, `${pyRepr(value)} does not match the pattern`);
      return;
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        return fail(path, value, `${pyRepr(value)} is not of type 'object'`);
      }
      const obj = value as Record<string, unknown>;
      for (const r of schema.required ?? []) {
        if (!(r in obj)) fail(path, value, `'${r}' is a required property`);
      }
      if (schema.maxProperties !== undefined && Object.keys(obj).length > schema.maxProperties) {
        fail(path, value, `${pyRepr(value)} has too many properties`);
      }
      const extra = Object.keys(obj).filter((k) => !(k in schema.properties));
      if (schema.additionalProperties === false && extra.length > 0) {
        const list = extra.map((k) => `'${k}'`).join(', ');
        fail(path, value, `Additional properties are not allowed (${list} ${extra.length > 1 ? 'were' : 'was'} unexpected)`);
      }
      for (const [k, v] of Object.entries(obj)) {
        const sub = schema.properties[k] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
        if (sub) validate(sub, v, [...path, k]);
      }
      return;
    }
  }
}
