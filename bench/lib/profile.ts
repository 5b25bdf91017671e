/**
 * Where the CPU goes: a V8 CPU profile of this process around `fn` (node:inspector), self time
 * grouped by area (database layer, simulator, HTTP server, HTTP client, services…), and the
 * database time split by the Hitch function that issued the query.
 */
import { Session } from 'node:inspector/promises';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}
export interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface CpuBreakdown {
  /** Profiled CPU time (idle excluded), ms. */
  readonly totalMs: number;
  /** Area → share of totalMs (0–1), largest first. */
  readonly areas: ReadonlyArray<{ readonly area: string; readonly ms: number; readonly share: number }>;
  /** Database-layer time by the Hitch function that asked for it, largest first. */
  readonly dbCallers: ReadonlyArray<{ readonly caller: string; readonly ms: number; readonly share: number }>;
}

const AREAS: ReadonlyArray<readonly [RegExp, string]> = [
  [/node_modules\/(kysely|better-sqlite3|pg|pg-protocol|pg-pool)\/|src\/db\//, 'database (Kysely + driver + SQLite/PostgreSQL)'],
  [/src\/sim\/|src\/host\/sim-host|src\/virt\/sim-hypervisor|src\/volume\/backends\/sim-backend/, 'simulator (data plane, hypervisor)'],
  [/node_modules\/(fastify|find-my-way|avvio|light-my-request|fast-json-stringify|@fastify|ajv|secure-json-parse|fast-querystring)/, 'HTTP server (Fastify, schemas)'],
  [/undici|webstreams|node:internal\/deps\/undici/, 'HTTP client (fetch, in this process)'],
  [/src\/trace\//, 'trace (spans)'],
  [/src\/compute\//, 'compute service'],
  [/src\/volume\//, 'block storage service'],
  [/src\/identity\//, 'identity'],
  [/src\/brick\/|src\/host\//, 'brick + Host'],
  [/src\/virt\//, 'virt (XML)'],
  [/node_modules\/(pino|fast-xml-parser)/, 'logging / XML libs'],
];

/** The area of a sample: native frames (no url) count for the nearest JavaScript caller. */
function areaOf(id: number, byId: ReadonlyMap<number, ProfileNode>, parent: ReadonlyMap<number, number>): string {
  const n = byId.get(id);
  if (!n) return 'other';
  const f = n.callFrame.functionName;
  if (f === '(garbage collector)') return 'garbage collector';
  if (f === '(program)') return 'native, unattributed (event loop, I/O)';
  let cur: ProfileNode | undefined = n;
  while (cur && cur.callFrame.url === '') {
    const pid = parent.get(cur.id);
    cur = pid === undefined ? undefined : byId.get(pid);
  }
  const u = cur?.callFrame.url ?? '';
  for (const [re, name] of AREAS) if (re.test(u)) return name;
  if (u.startsWith('node:')) return `Node internals (${u.replace(/^node:internal\//, '').split('/')[0] ?? u})`;
  if (u === '') return 'native (no JavaScript caller)';
  return `other (${u.replace(/.*node_modules\//, '').split('/')[0] ?? u})`;
}

export async function profileCpu(fn: () => Promise<void>): Promise<CpuBreakdown> {
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
    await session.post('Profiler.start');
    await fn();
    const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: Profile };
    return breakdown(profile);
  } finally {
    session.disconnect();
  }
}

export function breakdown(p: Profile): CpuBreakdown {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  p.samples.forEach((s, i) => self.set(s, (self.get(s) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const areas = new Map<string, number>();
  const callers = new Map<string, number>();
  let total = 0;
  for (const [id, us] of self) {
    const n = byId.get(id);
    if (!n || n.callFrame.functionName === '(idle)') continue;
    const area = areaOf(id, byId, parent);
    if (area === 'Node internals (node:inspector)' || area === 'Node internals (inspector)') continue; // the profiler itself
    total += us;
    areas.set(area, (areas.get(area) ?? 0) + us);
    if (area.startsWith('database')) {
      let a = parent.get(id);
      let caller = 'unknown (an async continuation: no Hitch frame on the stack)';
      while (a !== undefined) {
        const an = byId.get(a);
        const u = an?.callFrame.url ?? '';
        if (an && /\/src\/(compute|volume|identity|trace|server)\//.test(u)) {
          caller = `${an.callFrame.functionName || '(anonymous)'} ${u.replace(/.*\/src\//, 'src/')}`;
          break;
        }
        a = parent.get(a);
      }
      callers.set(caller, (callers.get(caller) ?? 0) + us);
    }
  }
  const dbTotal = [...callers.values()].reduce((x, y) => x + y, 0);
  return {
    totalMs: total / 1000,
    areas: [...areas].sort((a, b) => b[1] - a[1]).map(([area, us]) => ({ area, ms: us / 1000, share: us / total })),
    dbCallers: [...callers].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([caller, us]) => ({ caller, ms: us / 1000, share: dbTotal ? us / dbTotal : 0 })),
  };
}
