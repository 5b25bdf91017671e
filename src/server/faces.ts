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
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { SpanEvent, SpanRecord, Trace } from '../trace/span.ts';
import type { Clock } from '../ports/host.ts';

/**
 * What the faces read of the cloud (`cloud.ts` hands them over): each compute host's clock and
 * the live traces of its operations, and the largest volume one may create.
 */
export interface CloudParts {
  readonly hosts: ReadonlyArray<{ readonly clock: Clock; readonly manager: { liveTrace(operationId: string): Trace | undefined } }>;
  readonly volumes: { readonly maxSizeGiB: number };
}

/** What `createCloud`'s `onStep`/`onFinished` feed (wired by `serve`). */
export interface FinishedOperation {
  readonly id: string;
  readonly kind: string;
  readonly outcome: string;
  readonly durationMs: number;
  readonly trace: Trace;
}

/**
 * Buckets from 5 ms to 10 min: an attach behind a dead portal's 120 s login (the seed's took
 * 254 s in Nova) must land in a bucket, not in `+Inf`.
 */
const OPERATION_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 180, 300, 600];
const STEP_BUCKETS = [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600];

/** How a path's login failed, as a label: timeout (exit 8), auth (exit 24), error (anything else). */
const LOGIN_FAILURE_REASON: Readonly<Record<string, string>> = {
  HITCH_ISCSI_LOGIN_TIMEOUT: 'timeout',
  HITCH_ISCSI_AUTH_FAILED: 'auth',
  HITCH_ISCSI_LOGIN_FAILED: 'error',
};

/**
 * A storage path's login that failed, from its span: the protocol, the portal and why. An iSCSI
 * path is a `connect_path` span with the portal and IQN it logged in to; a connector for another
 * protocol records its paths the same way with its own protocol attribute.
 */
export function pathLoginFailure(s: Readonly<SpanRecord>): { protocol: string; portal: string; reason: string } | null {
  if (s.name !== 'connect_path' || s.outcome !== 'error' || typeof s.attrs['portal'] !== 'string') return null;
  const reason = s.error ? LOGIN_FAILURE_REASON[s.error.code] : undefined;
  if (reason === undefined) return null;
  const protocol = typeof s.attrs['protocol'] === 'string' ? s.attrs['protocol'] : 'iscsi';
  return { protocol, portal: s.attrs['portal'], reason };
}

/**
 * The Prometheus metrics of one server. Durations of operations are in the hosts' clock (virtual
 * on the simulator). Steps and path failures are read from each operation's trace as its spans
 * start and end — a dead portal's login fails minutes after its attach returned.
 */
export class HitchMetrics {
  readonly registry = new Registry();
  /** The live trace of an operation running in this process (set by registerFaces). */
  traceOf: (operationId: string) => Trace | undefined = () => undefined;
  /** Operations seen starting and not yet finished, and their trace subscriptions. */
  readonly #running = new Map<string, { kind: string; unsubscribe: () => void }>();
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
    buckets: OPERATION_BUCKETS,
    registers: [this.registry],
  });
  readonly #inflight = new Gauge({
    name: 'hitch_operations_in_flight',
    help: 'Attach and detach operations running in this process now, by kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly #steps = new Counter({
    name: 'hitch_steps_started_total',
    help: 'Steps of attach and detach operations started (every top-level span of the trace: the nine steps, rollback), by kind and step',
    labelNames: ['kind', 'step'] as const,
    registers: [this.registry],
  });
  readonly #iscsiLoginFailures = new Counter({
    name: 'hitch_iscsi_login_failures_total',
    help: 'iSCSI logins to a portal that failed, by portal and reason (timeout: iscsiadm exit 8, auth: exit 24, error: anything else); counted when the login ends, in the background too',
    labelNames: ['portal', 'reason'] as const,
    registers: [this.registry],
  });
  readonly #stepSeconds = new Histogram({
    name: 'hitch_step_duration_seconds',
    help: 'Duration of each top-level step of finished operations (host clock), by kind, step and outcome',
    labelNames: ['kind', 'step', 'outcome'] as const,
    buckets: STEP_BUCKETS,
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

  /** An operation's step begins (the first one: it starts, and its trace is followed). */
  step(op: { id: string; kind: string }, _step: string): void {
    if (this.#running.has(op.id)) return;
    this.#inflight.inc({ kind: op.kind });
    const trace = this.traceOf(op.id);
    this.#running.set(op.id, { kind: op.kind, unsubscribe: trace ? this.#follow(op.kind, trace) : () => undefined });
  }

  /**
   * Count the trace's spans that started before, then every start and end as it happens, until
   * every span has ended after the operation finished.
   */
  #follow(kind: string, trace: Trace): () => void {
    for (const s of trace.spans) {
      this.#onSpan(kind, { kind: 'start', span: s });
      if (s.endMs !== null) this.#onSpan(kind, { kind: 'end', span: s });
    }
    return trace.subscribe((e) => this.#onSpan(kind, e));
  }

  #onSpan(kind: string, e: SpanEvent): void {
    if (e.kind === 'start' && e.span.parentId === null) this.#steps.inc({ kind, step: e.span.name });
    if (e.kind === 'end') {
      const f = pathLoginFailure(e.span);
      if (f?.protocol === 'iscsi') this.#iscsiLoginFailures.inc({ portal: f.portal, reason: f.reason });
    }
  }

  finished(op: FinishedOperation): void {
    const seen = this.#running.get(op.id);
    if (seen) {
      this.#running.delete(op.id);
      this.#inflight.dec({ kind: op.kind });
    }
    const unsubscribe = seen?.unsubscribe ?? this.#follow(op.kind, op.trace);
    // Background work (a dead portal's login) keeps the trace going after the operation ends.
    if (op.trace.spans.every((s) => s.endMs !== null)) unsubscribe();
    else {
      const stop = op.trace.subscribe(() => {
        if (op.trace.spans.every((s) => s.endMs !== null)) {
          stop();
          unsubscribe();
        }
      });
    }
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
  metrics.traceOf = (id) => {
    for (const h of cloud.hosts) {
      const t = h.manager.liveTrace(id);
      if (t) return t;
    }
    return undefined;
  };
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
  // The page carries this cloud's settings the dashboard needs before any API call: the size
  // limit (config maxVolumeSizeGiB), so its form offers what the API will accept.
  const index = dash?.get('index.html');
  if (dash && index) {
    const body = Buffer.from(index.body.toString('utf8').replace('<meta name="hitch-max-volume-size-gib" content="">', `<meta name="hitch-max-volume-size-gib" content="${cloud.volumes.maxSizeGiB}">`));
    dash.set('index.html', { ...index, body });
  }
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
