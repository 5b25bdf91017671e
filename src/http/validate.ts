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
  | {
      readonly type: 'object';
      readonly properties: Readonly<Record<string, Schema>>;
      readonly required?: readonly string[];
      readonly additionalProperties?: boolean | Schema;
      /** Keys matching a pattern take its schema (JSON schema's `patternProperties`); checked before `additionalProperties`. */
      readonly patternProperties?: ReadonlyArray<readonly [RegExp, Schema]>;
      readonly nullable?: boolean;
      readonly maxProperties?: number;
      readonly minProperties?: number;
    }
  | { readonly type: 'string'; readonly maxLength?: number; readonly minLength?: number; readonly format?: 'uuid' | 'base64'; readonly enum?: readonly string[]; readonly nullable?: boolean; readonly pattern?: RegExp }
  | { readonly type: 'integer'; readonly minimum?: number; readonly maximum?: number; readonly nullable?: boolean }
  /** A JSON number, or a string of one when `numericString` (Nova's `['number', 'string']` with a pattern). */
  | { readonly type: 'number'; readonly exclusiveMinimum?: number; readonly maximum?: number; readonly numericString?: RegExp; readonly nullable?: boolean }
  | { readonly type: 'array'; readonly items?: Schema; readonly minItems?: number; readonly maxItems?: number; readonly uniqueItems?: boolean; readonly nullable?: boolean }
  /** Exactly one of the alternatives must match (JSON schema's `oneOf`). */
  | { readonly type: 'oneOf'; readonly oneOf: readonly Schema[] }
  /** At least one must match (`anyOf`, and JSON schema's type lists such as `['string', 'integer']`). */
  | { readonly type: 'anyOf'; readonly anyOf: readonly Schema[] }
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

/** A field whose value is a secret: a password, a credential's secret, a token. */
const SECRET_KEY = /pass(word|wd)?$|^adminPass$|secret|^token$|^auth_password$|^x-auth-token$/i;

/** `value` with every secret in it (by its key, or all of it when `path` names one) shown as `'***'`. */
function masked(value: unknown, path: readonly string[]): unknown {
  if (path.some((k) => SECRET_KEY.test(k))) return '***';
  if (Array.isArray(value)) return value.map((v) => masked(v, []));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, masked(v, [k])]));
  return value;
}

/**
 * The 400 for `value` at `path`, in Cinder's and Nova's words — but a submitted secret is never
 * echoed: where jsonschema would print it, the message says `'***'`.
 */
function fail(path: readonly string[], value: unknown, message: string): never {
  const field = path[path.length - 1];
  const shown = masked(value, path);
  if (shown !== value) message = message.split(pyRepr(value)).join(pyRepr(shown));
  const text =
    field === undefined
      ? message
      : `Invalid input for field/attribute ${field}. Value: ${pyRepr(shown)}. ${message}`;
  throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: text }, { message: text });
}

/** Base64 as Python's `base64.b64decode(validate=True)` takes it (Nova's `format: base64`). */
function isBase64(s: string): boolean {
  return s.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s);
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
      if (schema.format === 'base64' && !isBase64(value)) fail(path, value, `${pyRepr(value)} is not a 'base64'`);
      if (schema.enum && !schema.enum.includes(value)) fail(path, value, `${pyRepr(value)} is not one of ${pyRepr(schema.enum)}`);
      if (schema.pattern && !schema.pattern.test(value)) fail(path, value, `${pyRepr(value)} does not match the pattern`);
      return;
    case 'number': {
      const numeric = typeof value === 'number' && Number.isFinite(value);
      if (!numeric && !(schema.numericString && typeof value === 'string' && schema.numericString.test(value))) {
        return fail(path, value, `${pyRepr(value)} is not of type 'number'${schema.numericString ? ", 'string'" : ''}`);
      }
      const n = Number(value);
      if (schema.exclusiveMinimum !== undefined && !(n > schema.exclusiveMinimum)) {
        fail(path, value, `${pyRepr(value)} is less than or equal to the minimum of ${schema.exclusiveMinimum}`);
      }
      if (schema.maximum !== undefined && n > schema.maximum) fail(path, value, `${pyRepr(value)} is greater than the maximum of ${schema.maximum}`);
      return;
    }
    case 'array': {
      if (!Array.isArray(value)) return fail(path, value, `${pyRepr(value)} is not of type 'array'`);
      if (schema.minItems !== undefined && value.length < schema.minItems) fail(path, value, `${pyRepr(value)} is too short`);
      if (schema.maxItems !== undefined && value.length > schema.maxItems) fail(path, value, `${pyRepr(value)} is too long`);
      const items = schema.items;
      if (items) value.forEach((v, i) => validate(items, v, [...path, String(i)]));
      if (schema.uniqueItems && new Set(value.map((v) => JSON.stringify(v))).size !== value.length) fail(path, value, `${pyRepr(value)} has non-unique elements`);
      return;
    }
    case 'anyOf':
    case 'oneOf': {
      const alts = schema.type === 'oneOf' ? schema.oneOf : schema.anyOf;
      const matched = alts.filter((alt) => {
        try {
          validate(alt, value, path);
          return true;
        } catch {
          return false;
        }
      }).length;
      if (matched === 1 || (schema.type === 'anyOf' && matched > 1)) return;
      return fail(path, value, matched === 0 ? `${pyRepr(value)} is not valid under any of the given schemas` : `${pyRepr(value)} is valid under each of the given schemas`);
    }
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        return fail(path, value, `${pyRepr(value)} is not of type 'object'`);
      }
      const obj = value as Record<string, unknown>;
      for (const r of schema.required ?? []) {
        if (!(r in obj)) fail(path, value, `'${r}' is a required property`);
      }
      const count = Object.keys(obj).length;
      if (schema.maxProperties !== undefined && count > schema.maxProperties) {
        fail(path, value, `${pyRepr(value)} has too many properties`);
      }
      if (schema.minProperties !== undefined && count < schema.minProperties) {
        fail(path, value, `${pyRepr(value)} does not have enough properties`);
      }
      const byPattern = (k: string): Schema | undefined => schema.patternProperties?.find(([re]) => re.test(k))?.[1];
      const extra = Object.keys(obj).filter((k) => !(k in schema.properties) && byPattern(k) === undefined);
      if (schema.additionalProperties === false && extra.length > 0) {
        const list = extra.map((k) => pyRepr(k)).join(', ');
        if (schema.patternProperties) {
          const regexes = schema.patternProperties.map(([re]) => pyRepr(re.source)).join(', ');
          fail(path, value, `${[...extra].sort().map((k) => pyRepr(k)).join(', ')} ${extra.length > 1 ? 'do' : 'does'} not match any of the regexes: ${regexes}`);
        }
        fail(path, value, `Additional properties are not allowed (${list} ${extra.length > 1 ? 'were' : 'was'} unexpected)`);
      }
      for (const [k, v] of Object.entries(obj)) {
        const sub = schema.properties[k] ?? byPattern(k) ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
        if (sub) validate(sub, v, [...path, k]);
      }
      return;
    }
  }
}
