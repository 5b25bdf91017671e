/**
 * What the all-in-one server shows people beside the OpenStack APIs: `/healthz`, `/metrics`
 * (Prometheus) and the dashboard at `/` (the built assets of `web/`). Kept apart from the
 * service wiring in `cloud.ts` so the faces can change without touching the composition.
 *
 * Every response also carries `x-hitch-clock-ms`, the compute hosts' clock (virtual on the
 * simulator), so a client can age a span that is still running: "logging in … (12 s)".
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { Trace } from '../trace/span.ts';
import type { Cloud } from './cloud.ts';

export type CloudParts = Omit<Cloud, 'app' | 'settle' | 'close'>;

/** What `createCloud`'s `onStep`/`onFinished` feed (wired by `serve`). */
export interface FinishedOperation {
  readonly id: string;
  readonly kind: string;
  readonly outcome: string;
  readonly durationMs: number;
  readonly trace: Trace;
}

/** The Prometheus metrics of one server. Durations of operations are in the hosts' clock (virtual on the simulator). */
export class HitchMetrics {
  readonly registry = new Registry();
  readonly #ops = new Counter({
    name: 'hitch_operations_total',
    help: 'Attach and detach operations finished, by kind and outcome (done, rolled_back)',
    labelNames: ['kind', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly #opSeconds = new Histogram({
    name: 'hitch_operation_duration_seconds',
    help: 'Duration of attach and detach operations (host clock: virtual on the simulator), by kind and outcome',
    labelNames: ['kind', 'outcome'] as const,
    buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
    registers: [this.registry],
  });
  readonly #steps = new Counter({
    name: 'hitch_steps_started_total',
    help: 'Steps of attach and detach operations started, by kind and step',
    labelNames: ['kind', 'step'] as const,
    registers: [this.registry],
  });
  readonly #stepSeconds = new Histogram({
    name: 'hitch_step_duration_seconds',
    help: 'Duration of each top-level step of finished operations (host clock), by kind, step and outcome',
    labelNames: ['kind', 'step', 'outcome'] as const,
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 120],
    registers: [this.registry],
  });
  readonly #http = new Histogram({
    name: 'hitch_http_request_duration_seconds',
    help: 'HTTP request latency (wall clock), by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  /** Everything to scrape: this server's metrics and the process's (shared by every cloud in the process). */
  async text(): Promise<string> {
    return Registry.merge([processRegistry(), this.registry]).metrics();
  }

  step(op: { kind: string }, step: string): void {
    this.#steps.inc({ kind: op.kind, step });
  }

  finished(op: FinishedOperation): void {
    this.#ops.inc({ kind: op.kind, outcome: op.outcome });
    this.#opSeconds.observe({ kind: op.kind, outcome: op.outcome }, op.durationMs / 1000);
    for (const s of op.trace.spans) {
      if (s.parentId !== null || s.endMs === null) continue;
      this.#stepSeconds.observe({ kind: op.kind, step: s.name, outcome: s.outcome }, (s.endMs - s.startMs) / 1000);
    }
  }

  http(method: string, route: string, status: number, seconds: number): void {
    this.#http.observe({ method, route, status: String(status) }, seconds);
  }
}

let processMetrics: Registry | null = null;

/** Process metrics (CPU, memory, event loop lag), collected once per process: tests build many clouds. */
function processRegistry(): Registry {
  if (!processMetrics) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics, prefix: 'hitch_' });
  }
  return processMetrics;
}

const metricsByApp = new WeakMap<FastifyInstance, HitchMetrics>();

/** The metrics registered on `app` by `registerFaces`. */
export function metricsOf(app: FastifyInstance): HitchMetrics | undefined {
  return metricsByApp.get(app);
}

/** The dashboard's built files (`web/dist/`), read once; null when the dashboard was not built. */
function loadDashboard(): Map<string, { body: Buffer; type: string }> | null {
  const dir = fileURLToPath(new URL('../../web/dist/', import.meta.url));
  const files: [string, string][] = [
    ['index.html', 'text/html; charset=utf-8'],
    ['app.js', 'text/javascript; charset=utf-8'],
    ['app.css', 'text/css; charset=utf-8'],
  ];
  const out = new Map<string, { body: Buffer; type: string }>();
  try {
    for (const [name, type] of files) out.set(name, { body: readFileSync(`${dir}${name}`), type });
  } catch {
    return null;
  }
  return out;
}

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export async function registerFaces(app: FastifyInstance, cloud: CloudParts): Promise<void> {
  const metrics = new HitchMetrics();
  metricsByApp.set(app, metrics);
  const clock = cloud.hosts[0]?.clock;

  app.addHook('onSend', async (_req, reply, payload) => {
    if (clock) reply.header('x-hitch-clock-ms', String(clock.now()));
    return payload;
  });
  app.addHook('onResponse', async (req, reply) => {
    // Route patterns, not URLs: ids would make one series per volume.
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.http(req.method, route, reply.statusCode, reply.elapsedTime / 1000);
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/metrics', async (_req, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.text();
  });

  const dash = loadDashboard();
  const send = (name: string) => async (_req: unknown, reply: import('fastify').FastifyReply) => {
    const f = dash?.get(name);
    if (!f) {
      return reply.code(503).type('text/plain; charset=utf-8').send('The dashboard is not built: run `npx tsx web/build.ts`.\n');
    }
    reply.header('content-security-policy', CSP).header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer');
    reply.header('cache-control', 'no-cache');
    return reply.type(f.type).send(f.body);
  };
  app.get('/', send('index.html'));
  app.get('/index.html', send('index.html'));
  app.get('/assets/app.js', send('app.js'));
  app.get('/assets/app.css', send('app.css'));
}
