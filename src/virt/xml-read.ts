/**
 * Reading libvirt XML with fast-xml-parser into plain trees, and typed accessors over them.
 * Attributes land under `$`, element text under `#text` (or as the value itself when the
 * element has no attributes), `<disk>` and `<host>` are always arrays.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { HitchError } from '../errors.ts';

export type XmlNode = { readonly [k: string]: unknown };

const ALWAYS_ARRAYS = new Set(['disk', 'host', 'serial', 'console']);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  attributesGroupName: '$',
  parseAttributeValue: false,
  parseTagValue: false,
  trimValues: true,
  processEntities: true,
  isArray: (name) => ALWAYS_ARRAYS.has(name),
});

/** Parse an XML document; throws `HITCH_INVALID_ARGUMENT` with the parser's reason when malformed. */
export function parseXml(xml: string, what: string): XmlNode {
  if (typeof xml !== 'string' || xml.trim() === '') {
    throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: `${what} is empty` });
  }
  // libvirt never sends a DTD; refusing one rules out entity-expansion tricks.
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) {
    throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: `${what} must not contain a DTD` });
  }
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    throw new HitchError('HITCH_INVALID_ARGUMENT', {
      reason: `${what} is not well-formed XML: ${valid.err.msg} (line ${valid.err.line})`,
    });
  }
  const tree: unknown = parser.parse(xml);
  if (!isNode(tree)) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: `${what} has no root element` });
  return tree;
}

export function isNode(v: unknown): v is XmlNode {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The child element `name` (first one if repeated); `''`-valued empty elements become `{}`. */
export function child(node: XmlNode | undefined, name: string): XmlNode | undefined {
  if (!node || !(name in node)) return undefined;
  let v = node[name];
  if (Array.isArray(v)) v = v[0];
  if (v === '' || v === undefined) return {};
  if (typeof v === 'string') return { '#text': v };
  return isNode(v) ? v : undefined;
}

/** Every child element `name`, as nodes. */
export function children(node: XmlNode | undefined, name: string): XmlNode[] {
  if (!node || !(name in node)) return [];
  const v = node[name];
  const list: unknown[] = Array.isArray(v) ? v : [v];
  return list.map((x) => (isNode(x) ? x : typeof x === 'string' && x !== '' ? { '#text': x } : {}));
}

export function attr(node: XmlNode | undefined, name: string): string | undefined {
  const attrs = node?.['$'];
  if (!isNode(attrs)) return undefined;
  const v = attrs[name];
  return typeof v === 'string' ? v : undefined;
}

export function text(node: XmlNode | undefined): string | undefined {
  if (!node) return undefined;
  const t = node['#text'];
  return typeof t === 'string' ? t : undefined;
}

export function has(node: XmlNode | undefined, name: string): boolean {
  return node !== undefined && name in node;
}
