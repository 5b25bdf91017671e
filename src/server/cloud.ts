/**
 * The all-in-one cloud: identity, block storage and compute on one database and one HTTP app,
 * with every compute host of the scenario managed in this process (`DirectDispatch`).
 *
 * `createCloud` is what `hitch serve` runs, what `hitch scenario run` runs in memory, and what
 * the end-to-end tests build — one composition, so the tests exercise the product.
 */
import { existsSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism, totalmem } from 'node:os';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Brick } from '../brick/index.ts';
import { computePlugin } from '../compute/api/compute-plugin.ts';
import type { BlockStorageRest } from '../compute/api/volume-proxy-routes.ts';
import { ComputeService } from '../compute/compute-service.ts';
import { DirectDispatch, type ComputeDispatch } from '../compute/dispatch.ts';
import { TaskQueue } from '../compute/queue.ts';
import { QueueDispatch } from '../compute/queue-dispatch.ts';
import { staleAfterMs } from '../compute/liveness.ts';
import { ComputeManager, type ComputeManagerOptions } from '../compute/manager.ts';
import type { RecoveryOutcome } from '../compute/recovery.ts';
import type { VolumeAttachProtocol } from '../ports/block-storage.ts';
import { FlavorStore } from '../compute/flavor-store.ts';
import { HostCatalog, type HostFacts } from '../compute/host-catalog.ts';
import { QuotaStore } from '../compute/quota-store.ts';
import { ComputeRepository, type ServerRow } from '../compute/repository.ts';
import { migrateCompute } from '../compute/schema.ts';
import type { BootDevice } from '../compute/server-request.ts';
import { inProcessAttachments, inProcessLegacy } from '../compute/volume-protocol.ts';
import { openDatabase, type HitchDb } from '../db/open-database.ts';
import { sealOldRows } from '../db/sealed-columns.ts';
import { keyFromFile, parseSecretKey, SecretBox } from '../db/secret-box.ts';
import { HitchError } from '../errors.ts';
import { RequestRateLimiter } from '../http/request-rate-limit.ts';
import type { Clock, Host } from '../ports/host.ts';
import { identityPlugin, imageDiscoveryPlugin } from '../identity/identity-plugin.ts';
import { IdentityService } from '../identity/identity-service.ts';
import type { Simulation } from '../sim/simulation.ts';
import type { Trace } from '../trace/span.ts';
import type { DomainSpec, HypervisorDriver } from '../ports/hypervisor.ts';
import type { VolumeBackend } from '../ports/volume-backend.ts';
import { novaEventsClient } from '../volume/compute-events.ts';
import { volumePlugin } from '../volume/volume-plugin.ts';
import { tracedBackend } from '../volume/traced-backend.ts';
import { VolumeService } from '../volume/volume-service.ts';
import type { HitchConfig } from './config.ts';
import { createDataPlane, type DataPlane } from './data-plane.ts';
import { metricsOf, registerFaces, type HitchMetrics } from './faces.ts';
import { imagesPlugin } from './images-plugin.ts';
import { silentLogger, type Logger } from './log.ts';
import { OperationLog } from './operation-log.ts';
import { remoteBlockStorage } from './remote-block-storage.ts';
import { installRequestLog } from './request-log.ts';

export interface CloudCredentials {
  readonly adminPassword: string;
  readonly demoPassword: string;
}

export interface CloudOptions {
  readonly config: HitchConfig;
  readonly credentials: CloudCredentials;
  /** Fixed identity ids (tests, fixtures). */
  readonly adminProjectId?: string;
  readonly adminUserId?: string;
  /** Observe step starts of every operation (crash hooks, metrics). */
  readonly onStep?: ComputeManagerOptions['onStep'];
  readonly onFinished?: (op: { id: string; kind: string; outcome: string; durationMs: number; trace: Trace }) => void;
  /**
   * Reuse a running data plane instead of creating one: a compute service restarting on the
   * same hosts (crash-recovery tests). Each host gets a fresh initiator library.
   */
  readonly dataPlane?: DataPlane;
  /** What this process runs (default all-in-one); see ProcessRole. */
  readonly role?: ProcessRole;
  /** Wrap each host's storage protocol (fault injection in tests, metrics). */
  readonly wrapStorage?: (p: VolumeAttachProtocol, hostName: string) => VolumeAttachProtocol;
  /** Where requests, operations and host commands are logged (default: nowhere). */
  readonly logger?: Logger;
}

export interface ComputeHostParts {
  readonly name: string;
  readonly ip: string;
  readonly host: Host;
  readonly clock: Clock;
  readonly brick: Brick;
  readonly hypervisor: HypervisorDriver;
  readonly manager: ComputeManager;
}

export interface Cloud {
  readonly app: FastifyInstance;
  /** This start created the admin and demo users, with `credentials`' passwords (an empty database). */
  readonly createdUsers: boolean;
  readonly db: HitchDb;
  readonly identity: IdentityService;
  readonly volumes: VolumeService;
  readonly backend: VolumeBackend;
  readonly compute: ComputeService;
  /**
   * The compute service's rows, for what sits beside the services in this process (the fuzz
   * harness's invariants, tests): the services themselves answer queries, not hand this out.
   */
  readonly computeRepository: ComputeRepository;
  readonly dispatch: ComputeDispatch;
  /** The scale-out work queue on this database. */
  readonly queue: TaskQueue;
  readonly hosts: readonly ComputeHostParts[];
  /** The simulated data plane (sim backend / sim hypervisor), if any. */
  readonly sim: Simulation | null;
  readonly dataPlane: DataPlane;
  readonly logger: Logger;
  /** Every route the HTTP app serves (`METHOD url`), as Fastify registered them: the policy test walks them all. */
  readonly routes: readonly { readonly method: string; readonly url: string }[];
  /** Wait for every operation in flight, and for background portal work on every host. */
  settle(): Promise<void>;
  /**
   * Stop: no new work (the API answers 503 at once, its listener closed first), then wait for the
   * operations in flight up to `drainMs` (config `drainTimeoutMs`; `0`: not at all). What is still
   * running then stays in the journal, with its trace written, for the next start's recovery.
   * Resolves with the number of operations left so.
   */
  close(opts?: { readonly drainMs?: number }): Promise<number>;
}

/**
 * What this process is: the all-in-one (every host's manager here, direct dispatch), a stateless
 * API process (no managers; work goes through the queue to the agents), or an agent process of
 * one or many compute hosts (their managers only; `ComputeAgent` feeds them from the queue).
 */
export type ProcessRole = { readonly kind: 'all-in-one' } | { readonly kind: 'api' } | { readonly kind: 'agent'; readonly hosts: readonly string[] };

export interface ServicesOptions extends Omit<CloudOptions, 'credentials' | 'adminProjectId' | 'adminUserId'> {
  /** Use this open database instead of opening `config.databaseUrl` (the caller closes it). */
  readonly database?: HitchDb;
}

/** Block storage and compute on a database and a data plane: everything but HTTP and identity. */
export type Services = Omit<Cloud, 'app' | 'identity' | 'createdUsers' | 'routes'>;

/**
 * Wire the block storage and compute services over a data plane and run crash recovery for
 * every host. What `createCloud` serves over HTTP; what the fuzz harness drives directly.
 */
/**
 * The crash-test hook: `HITCH_CRASH_AT=attach:connect-volume` (or `detach:unplug`, …) makes the
 * process kill itself with SIGKILL as that step of that kind of operation is about to start —
 * no cleanup, no rollback, no flush, exactly what a power cut leaves. Only the SIGKILL test sets
 * it; an unset or malformed value does nothing.
 */
export function crashHookFromEnv(env: NodeJS.ProcessEnv = process.env): ComputeManagerOptions['onStep'] | undefined {
  const m = /^(attach|detach):([a-z.-]+)$/.exec(env['HITCH_CRASH_AT'] ?? '');
  if (!m) return undefined;
  const [, kind, step] = m;
  return (op, s) => {
    if (op.kind === kind && s === step) process.kill(process.pid, 'SIGKILL');
  };
}

/**
 * What a compute host reports about itself: the machine this service runs on (CPUs, memory,
 * the data directory's file system) and its hypervisor. Hitch's libvirt driver and the
 * simulated hypervisor both drive QEMU domains, which Nova reports as `QEMU`.
 */
function hostFacts(hypervisor: HypervisorDriver, ip: string, dataDir: string): HostFacts {
  let localGb = 0;
  try {
    const st = statfsSync(existsSync(dataDir) ? dataDir : '/');
    localGb = Math.floor((st.blocks * st.bsize) / 2 ** 30);
  } catch {
    localGb = 0;
  }
  return {
    hypervisorType: hypervisor.kind === 'libvirt' ? 'QEMU' : 'QEMU (simulated)',
    hypervisorVersion: 0,
    vcpus: availableParallelism(),
    memoryMb: Math.floor(totalmem() / 2 ** 20),
    localGb,
    hostIp: ip,
  };
}

/** What crash recovery did at start, one line per operation a previous run left unfinished. */
export function logRecovery(log: Logger, host: string, outcomes: readonly RecoveryOutcome[]): void {
  for (const r of outcomes) {
    if (r.action === 'nothing') continue;
    const fields = { op_id: r.operationId, kind: r.kind, host, action: r.action, ...(r.error ? { error: r.error } : {}) };
    const text = `recovered ${r.kind} ${r.operationId} on host ${host}, left unfinished by the last run: ${r.action.replace(/_/g, ' ')}${r.error ? ` (${r.error})` : ''}`;
    if (r.error) log.warn(fields, text);
    else log.info(fields, text);
  }
}

/**
 * The key that seals CHAP secrets in the database: the configured `secretKey`, else the data
 * dir's `secret.key` (0600, made at first start; the data dir exists by then).
 */
export function secretBox(cfg: Pick<HitchConfig, 'secretKey' | 'dataDir'>): SecretBox {
  return new SecretBox(cfg.secretKey !== null ? parseSecretKey(cfg.secretKey) : keyFromFile(join(cfg.dataDir, 'secret.key')));
}

export async function createServices(opts: ServicesOptions): Promise<Services> {
  const cfg = opts.config;
  const logger = opts.logger ?? silentLogger();
  const crash = crashHookFromEnv();
  const userStep = opts.onStep;
  // Every operation of this process's hosts is logged from its trace (see operation-log.ts).
  let hosts: ComputeHostParts[] = [];
  const opLog = new OperationLog(logger, (id) => {
    for (const h of hosts) {
      const t = h.manager.liveTrace(id);
      if (t) return t;
    }
    return undefined;
  });
  const onStep: ComputeManagerOptions['onStep'] = async (op, s) => {
    crash?.(op, s);
    opLog.step(op);
    await userStep?.(op, s);
  };
  const onFinished: ComputeManagerOptions['onFinished'] = (op) => {
    opLog.finished(op);
    opts.onFinished?.(op);
  };
  const db = opts.database ?? (await openDatabase(cfg.databaseUrl, { secrets: secretBox(cfg), poolSize: cfg.databasePoolSize, poolWaitMs: cfg.databasePoolWaitMs }));
  try {
    await migrateCompute(db.db);
    const sealed = db.secrets ? await sealOldRows(db.db, db.secrets, db.dialect) : 0;
    if (sealed > 0) logger.warn({ sealed }, `sealed ${sealed} secret value(s) an older Hitch had stored in clear (CHAP credentials)`);
    const plane = opts.dataPlane ?? (await createDataPlane(cfg));
    const { sim, backend } = plane;
    // The backend's export is a span inside the compute service's in-process call (issue 18).
    const volumeClock = plane.hosts[0]?.clock;
    const volumes = new VolumeService(db.db, tracedBackend(backend), { maxSizeGiB: cfg.maxVolumeSizeGiB, ...(volumeClock ? { clock: volumeClock } : {}) });
    await volumes.init();
    const repo = new ComputeRepository(db.db);

    const flavors = new FlavorStore(db.db);
    // The guest's size is its flavor's, as Nova's libvirt driver sizes a domain.
    const domainSpec = (s: ServerRow): DomainSpec => {
      const f = s.flavor ? (JSON.parse(s.flavor) as { ram: number; vcpus: number }) : { ram: 128, vcpus: 1 };
      // A volume with boot index 0 is the root disk: the guest boots from it (Nova's volume-backed server).
      const bootsFromVolume = (s.block_devices ? (JSON.parse(s.block_devices) as BootDevice[]) : []).some((d) => d.bootIndex === 0);
      return { name: s.domain_name, uuid: s.id, memoryMiB: Math.max(16, f.ram), vcpus: Math.max(1, f.vcpus), virtType: 'qemu', ...(bootsFromVolume ? { bootsFromVolume } : {}) };
    };
    const role = opts.role ?? { kind: 'all-in-one' };
    const served = new Set(role.kind === 'agent' ? role.hosts : []);
    const managed = plane.hosts.filter((h) => role.kind === 'all-in-one' || served.has(h.name));
    if (role.kind === 'agent') {
      const known = new Set(plane.hosts.map((h) => h.name));
      const unknown = role.hosts.filter((h) => !known.has(h));
      if (unknown.length > 0 || role.hosts.length === 0) {
        const some = plane.hosts.slice(0, 10).map((h) => h.name).join(', ');
        throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: `no compute host named ${unknown.join(', ') || '(none given)'} in the data plane (${some}${plane.hosts.length > 10 ? `, … ${plane.hosts.length} in all` : ''})` });
      }
    }
    // The block storage compute talks to: this process's own service, or one over REST (blockStorageUrl).
    const remote = await remoteBlockStorage(cfg, logger);
    const storageOf = async (name: string): Promise<VolumeAttachProtocol> => {
      if (remote) return remote.protocol(name);
      return cfg.cinderFlow === 'legacy' ? inProcessLegacy(volumes, name) : inProcessAttachments(volumes);
    };
    const parts: ComputeHostParts[] = [];
    for (const { name, host, brick: first, newBrick, hypervisor, clock, ip } of managed) {
      const brick = opts.dataPlane ? newBrick() : first;
      const base = await storageOf(name);
      const storage = opts.wrapStorage ? opts.wrapStorage(base, name) : base;
      const manager = new ComputeManager({
        hostName: name,
        clock,
        repo,
        flow: { storage, connector: brick, hypervisor, detachTimeoutMs: cfg.detachTimeoutMs },
        onStep,
        onFinished,
      });
      parts.push({ name, host, clock, brick, hypervisor, manager, ip });
    }
    hosts = parts;
    // Before serving: finish or roll back whatever a previous run left half done. (An agent
    // recovers in ComputeAgent.start, before it claims work.)
    if (role.kind === 'all-in-one') for (const h of hosts) logRecovery(logger, h.name, await h.manager.recover());
    // A hypervisor that started afresh (the in-process simulator does on every start) has none of
    // the ACTIVE servers' domains: define and start them again, as nova-compute's start-up does.
    for (const h of hosts) {
      for (const s of await repo.listServers(undefined, h.name)) {
        if (s.status === 'ACTIVE' && (await h.hypervisor.domainState(s.domain_name)) === null) await h.hypervisor.defineAndStart(domainSpec(s));
      }
    }
    const queue = new TaskQueue(db.db, db.dialect, db.secrets);
    const direct = new DirectDispatch(hosts.map((h) => h.manager));
    // An API process waits on its tasks through one LISTEN connection (PostgreSQL).
    const queued =
      role.kind === 'api'
        ? new QueueDispatch({ queue, listenUrl: db.dialect === 'postgres' ? cfg.databaseUrl : null, staleMs: staleAfterMs(cfg.hostDownAfterMs), acceptDeadlineMs: Math.max(30_000, cfg.hostDownAfterMs) })
        : null;
    await queued?.start();
    const dispatch: ComputeDispatch = queued ?? direct;
    const hostCatalog = new HostCatalog(db.db, () => dispatch.liveHosts());
    // Each compute service says what its host is when it starts (`os-hypervisors`, `os-services`).
    for (const h of hosts) await hostCatalog.register(h.name, hostFacts(h.hypervisor, h.ip, cfg.dataDir));
    const compute: ComputeService = new ComputeService({
      repo,
      dispatch,
      // The API reads a volume's project and status here before it dispatches an attach.
      storage: remote ? await remote.protocol('') : inProcessAttachments(volumes),
      domainSpec,
      flavors,
      hosts: hostCatalog,
      quotas: new QuotaStore(db.db, (s) => compute.flavorOf(s)),
    });
    // Retention of the operation history (config operationRetentionDays): at start, then hourly.
    // Agents leave it to the API processes (one statement each; several at once are harmless).
    const prune = async (): Promise<void> => {
      const before = new Date(Date.now() - cfg.operationRetentionDays * 86_400_000).toISOString();
      try {
        const n = await repo.pruneOperations(before);
        if (n > 0) logger.info({ removed: n, before, retention_days: cfg.operationRetentionDays }, `operation history: removed ${n} operations finished before ${before} (retention ${cfg.operationRetentionDays} days)`);
      } catch (e) {
        logger.warn({ error: e instanceof Error ? e.message : String(e) }, 'operation history: retention pass failed; the next one (in an hour) tries again');
      }
    };
    let pruneTimer: NodeJS.Timeout | null = null;
    if (role.kind !== 'agent') {
      await prune();
      pruneTimer = setInterval(() => void prune(), 3_600_000);
      pruneTimer.unref();
    }
    // Operations first, then the background portal work they left, then the trace saves that work caused.
    const settle = async (): Promise<void> => {
      await compute.drain();
      await direct.drain();
      await Promise.all(hosts.map((h) => h.brick.settled()));
      await direct.drain();
      await volumes.drain();
    };
    return {
      queue,
      db,
      volumes,
      backend,
      compute,
      computeRepository: repo,
      dispatch,
      hosts,
      sim,
      dataPlane: plane,
      logger,
      settle,
      async close(o = {}) {
        // Operations in flight finish; background reap retries (minutes on a real clock) stop.
        for (const h of hosts) h.manager.stopReaping();
        if (pruneTimer) clearInterval(pruneTimer);
        const left = await drainFor(settle, hosts, o.drainMs ?? cfg.drainTimeoutMs);
        await queued?.stop();
        await volumes.close();
        await plane.close();
        if (!opts.database) await db.close();
        return left;
      },
    };
  } catch (e) {
    if (!opts.database) await db.close();
    throw e;
  }
}

/** A `fetch` that answers from `app` without a socket (a service calling another in the same process). */
function injectFetch(app: FastifyInstance): typeof fetch {
  return async (input, init) => {
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((v, k) => (headers[k] = v));
    const r = await app.inject({
      method: (init?.method ?? 'GET') as 'POST',
      url: String(input),
      headers,
      ...(typeof init?.body === 'string' ? { payload: init.body } : {}),
    });
    return new Response(r.body, { status: r.statusCode, headers: r.headers as Record<string, string> });
  };
}

/**
 * Wait for `settle` up to `drainMs`; when it does not come, write the traces of the operations
 * still running (their journal rows say where each one is) and return how many there are.
 */
async function drainFor(settle: () => Promise<void>, hosts: readonly ComputeHostParts[], drainMs: number): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const drained = await Promise.race([
    settle().then(() => true),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(false), drainMs))),
  ]);
  clearTimeout(timer);
  if (drained) return 0;
  let left = 0;
  for (const h of hosts) left += await h.manager.journalInFlight();
  return left;
}

export async function createCloud(opts: CloudOptions): Promise<Cloud> {
  const cfg = opts.config;
  // The metrics live on the app, which exists only once the services do; no operation runs before.
  const sink: { metrics?: HitchMetrics | undefined } = {};
  const userStep = opts.onStep;
  const userFinished = opts.onFinished;
  const services = await createServices({
    ...opts,
    onStep: async (op, step) => {
      sink.metrics?.step(op, step);
      await userStep?.(op, step);
    },
    onFinished: (op) => {
      sink.metrics?.finished(op);
      userFinished?.(op);
    },
  });
  const { db, volumes, compute, hosts } = services;
  try {
    const identity = new IdentityService(db.db);
    const createdUsers = await identity.seed({
      adminPassword: opts.credentials.adminPassword,
      demoPassword: opts.credentials.demoPassword,
      ...(opts.adminProjectId ? { adminProjectId: opts.adminProjectId } : {}),
      ...(opts.adminUserId ? { adminUserId: opts.adminUserId } : {}),
    });
    const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
    // Stopping (close below): no handler starts any more. The listener is closed by then, and
    // Node drops idle kept-alive connections with it; a request that was still arriving (its body
    // on the way) is refused here, at once, before it changes anything.
    const stopping = { value: false };
    app.addHook('preHandler', async (_req, reply) => {
      if (!stopping.value) return;
      const err = new HitchError('HITCH_SHUTTING_DOWN', { retryAfter: 5 });
      await reply.code(err.status).header('retry-after', '5').header('connection', 'close').send(err.toOpenStackBody());
    });
    // Before the plugins: a hook reaches the routes of plugins registered after it.
    installRequestLog(app, { log: services.logger, callerOf: (t) => identity.knownCaller(t) });
    const routes: { method: string; url: string }[] = [];
    app.addHook('onRoute', (r) => {
      for (const method of [r.method].flat()) routes.push({ method, url: r.url });
    });
    const publicUrl = cfg.publicUrl;
    // One limiter for the three APIs: a project's budget is its requests to this process.
    const rateLimiter = new RequestRateLimiter({ projectPerSecond: cfg.projectRateLimit, projectBurst: cfg.projectRateBurst, userPerSecond: cfg.userRateLimit, userBurst: cfg.userRateBurst });
    await app.register(identityPlugin, { prefix: '/identity', identity, publicUrl, rateLimiter });
    await app.register(imageDiscoveryPlugin, { prefix: '/image', publicUrl });
    await app.register(imagesPlugin, { prefix: '/image/v2', identity });
    await app.register(volumePlugin, { prefix: '/volume', service: volumes, auth: identity, publicUrl, rateLimiter });
    // Nova's volume proxy calls the block storage API as the caller; here, the same app in process.
    const blockStorage: BlockStorageRest = {
      async call(method, path, token, body) {
        const r = await app.inject({
          method,
          url: `/volume${path}`,
          headers: { 'x-auth-token': token, accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
          ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
        });
        let parsed: unknown = null;
        try {
          parsed = r.body ? (JSON.parse(r.body) as unknown) : null;
        } catch {
          parsed = { error: { message: r.body.slice(0, 200) } };
        }
        return { status: r.statusCode, body: parsed };
      },
    };
    const projectExists = async (id: string): Promise<boolean> => (await identity.store.findProject({ id })) !== undefined;
    await app.register(computePlugin, { prefix: '/compute', compute, identity, publicUrl, blockStorage, projectExists, rateLimiter });
    await registerFaces(app, { hosts, volumes });
    sink.metrics = metricsOf(app);
    // Block storage tells compute of a grown in-use volume the way Cinder tells Nova: an admin's
    // POST /os-server-external-events — here to this process's own compute API, in process.
    volumes.setComputeEvents(
      novaEventsClient({
        computeUrl: '/compute/v2.1',
        token: async () => {
          const issued = await identity.authenticatePassword({ user: { name: 'admin' }, password: opts.credentials.adminPassword }, { project: { name: 'admin' } }, publicUrl);
          return issued.token;
        },
        fetch: injectFetch(app),
      }),
    );
    return {
      ...services,
      app,
      routes,
      createdUsers,
      identity,
      async close(o = {}) {
        // The listener first: a new connection is refused, a request on a connection already open
        // gets 503 (the hook above); then the operations in flight, up to the drain time.
        stopping.value = true;
        if (app.server.listening) app.server.close(() => undefined);
        for (const h of hosts) h.manager.stopReaping();
        const left = await drainFor(services.settle, hosts, o.drainMs ?? cfg.drainTimeoutMs);
        await app.close();
        await services.close({ drainMs: left > 0 ? 0 : (o.drainMs ?? cfg.drainTimeoutMs) });
        return left;
      },
    };
  } catch (e) {
    await services.close();
    throw e;
  }
}
