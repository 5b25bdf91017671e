/**
 * The property every API route must keep: whatever a client sends — random JSON bodies, random
 * ids in the path, random query strings — the answer is never a 5xx, and a request that is
 * refused (4xx) changes nothing. `snapshot` reads the state a refusal must leave untouched.
 */
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';

export interface RouteUnderTest {
  readonly method: Method;
  /** A path template: `{id}`-style placeholders are filled from `ids` or with random text. */
  readonly path: string;
  /** Bodies shaped like the route's (random values in the right places); random JSON otherwise. */
  readonly body?: fc.Arbitrary<unknown>;
}

export interface RoutePropertyOptions {
  readonly app: FastifyInstance;
  readonly routes: readonly RouteUnderTest[];
  /** Values a placeholder may take besides random text (real ids, so deep paths are reached). */
  readonly ids: Readonly<Record<string, readonly string[]>>;
  readonly headers: () => Record<string, string>;
  /** The state a refused request must not change (rows of the tables the routes write). */
  readonly snapshot: () => Promise<unknown>;
  readonly numRuns: number;
  readonly seed?: number;
}

/** A path segment a client could send: printable, sometimes odd (dots, spaces, unicode, long). */
const segment = fc.oneof(
  fc.string({ minLength: 1, maxLength: 40 }),
  fc.uuid(),
  fc.constantFrom('..', '%2F', ' ', 'default', 'null', '0', '-1', 'detail', 'x'.repeat(300)),
);

const query = fc.dictionary(fc.constantFrom('name', 'limit', 'marker', 'all_tenants', 'sort', 'usage', 'domain_id', 'enabled', 'user.id', 'role.id', 'scope.project.id', 'include_names', 'effective', 'is_public', 'status', 'with_count', 'offset', 'project_id', 'fields'), fc.string({ maxLength: 20 }), { maxKeys: 3 });

/** A body's `"{name}"` strings become the first known value of that name (a real id in a body). */
function fillIds(v: unknown, ids: Readonly<Record<string, readonly string[]>>): unknown {
  if (typeof v === 'string') {
    const m = /^\{(\w+)\}$/.exec(v);
    return m && ids[m[1]!]?.[0] !== undefined ? ids[m[1]!]![0] : v;
  }
  if (Array.isArray(v)) return v.map((x) => fillIds(x, ids));
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fillIds(x, ids)]));
  return v;
}

export async function checkRoutesNeverFail(o: RoutePropertyOptions): Promise<void> {
  const arb = fc.constantFrom(...o.routes).chain((route) =>
    fc.record({
      route: fc.constant({ method: route.method, path: route.path }),
      fills: fc.array(fc.oneof(segment, fc.nat()), { minLength: 4, maxLength: 4 }),
      query,
      // Half the bodies are shaped like the route's, so validation passes and deeper code runs.
      body: route.body ? fc.oneof(route.body, fc.jsonValue({ maxDepth: 4 })) : fc.jsonValue({ maxDepth: 4 }),
    }),
  );
  await fc.assert(
    fc.asyncProperty(arb, async ({ route, fills, query: q, body: sent }) => {
      let i = 0;
      const url = route.path.replace(/\{(\w+)\}/g, (_w, name: string) => {
        const f = fills[i++ % fills.length];
        const known = o.ids[name] ?? [];
        const v = typeof f === 'number' ? (known.length > 0 ? known[f % known.length]! : String(f)) : f!;
        // A known value may be a path prefix (`/volume/v3/{project}`): it goes in as it is.
        return known.includes(v) && v.startsWith('/') ? v : encodeURIComponent(v);
      });
      const qs = new URLSearchParams(q).toString();
      const body = route.method === 'GET' || route.method === 'HEAD' || route.method === 'DELETE' ? undefined : fillIds(sent, o.ids);
      const before = await o.snapshot();
      const r = await o.app.inject({
        method: route.method,
        url: qs ? `${url}?${qs}` : url,
        headers: { ...o.headers(), 'content-type': 'application/json' },
        ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
      });
      const what = `${route.method} ${url}?${qs} ${JSON.stringify(body)?.slice(0, 500)} → ${r.statusCode} ${r.body.slice(0, 500)}`;
      expect(r.statusCode, what).toBeLessThan(500);
      if (r.statusCode >= 400) expect(await o.snapshot(), `a refused request changed state: ${what}`).toEqual(before);
    }),
    { numRuns: o.numRuns, ...(o.seed !== undefined ? { seed: o.seed } : {}) },
  );
}
