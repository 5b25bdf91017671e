/**
 * `hitch serve` (what `npm start` runs): the all-in-one cloud on one port.
 *
 * On first start it generates the admin and demo passwords into `dataDir/credentials.json`
 * (mode 0600), creates a demo volume and a demo server, and prints the URL and the credentials
 * — the only time a secret is printed. Every start writes `dataDir/clouds.yaml`, so
 * `OS_CLIENT_CONFIG_FILE=<dataDir>/clouds.yaml openstack --os-cloud hitch …` works at once.
 * Both are written once the server listens, never before: a start that fails (a busy port)
 * leaves the files of the last start that worked, pointing at a server that was Hitch's.
 *
 * On the simulator the virtual clock is paced (`--sim-speed`, default 1 = real time), so an
 * attach takes as long as it would on the modelled hardware and its progress can be watched;
 * `--sim-speed 0` lets virtual time jump (an attach in milliseconds).
 *
 * SIGINT/SIGTERM: close the listener (a request on a connection still open gets 503), let the
 * operations in flight finish or roll back for up to `drainTimeoutMs`, leave what still runs to
 * the journal, close the database, exit. A second signal exits at once.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { createServer, isIP } from 'node:net';
import { join } from 'node:path';
import YAML from 'yaml';
import { TINY_IMAGE_ID } from '../compute/images.ts';
import { HitchError } from '../errors.ts';
import type { VirtualClock } from '../sim/clock.ts';
import { createCloud, type Cloud, type ProcessRole } from './cloud.ts';
import { bannerLines } from './banner.ts';
import { checkSqliteFile } from '../db/sqlite-file.ts';
import { prepareDataDir } from './data-dir.ts';
import { tightenDataDir } from './secrets-at-rest.ts';
import { printableConfig, resolveConfig, type HitchConfig } from './config.ts';
import { createLogger, defaultLogFormat, type Logger } from './log.ts';

export interface Credentials {
  readonly url: string;
  readonly admin: { readonly username: 'admin'; readonly password: string; readonly project: 'admin' };
  readonly demo: { readonly username: 'demo'; readonly password: string; readonly project: 'demo' };
}

export interface ServeFlags extends Partial<Record<keyof HitchConfig, unknown>> {
  /** `hitch api` runs the same server as an API process of a scale-out cloud (see scale-out.ts). */
  role?: ProcessRole;
  config?: unknown;
  simSpeed?: unknown;
  printConfig?: boolean;
  /** Where log lines go (default: stdout, at the configured level and format). */
  logStream?: NodeJS.WritableStream;
}

export interface RunningServer {
  readonly url: string;
  readonly config: HitchConfig;
  readonly cloud: Cloud;
  readonly firstStart: boolean;
  readonly logger: Logger;
  /**
   * Graceful stop (what SIGINT/SIGTERM run): the listener closes, operations in flight get
   * `drainMs` (config `drainTimeoutMs`) to finish. Resolves with how many were left in the journal.
   */
  stop(opts?: { readonly drainMs?: number }): Promise<number>;
}

export const DEMO_VOLUME = 'demo-volume';
export const DEMO_SERVER = 'demo-server';

const genPassword = (): string => randomBytes(15).toString('base64url');

/**
 * Refuse a port another process holds before anything is built or written: listen on it and
 * let go (the catalog and the files name the port, so it must be known good first). A process
 * that takes it in between still fails the real listen, with the same message.
 */
async function checkPortFree(bind: string, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(port, bind, () => srv.close(() => resolve()));
  }).catch((e: unknown) => {
    throw listenError(e, bind, port);
  });
}

/** `--bind` must name an address of this machine's resolver: a typo fails here, before anything is written. */
async function checkBind(bind: string): Promise<void> {
  if (isIP(bind) !== 0) return;
  try {
    await lookup(bind);
  } catch (e) {
    throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: `--bind ${JSON.stringify(bind)} is neither an IP address nor a host name that resolves (${(e as NodeJS.ErrnoException).code ?? String(e)}): give an address such as 127.0.0.1, ::1 or 0.0.0.0` });
  }
}

function listenError(e: unknown, bind: string, port: number): unknown {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') {
    return new HitchError('HITCH_CONFLICT', { reason: `cannot listen on ${bind}:${port}: another process holds that port (EADDRINUSE)`, next: 'Stop it, or choose another port with --port.' });
  }
  if (code === 'EACCES' || code === 'EADDRNOTAVAIL') {
    return new HitchError('HITCH_CONFLICT', { reason: `cannot listen on ${bind}:${port} (${code})`, next: 'Choose another address or port with --bind or --port.' });
  }
  return e;
}

/** A port that is free on `host` now (the catalog needs the real port before listening). */
export async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const a = srv.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function writeSecret(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** Read `dataDir/credentials.json`, or null when this is the first start. */
export function readCredentials(dataDir: string): Credentials | null {
  const p = join(dataDir, 'credentials.json');
  if (!existsSync(p)) return null;
  const c = JSON.parse(readFileSync(p, 'utf8')) as Credentials;
  if (typeof c?.admin?.password !== 'string' || typeof c?.demo?.password !== 'string') {
    throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: `${p} is not a Hitch credentials file` });
  }
  return c;
}

/** The clouds.yaml that `openstack --os-cloud hitch` (demo) and `--os-cloud hitch-admin` read. */
export function cloudsYaml(c: Credentials): string {
  const cloud = (u: { username: string; password: string; project: string }) => ({
    auth: {
      auth_url: `${c.url}/identity/v3`,
      username: u.username,
      password: u.password,
      project_name: u.project,
      user_domain_name: 'Default',
      project_domain_name: 'Default',
    },
    region_name: 'RegionOne',
    interface: 'public',
    identity_api_version: 3,
  });
  return `# Written by hitch serve for ${c.url}. Use: OS_CLIENT_CONFIG_FILE=<this file> openstack --os-cloud hitch server list\n${YAML.stringify({ clouds: { hitch: cloud(c.demo), 'hitch-admin': cloud(c.admin) } })}`;
}

/**
 * Pace a virtual clock to wall time × `speed`: hold it (so it never jumps by itself) and move
 * it forward in small steps. Returns a stop function that lets it run free again.
 */
export function paceClock(clock: VirtualClock, speed: number, tickMs = 50): () => void {
  const release = clock.hold();
  const wall0 = Date.now();
  const virt0 = clock.now();
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    const target = virt0 + (Date.now() - wall0) * speed;
    if (target <= clock.now()) return;
    busy = true;
    void clock.advance(target - clock.now()).finally(() => {
      busy = false;
    });
  }, tickMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    release();
  };
}

function parseSpeed(v: unknown): number {
  if (v === undefined || v === null) return 1;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+(\.\d+)?$/.test(v) ? Number(v) : NaN;
  if (!Number.isFinite(n) || n < 0 || n > 100_000) {
    throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'config simSpeed: must be a number from 0 (no pacing) to 100000' });
  }
  return n;
}

/** Create the demo volume and server through the public APIs, as the demo user. */
async function createDemoResources(cloud: Cloud, creds: Credentials): Promise<void> {
  const tok = await cloud.app.inject({
    method: 'POST',
    url: '/identity/v3/auth/tokens',
    payload: {
      auth: {
        identity: { methods: ['password'], password: { user: { name: 'demo', domain: { id: 'default' }, password: creds.demo.password } } },
        scope: { project: { name: 'demo', domain: { id: 'default' } } },
      },
    },
  });
  const token = tok.headers['x-subject-token'];
  if (tok.statusCode !== 201 || typeof token !== 'string') throw new HitchError('HITCH_INTERNAL', { detail: `demo token: ${tok.statusCode}` });
  const headers = { 'x-auth-token': token, 'content-type': 'application/json' };
  const v = await cloud.app.inject({ method: 'POST', url: '/volume/v3/volumes', headers, payload: { volume: { size: 1, name: DEMO_VOLUME, description: 'created by hitch serve on first start' } } });
  const s = await cloud.app.inject({
    method: 'POST',
    url: '/compute/v2.1/servers',
    headers,
    payload: { server: { name: DEMO_SERVER, imageRef: TINY_IMAGE_ID, flavorRef: '1' } },
  });
  if (v.statusCode !== 202 || s.statusCode !== 202) throw new HitchError('HITCH_INTERNAL', { detail: `demo resources: volume ${v.statusCode}, server ${s.statusCode}` });
}

/** Whether demo-server is ACTIVE and demo-volume available, as the demo user sees them. */
async function demoReady(cloud: Cloud, creds: Credentials): Promise<boolean> {
  const tok = await cloud.app.inject({
    method: 'POST',
    url: '/identity/v3/auth/tokens',
    payload: {
      auth: {
        identity: { methods: ['password'], password: { user: { name: 'demo', domain: { id: 'default' }, password: creds.demo.password } } },
        scope: { project: { name: 'demo', domain: { id: 'default' } } },
      },
    },
  });
  const token = tok.headers['x-subject-token'];
  if (tok.statusCode !== 201 || typeof token !== 'string') return false;
  const headers = { 'x-auth-token': token };
  const v = await cloud.app.inject({ method: 'GET', url: `/volume/v3/volumes/detail?name=${DEMO_VOLUME}`, headers });
  const s = await cloud.app.inject({ method: 'GET', url: `/compute/v2.1/servers/detail?name=${DEMO_SERVER}`, headers });
  const vols = v.statusCode === 200 ? (v.json() as { volumes: { name: string; status: string }[] }).volumes : [];
  const srvs = s.statusCode === 200 ? (s.json() as { servers: { name: string; status: string }[] }).servers : [];
  return vols.some((x) => x.name === DEMO_VOLUME && x.status === 'available') && srvs.some((x) => x.name === DEMO_SERVER && x.status === 'ACTIVE');
}

/** The logger of a server process: the configured level, and format (auto: pretty on a terminal). */
export function serverLogger(config: HitchConfig, stream: NodeJS.WritableStream & { isTTY?: boolean }, role: string): Logger {
  const format = config.logFormat === 'auto' ? defaultLogFormat(stream) : config.logFormat;
  return createLogger({ level: config.logLevel, format, stream, base: { role } });
}

/** Start the all-in-one server. `out` receives the lines a person should read. */
export async function startServer(flags: ServeFlags, env: NodeJS.ProcessEnv = process.env, out: (line: string) => void = console.log): Promise<RunningServer> {
  const { simSpeed: speedFlag, printConfig: _p, role, logStream, ...cfgFlags } = flags;
  let config = resolveConfig(cfgFlags, env);
  const speed = parseSpeed(speedFlag ?? env['HITCH_SIM_SPEED']);
  // Everything that can be checked is checked before anything is written: the address and port,
  // the database file, then the data directory (made here, level by level).
  await checkBind(config.bind);
  if (config.port === 0) config = resolveConfig({ ...cfgFlags, port: await freePort(config.bind) }, env);
  else await checkPortFree(config.bind, config.port);
  // A data dir that is already there is tightened before the database check opens the file:
  // SQLite makes a WAL database's -wal and -shm with the database file's own mode, so a check of
  // a loose hitch.db would leave them as loose as it.
  const tightened = existsSync(config.dataDir) && statSync(config.dataDir).isDirectory() ? tightenDataDir(config) : [];
  if (config.databaseUrl.startsWith('sqlite:') && config.databaseUrl !== 'sqlite::memory:') checkSqliteFile(config.databaseUrl.slice('sqlite:'.length));
  prepareDataDir(config.dataDir);
  for (const w of [...tightened, ...tightenDataDir(config)]) out(w);

  const existing = readCredentials(config.dataDir);
  const firstStart = existing === null;
  const creds: Credentials = {
    url: config.publicUrl,
    admin: { username: 'admin', password: existing?.admin.password ?? config.adminPassword ?? genPassword(), project: 'admin' },
    demo: { username: 'demo', password: existing?.demo.password ?? genPassword(), project: 'demo' },
  };

  const stream = logStream ?? process.stdout;
  const logger = serverLogger(config, stream, role?.kind === 'api' ? 'api' : 'all-in-one');
  const cloud = await createCloud({
    config,
    logger,
    credentials: { adminPassword: creds.admin.password, demoPassword: creds.demo.password },
    ...(role ? { role } : {}),
  });
  let unpace = (): void => undefined;
  const usable = !firstStart || cloud.createdUsers;
  try {
    // An API process has no compute host of its own: the demo server waits for an agent.
    if (cloud.createdUsers && role?.kind !== 'api') {
      // Built on free-running virtual time, so the demo server is ACTIVE before anyone can ask.
      await createDemoResources(cloud, creds);
      await cloud.settle();
    }
    if (cloud.sim && speed > 0) unpace = paceClock(cloud.sim.clock, speed);
    await cloud.app.listen({ host: config.bind, port: config.port }).catch((e: unknown) => {
      throw listenError(e, config.bind, config.port);
    });
    // Rewritten on every start, once listening: the URL follows --port/--public-url, the passwords
    // stay. Not when this data directory had none and the database already had its users (another
    // process's first start made them): these passwords would not be theirs.
    if (usable) {
      writeSecret(join(config.dataDir, 'credentials.json'), `${JSON.stringify(creds, null, 2)}\n`);
      writeSecret(join(config.dataDir, 'clouds.yaml'), cloudsYaml(creds));
    }
  } catch (e) {
    unpace();
    await cloud.close().catch(() => undefined);
    throw e;
  }

  const credentialsFile = join(config.dataDir, 'credentials.json');
  const info = cloud.dataPlane.simClient?.info;
  for (const line of bannerLines({
    config,
    role: role?.kind === 'api' ? 'api' : 'all-in-one',
    speed,
    daemon: info ? { scenario: info.scenario, seed: info.seed, hosts: info.hosts.map((h) => h.name) } : null,
    // A password the operator gave (HITCH_ADMIN_PASSWORD, the config file) is theirs already: never printed.
    created: cloud.createdUsers ? { admin: existing === null && config.adminPassword !== null ? null : creds.admin.password, demo: creds.demo.password } : null,
    credentialsFile: usable ? credentialsFile : null,
    demoReady: usable && (await demoReady(cloud, creds)),
    agents: role?.kind === 'api' ? await cloud.dispatch.liveHosts() : [],
  })) {
    out(line);
  }
  logger.info({ url: config.publicUrl, data_dir: config.dataDir, database: printableConfig(config).databaseUrl, scenario: cloud.sim ? config.scenario : null }, `listening on ${config.publicUrl}`);

  let stopping: Promise<number> | null = null;
  const stop = (opts: { readonly drainMs?: number } = {}): Promise<number> => {
    // Simulated time keeps its pace while operations drain, as a real host's would: a slow login
    // takes as long to give up as it would have.
    stopping ??= (async () => {
      try {
        const left = await cloud.close(opts);
        if (left > 0) logger.warn({ operations: left }, 'operations still running after the drain are left to the journal');
        logger.info('stopped');
        return left;
      } finally {
        unpace();
      }
    })();
    return stopping;
  };
  return { url: config.publicUrl, config, cloud, firstStart, logger, stop };
}

/**
 * The `serve` command: start, print, and stop cleanly on SIGINT/SIGTERM. Resolves once listening
 * with the running server (null for `--print-config`).
 */
export async function serve(flags: ServeFlags, out: (line: string) => void = console.log): Promise<RunningServer | null> {
  if (flags.printConfig) {
    const { simSpeed, printConfig: _p, ...cfgFlags } = flags;
    const cfg = resolveConfig(cfgFlags);
    out(JSON.stringify({ ...printableConfig(cfg), simSpeed: parseSpeed(simSpeed ?? process.env['HITCH_SIM_SPEED']) }, null, 2));
    return null;
  }
  const server = await startServer(flags, process.env, out);
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (++signals > 1) {
      // Safe: every step is journaled before it runs, and SQLite's commits are already on disk.
      console.error(`hitch: ${sig} again, exiting without waiting; the next start recovers what was in flight from the journal`);
      process.exit(1);
    }
    console.log(`hitch: ${sig}: no new requests; finishing operations in flight (up to ${server.config.drainTimeoutMs / 1000} s, config drainTimeoutMs), then closing`);
    void server.stop().then(
      (left) => {
        if (left > 0) console.log(`hitch: ${left} operation(s) still running after the drain; the journal keeps them for the next start's recovery`);
        console.log('hitch: stopped');
        process.exit(0);
      },
      (e: unknown) => {
        console.error(`hitch: error while stopping: ${e instanceof Error ? e.message : String(e)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return server;
}
