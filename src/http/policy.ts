/**
 * Policy as OpenStack writes it (oslo.policy): named rules whose check strings combine
 * `role:NAME`, `project_id:%(project_id)s`, `user_id:%(user_id)s`, `rule:OTHER`, `@` (anyone
 * authenticated) and `!` (no one) with `and`, `or`, `not` and parentheses. Each service keeps
 * one table of its rules and the routes (operations) each guards, in code, so the table reads
 * like Nova's, Cinder's or Keystone's policy file and a test can walk every route against it.
 *
 * Roles imply one another as Keystone's default implied roles do: `admin` ⇒ `member` ⇒
 * `reader`, so a user granted only `admin` passes a `role:reader` check.
 *
 * Enforcement is one Fastify `preHandler` per service (`installPolicy`): it runs after the body
 * is parsed and before the route's own code, so a refusal is the same 403 whatever the body,
 * and a route with no rule is refused (a new route is never open by accident).
 */
import type { RequestRateLimiter } from './request-rate-limit.ts';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { HitchError } from '../errors.ts';

/** The caller as a policy sees it. */
export interface PolicyCreds {
  readonly userId: string;
  readonly projectId: string | null;
  readonly roles: readonly string[];
}

/** What the call is about: `project_id` and `user_id` of the target, as a check string names them. */
export type PolicyTarget = Readonly<Record<string, string | null | undefined>>;

export interface PolicyRule {
  /** oslo.policy's check string. */
  readonly check: string;
  readonly description: string;
  /** Keystone's token scopes this rule accepts (Hitch issues project-scoped tokens). */
  readonly scope: readonly ('system' | 'domain' | 'project')[];
  /** `METHOD /path` (Fastify's `:param` syntax, below the service's version prefix), or `METHOD /path#action` for one action of an action route. */
  readonly operations: readonly string[];
}

/** One service's policy file: base rules (check strings others refer to) and the rules that guard operations. */
export interface PolicyTable {
  readonly service: string;
  readonly base: Readonly<Record<string, string>>;
  readonly rules: Readonly<Record<string, PolicyRule>>;
}

/** A route anyone may call without a token (version documents, token issue). */
export const PUBLIC = '@public';

const IMPLIED: Readonly<Record<string, readonly string[]>> = { admin: ['member', 'reader'], member: ['reader'] };

/** The roles a token's roles amount to, implied ones included. */
export function effectiveRoles(roles: readonly string[]): Set<string> {
  const out = new Set<string>();
  const add = (r: string): void => {
    if (out.has(r)) return;
    out.add(r);
    for (const i of IMPLIED[r] ?? []) add(i);
  };
  roles.forEach(add);
  return out;
}

type Node =
  | { readonly k: 'and' | 'or'; readonly a: Node; readonly b: Node }
  | { readonly k: 'not'; readonly a: Node }
  | { readonly k: 'check'; readonly kind: string; readonly value: string };

function tokenize(s: string): string[] {
  // `project_id:%(project_id)s` is one term: its parentheses are not grouping.
  return s.match(/[\w.]+:%\([\w.]+\)s|[()]|[^\s()]+/g) ?? [];
}

/** Parse a check string (or/and/not, left to right, `and` binding tighter, as oslo.policy). */
export function parseCheck(s: string): Node {
  const toks = tokenize(s);
  let i = 0;
  const or = (): Node => {
    let n = and();
    while (toks[i] === 'or') { i++; n = { k: 'or', a: n, b: and() }; }
    return n;
  };
  const and = (): Node => {
    let n = unary();
    while (toks[i] === 'and') { i++; n = { k: 'and', a: n, b: unary() }; }
    return n;
  };
  const unary = (): Node => {
    const t = toks[i++];
    if (t === undefined) throw new Error(`policy check ends early: ${s}`);
    if (t === 'not') return { k: 'not', a: unary() };
    if (t === '(') {
      const n = or();
      if (toks[i++] !== ')') throw new Error(`policy check misses ')': ${s}`);
      return n;
    }
    if (t === '@' || t === '!') return { k: 'check', kind: t, value: '' };
    const c = t.indexOf(':');
    if (c < 0) throw new Error(`policy check term without kind: ${t} in ${s}`);
    return { k: 'check', kind: t.slice(0, c), value: t.slice(c + 1) };
  };
  const n = or();
  if (i !== toks.length) throw new Error(`policy check has trailing ${toks.slice(i).join(' ')}: ${s}`);
  return n;
}

const parsed = new Map<string, Node>();

/** Whether `creds` pass rule `name` of `table` for `target`. */
export function allowed(table: PolicyTable, name: string, creds: PolicyCreds, target: PolicyTarget): boolean {
  const roles = effectiveRoles(creds.roles);
  const attr: Record<string, string | null> = { project_id: creds.projectId, user_id: creds.userId };
  const evalNode = (n: Node, depth: number): boolean => {
    if (depth > 20) throw new Error(`policy rule loop in ${table.service}`);
    switch (n.k) {
      case 'and': return evalNode(n.a, depth) && evalNode(n.b, depth);
      case 'or': return evalNode(n.a, depth) || evalNode(n.b, depth);
      case 'not': return !evalNode(n.a, depth);
      case 'check':
        if (n.kind === '@') return true;
        if (n.kind === '!') return false;
        if (n.kind === 'role') return roles.has(n.value);
        if (n.kind === 'rule') return evalNode(checkOf(table, n.value), depth + 1);
        if (n.kind in attr) {
          const m = /^%\((\w+)\)s$/.exec(n.value);
          const want = m ? target[m[1]!] : n.value;
          const have = attr[n.kind];
          return want !== undefined && want !== null && have !== null && want === have;
        }
        throw new Error(`unknown policy check kind ${n.kind} in ${table.service}`);
    }
  };
  return evalNode(checkOf(table, name), 0);
}

function checkOf(table: PolicyTable, name: string): Node {
  const key = `${table.service}\u0000${name}`;
  let n = parsed.get(key);
  if (!n) {
    const s = table.base[name] ?? table.rules[name]?.check;
    if (s === undefined) throw new Error(`no policy rule ${name} in ${table.service}`);
    n = parseCheck(s);
    parsed.set(key, n);
  }
  return n;
}

/** `METHOD /path` (or `METHOD /path#action`) → the rule that guards it. */
export function operationIndex(table: PolicyTable): Map<string, string> {
  const idx = new Map<string, string>();
  for (const [name, rule] of Object.entries(table.rules)) {
    for (const op of rule.operations) {
      if (idx.has(op)) throw new Error(`${table.service} policy: ${op} is guarded by ${idx.get(op)} and ${name}`);
      idx.set(op, name);
    }
  }
  return idx;
}

export interface InstallPolicyOptions<C extends PolicyCreds> {
  readonly table: PolicyTable;
  /** The version prefix routes are written under in the table (`/v3/:project_id` and `/v3` are both stripped when given). */
  readonly stripPrefixes: readonly string[];
  /** The caller of a request (401 when none). */
  readonly caller: (req: FastifyRequest) => Promise<C>;
  /** The target of a request: the project and user the call is about. */
  readonly target: (req: FastifyRequest, creds: C) => PolicyTarget;
  /** The 403 this service answers for rule `name`. */
  readonly forbidden: (name: string) => HitchError;
  /** For `…/action` routes: the action's name in the body (`{"os-extend": …}` → `os-extend`). */
  readonly actionOf?: (body: unknown) => string | undefined;
  /** The per-project and per-user request rates, counted once the caller is known (429 past them). */
  readonly rateLimiter?: RequestRateLimiter;
}

/** The route key a request is checked under, or undefined when no route matched (a 404). */
export function routeKey(req: FastifyRequest, prefix: string, strip: readonly string[]): string | undefined {
  const url = req.routeOptions.url;
  if (url === undefined) return undefined;
  let path = url.startsWith(prefix) ? url.slice(prefix.length) : url;
  for (const s of strip) {
    if (path === s || path.startsWith(`${s}/`)) { path = path.slice(s.length); break; }
  }
  const method = req.method === 'HEAD' ? 'GET' : req.method;
  return `${method} ${path === '' ? '/' : path}`;
}

/**
 * Check every request of `app`'s routes against `table` before the route runs. Must be called
 * inside the service's plugin (its prefix is `app.prefix`).
 */
export function installPolicy<C extends PolicyCreds>(app: FastifyInstance, o: InstallPolicyOptions<C>): void {
  const idx = operationIndex(o.table);
  const prefix = app.prefix;
  app.addHook('preHandler', async (req) => {
    const key = routeKey(req, prefix, o.stripPrefixes);
    if (key === undefined) return;
    const action = key.endsWith('/action') && o.actionOf ? o.actionOf(req.body) : undefined;
    const name = (action !== undefined ? idx.get(`${key}#${action}`) : undefined) ?? idx.get(key);
    if (name === PUBLIC) return;
    if (name === undefined) throw o.forbidden(`${o.table.service}:${key}`);
    const creds = await o.caller(req);
    await o.rateLimiter?.admit({ userId: creds.userId, projectId: creds.projectId, isAdmin: effectiveRoles(creds.roles).has('admin') });
    if (!allowed(o.table, name, creds, o.target(req, creds))) throw o.forbidden(name);
  });
}

/**
 * One authentication a request: the policy hook and the route's own code ask for the caller
 * and get the same answer from one token validation.
 */
export function callerOnce<C>(req: FastifyRequest, get: () => Promise<C>): Promise<C> {
  const known = memo.get(req) as Promise<C> | undefined;
  if (known) return known;
  const p = get();
  memo.set(req, p);
  return p;
}
const memo = new WeakMap<FastifyRequest, Promise<unknown>>();
