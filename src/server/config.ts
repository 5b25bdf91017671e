/**
 * Hitch's configuration, resolved once: command-line flags > environment (`HITCH_*`) > config
 * file (`--config FILE`, YAML or JSON) > defaults; validated; frozen. `printableConfig` masks
 * every secret, so `--print-config` and logs can show it.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import YAML from 'yaml';
import { CONNECTOR_PROPERTIES_TTL_MS } from '../brick/index.ts';
import { HOST_DOWN_AFTER_MS } from '../compute/liveness.ts';
import { parseSecretKey } from '../db/secret-box.ts';
import { HitchError } from '../errors.ts';
import { MASK } from '../host/mask.ts';
import { MAX_VOLUME_SIZE_GIB } from '../volume/volume-service.ts';

export interface HitchConfig {
  /** Address to listen on; loopback by default (a cloud of one machine). */
  readonly bind: string;
  readonly port: number;
  /** The URL clients use (catalog, links); default `http://<bind>:<port>`. */
  readonly publicUrl: string;
  /** Where the SQLite file, credentials, clouds.yaml and tgt LUN files live. */
  readonly dataDir: string;
  /** `sqlite:FILE` (default, under dataDir) or `postgres://…`. */
  readonly databaseUrl: string;
  /**
   * Requests a second one project may make to this API process, sustained (0: no limit), and how
   * many at once above that; past them 429 with Retry-After. Admins are not limited.
   */
  readonly projectRateLimit: number;
  readonly projectRateBurst: number;
  /** The same for one user, whatever the project. */
  readonly userRateLimit: number;
  readonly userRateBurst: number;
  /** PostgreSQL: the connections this process keeps open at most. */
  readonly databasePoolSize: number;
  /** PostgreSQL: how long a request waits for a free connection before 503 with Retry-After. */
  readonly databasePoolWaitMs: number;
  /** The simulated data plane's scenario (built-in name or file). */
  readonly scenario: string;
  readonly seed: number;
  /**
   * Block storage backend: the simulated array, real tgt targets (iSCSI), or the kernel's own
   * NVMe target (`nvmet`, NVMe/TCP through configfs).
   */
  readonly backend: 'sim' | 'tgt' | 'nvmet';
  /** Hypervisor driver: simulated, or libvirt (qemu:///system). */
  readonly virt: 'sim' | 'libvirt';
  /** How compute hosts attach: kernel initiator (host block device) or QEMU's own iSCSI. */
  readonly attachMode: 'kernel' | 'qemu-native';
  /** Which Cinder flow compute uses: the attachments API or the legacy actions. */
  readonly cinderFlow: 'attachments' | 'legacy';
  /**
   * The Keystone v3 URL (ending in `/v3`) of the cloud whose block storage compute uses, as
   * Nova's `[cinder]` section: compute authenticates there as `blockStorageUser` in
   * `blockStorageProject` and calls the `volumev3` endpoint of the catalog it gets back, over
   * REST — Hitch's block storage in another process or any Cinder-compatible service. null: this
   * process's own block storage service, in process.
   */
  readonly blockStorageUrl: string | null;
  readonly blockStorageUser: string;
  readonly blockStorageProject: string;
  /** `blockStorageUser`'s password; required with `blockStorageUrl`. A secret: masked when printed. */
  readonly blockStoragePassword: string | null;
  /** The admin's password; generated on first start and kept in `dataDir/credentials.json`. */
  readonly adminPassword: string | null;
  /**
   * The key that seals CHAP secrets in the database (AES-256-GCM): 32 bytes, base64 or hex.
   * Several API processes on one PostgreSQL must all have the same. null: `dataDir/secret.key`,
   * made at first start. A secret: masked when printed.
   */
  readonly secretKey: string | null;
  /** How long a guest may take to release a disk on detach. */
  readonly detachTimeoutMs: number;
  /**
   * On SIGTERM, how long to wait for the operations in flight before exiting anyway (they stay in
   * the journal for the next start's recovery).
   */
  readonly drainTimeoutMs: number;
  /**
   * Scale-out: a compute host whose agent stopped heartbeating is down within this long of its
   * last heartbeat (requests for it fail at once with HITCH_COMPUTE_HOST_DOWN, no new server goes
   * there). Agents heartbeat every half of it; a check calls a host down once its heartbeat is
   * older than eleven twelfths of it (`staleAfterMs`), so detection falls within the bound, not
   * on its edge. Give every process the same value. An API process also waits this long (at
   * least 30 s) for an agent to take a request.
   */
  readonly hostDownAfterMs: number;
  /** The largest volume one may create, GiB: the API refuses more, the dashboard offers no more. */
  readonly maxVolumeSizeGiB: number;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** JSON lines (for a log shipper), pretty lines (for a person), or auto: pretty on a terminal. */
  readonly logFormat: 'json' | 'pretty' | 'auto';
  /**
   * How long finished attaches and detaches stay in the operation history (with their traces),
   * days: older ones are removed at start and then hourly. Running ones are never removed.
   */
  readonly operationRetentionDays: number;

  // --- the real data plane (backend tgt or nvmet, virt libvirt) ---------------------------------------
  /** Portals (`ip:port`) tgtd serves volumes on; the first is `target_portal`. */
  readonly tgtPortals: readonly string[];
  /** tgtd's management port (`tgtd -C N`); 0 is tgtd's default socket. */
  readonly tgtControlPort: number;
  /** Start tgtd (on `tgtPortals` only) when none answers, and stop it on close. */
  readonly tgtStart: boolean;
  /**
   * TCP portals (`ip:port`) the `nvmet` backend serves NVMe/TCP on, one configfs port each; a
   * multipath connector gets them all as `portals`, any other the first.
   */
  readonly nvmetPortals: readonly string[];
  /** libvirt connection URI of the compute host. */
  readonly libvirtUri: string;
  /** `qemu` (TCG: runs anywhere) or `kvm`. */
  readonly virtType: 'qemu' | 'kvm';
  /** Kernel, initramfs and command line servers boot from (direct kernel boot); none: no boot source. */
  readonly guestKernel: string | null;
  readonly guestInitrd: string | null;
  readonly guestCmdline: string;
  /**
   * Where this host's open-iscsi keeps its node records (brick writes a record there itself
   * rather than running iscsiadm): Debian's `/etc/iscsi/nodes` when null, `/var/lib/iscsi/nodes`
   * on RHEL. An in-process simulation defaults to its scenario host's layout.
   */
  readonly iscsiNodesDir: string | null;
  /**
   * How long brick reuses this host's connector properties (initiator name, FC ports,
   * multipathd running), ms; 0 reads them on every attach and detach, as os-brick does. See
   * `CONNECTOR_PROPERTIES_TTL_MS` in `src/brick/index.ts`.
   */
  readonly connectorPropertiesTtlMs: number;

  // --- the simulator daemon (`hitch sim serve`) ------------------------------------------------
  /**
   * Unix socket of a running simulator daemon: the data plane is its world (arrays, hosts'
   * kernels, hypervisors), which outlives this process. null: the simulation runs in-process.
   */
  readonly simSocket: string | null;
}

export const DEFAULTS: Omit<HitchConfig, 'publicUrl' | 'databaseUrl'> = Object.freeze({
  bind: '127.0.0.1',
  port: 8080,
  dataDir: resolve('.data'),
  databasePoolSize: 10,
  projectRateLimit: 0,
  projectRateBurst: 0,
  userRateLimit: 0,
  userRateBurst: 0,
  databasePoolWaitMs: 5000,
  scenario: 'healthy-multipath',
  seed: 1,
  backend: 'sim',
  virt: 'sim',
  attachMode: 'kernel',
  cinderFlow: 'attachments',
  blockStorageUrl: null,
  blockStorageUser: 'admin',
  blockStorageProject: 'admin',
  blockStoragePassword: null,
  adminPassword: null,
  secretKey: null,
  detachTimeoutMs: 30_000,
  drainTimeoutMs: 30_000,
  hostDownAfterMs: HOST_DOWN_AFTER_MS,
  maxVolumeSizeGiB: MAX_VOLUME_SIZE_GIB,
  logLevel: 'info',
  logFormat: 'auto',
  operationRetentionDays: 30,
  tgtPortals: Object.freeze(['127.0.0.1:3260']),
  tgtControlPort: 0,
  tgtStart: true,
  nvmetPortals: Object.freeze(['127.0.0.1:4420']),
  libvirtUri: 'qemu:///system',
  virtType: 'qemu',
  guestKernel: null,
  guestInitrd: null,
  guestCmdline: 'console=ttyS0 quiet panic=-1',
  iscsiNodesDir: null,
  connectorPropertiesTtlMs: CONNECTOR_PROPERTIES_TTL_MS,
  simSocket: null,
});

type Raw = Partial<Record<keyof HitchConfig, unknown>> & { config?: unknown };

const ENV: Record<keyof HitchConfig, string> = {
  bind: 'HITCH_BIND',
  port: 'HITCH_PORT',
  publicUrl: 'HITCH_PUBLIC_URL',
  dataDir: 'HITCH_DATA_DIR',
  databaseUrl: 'HITCH_DATABASE_URL',
  databasePoolSize: 'HITCH_DATABASE_POOL_SIZE',
  projectRateLimit: 'HITCH_PROJECT_RATE_LIMIT',
  projectRateBurst: 'HITCH_PROJECT_RATE_BURST',
  userRateLimit: 'HITCH_USER_RATE_LIMIT',
  userRateBurst: 'HITCH_USER_RATE_BURST',
  databasePoolWaitMs: 'HITCH_DATABASE_POOL_WAIT_MS',
  scenario: 'HITCH_SCENARIO',
  seed: 'HITCH_SEED',
  backend: 'HITCH_BACKEND',
  virt: 'HITCH_VIRT',
  attachMode: 'HITCH_ATTACH_MODE',
  cinderFlow: 'HITCH_CINDER_FLOW',
  blockStorageUrl: 'HITCH_BLOCK_STORAGE_URL',
  blockStorageUser: 'HITCH_BLOCK_STORAGE_USER',
  blockStorageProject: 'HITCH_BLOCK_STORAGE_PROJECT',
  blockStoragePassword: 'HITCH_BLOCK_STORAGE_PASSWORD',
  adminPassword: 'HITCH_ADMIN_PASSWORD',
  secretKey: 'HITCH_SECRET_KEY',
  detachTimeoutMs: 'HITCH_DETACH_TIMEOUT_MS',
  drainTimeoutMs: 'HITCH_DRAIN_TIMEOUT_MS',
  hostDownAfterMs: 'HITCH_HOST_DOWN_AFTER_MS',
  maxVolumeSizeGiB: 'HITCH_MAX_VOLUME_SIZE_GIB',
  logLevel: 'HITCH_LOG_LEVEL',
  logFormat: 'HITCH_LOG_FORMAT',
  operationRetentionDays: 'HITCH_OPERATION_RETENTION_DAYS',
  tgtPortals: 'HITCH_TGT_PORTALS',
  tgtControlPort: 'HITCH_TGT_CONTROL_PORT',
  tgtStart: 'HITCH_TGT_START',
  nvmetPortals: 'HITCH_NVMET_PORTALS',
  libvirtUri: 'HITCH_LIBVIRT_URI',
  virtType: 'HITCH_VIRT_TYPE',
  guestKernel: 'HITCH_GUEST_KERNEL',
  guestInitrd: 'HITCH_GUEST_INITRD',
  guestCmdline: 'HITCH_GUEST_CMDLINE',
  iscsiNodesDir: 'HITCH_ISCSI_NODES_DIR',
  connectorPropertiesTtlMs: 'HITCH_CONNECTOR_PROPERTIES_TTL_MS',
  simSocket: 'HITCH_SIM_SOCKET',
};

const bad = (key: string, reason: string): HitchError =>
  new HitchError('HITCH_INVALID_ARGUMENT', { reason: `config ${key}: ${reason}` });

function oneOf<T extends string>(key: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !allowed.includes(v as T)) throw bad(key, `must be one of ${allowed.join(', ')} (got ${JSON.stringify(v)})`);
  return v as T;
}

function int(key: string, v: unknown, min: number, max: number): number {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) throw bad(key, `must be an integer from ${min} to ${max}`);
  return n;
}

function str(key: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0 || v.includes('\0')) throw bad(key, 'must be a non-empty string');
  return v;
}

function bool(key: string, v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|1|yes|on)$/i.test(v)) return true;
  if (typeof v === 'string' && /^(false|0|no|off)$/i.test(v)) return false;
  throw bad(key, 'must be true or false');
}

/** `ip:port` list: an array (file) or a comma-separated string (flag, environment). */
function portals(key: string, v: unknown): readonly string[] {
  const list = typeof v === 'string' ? v.split(',').map((p) => p.trim()).filter((p) => p !== '') : v;
  if (!Array.isArray(list) || list.length === 0) throw bad(key, 'must be a non-empty list of ip:port');
  const out = list.map((p: unknown) => {
    if (typeof p !== 'string' || !/^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):\d{1,5}$/.test(p) || Number(p.slice(p.lastIndexOf(':') + 1)) > 65535) {
      throw bad(key, `${JSON.stringify(p)} is not ip:port`);
    }
    return p;
  });
  if (new Set(out).size !== out.length) throw bad(key, 'lists a portal twice');
  return Object.freeze(out);
}

function absPathOrNull(key: string, v: unknown): string | null {
  if (v === undefined || v === null || v === '') return null;
  const p = str(key, v);
  if (!p.startsWith('/')) throw bad(key, 'must be an absolute path');
  return p;
}

/** An http(s) Keystone v3 URL (`…/v3`), or null when unset. */
function keystoneUrlOrNull(key: string, v: unknown): string | null {
  if (v === undefined || v === null || v === '') return null;
  const u = str(key, v).replace(/\/+$/, '');
  let parsed: URL;
  try {
    parsed = new URL(u);
  } catch {
    throw bad(key, `${JSON.stringify(u)} is not a URL`);
  }
  if ((parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || !parsed.pathname.endsWith('/v3') || parsed.search !== '' || parsed.username !== '' || parsed.password !== '') {
    throw bad(key, `must be the identity (Keystone v3) URL of the cloud whose block storage compute uses, ending in /v3 (a Hitch: http://HOST:PORT/identity/v3), not ${JSON.stringify(parsed.origin + parsed.pathname)}`);
  }
  return u;
}

/** Resolve the configuration from flags, environment and file. */
export function resolveConfig(flags: Raw, env: NodeJS.ProcessEnv = process.env): HitchConfig {
  let file: Raw = {};
  const configPath = flags.config ?? env['HITCH_CONFIG'];
  if (configPath !== undefined) {
    const p = str('config', configPath);
    try {
      file = (YAML.parse(readFileSync(p, 'utf8')) ?? {}) as Raw;
    } catch (e) {
      throw bad('config', `cannot read ${p}: ${(e as Error).message}`);
    }
    if (typeof file !== 'object' || Array.isArray(file)) throw bad('config', `${p} must hold a mapping`);
    for (const k of Object.keys(file)) if (!(k in ENV)) throw bad('config', `unknown key ${k} in ${p}`);
  }
  const pick = (k: keyof HitchConfig): unknown => flags[k] ?? env[ENV[k]] ?? file[k];
  const get = <K extends keyof typeof DEFAULTS>(k: K): unknown => pick(k) ?? DEFAULTS[k];
  const bind = str('bind', get('bind'));
  const port = int('port', get('port'), 0, 65535);
  const dataDir = resolve(str('dataDir', get('dataDir')));
  const databaseUrl = str('databaseUrl', pick('databaseUrl') ?? `sqlite:${dataDir}/hitch.db`);
  if (!/^(sqlite:|postgres(ql)?:\/\/)/.test(databaseUrl)) throw bad('databaseUrl', 'must start with sqlite: or postgres://');
  const adminPassword = pick('adminPassword');
  const secretKey = pick('secretKey');
  // Checked now, so a bad key fails before anything is written.
  if (secretKey !== undefined && secretKey !== null) parseSecretKey(str('secretKey', secretKey));
  const blockStorageUrl = keystoneUrlOrNull('blockStorageUrl', pick('blockStorageUrl'));
  const blockStoragePassword = pick('blockStoragePassword');
  if (blockStorageUrl !== null && (blockStoragePassword === undefined || blockStoragePassword === null)) {
    throw bad('blockStoragePassword', `needed with blockStorageUrl: the password of blockStorageUser at ${blockStorageUrl} (HITCH_BLOCK_STORAGE_PASSWORD or the config file; never a flag)`);
  }
  const cfg: HitchConfig = {
    bind,
    port,
    publicUrl: str('publicUrl', pick('publicUrl') ?? `http://${bind.includes(':') ? `[${bind}]` : bind}:${port}`).replace(/\/+$/, ''),
    dataDir,
    databaseUrl,
    projectRateLimit: int('projectRateLimit', get('projectRateLimit'), 0, 1_000_000),
    // A burst of 0 (the default) is twice the rate: a client's short spike is not refused.
    projectRateBurst: int('projectRateBurst', get('projectRateBurst'), 0, 1_000_000) || 2 * int('projectRateLimit', get('projectRateLimit'), 0, 1_000_000),
    userRateLimit: int('userRateLimit', get('userRateLimit'), 0, 1_000_000),
    userRateBurst: int('userRateBurst', get('userRateBurst'), 0, 1_000_000) || 2 * int('userRateLimit', get('userRateLimit'), 0, 1_000_000),
    databasePoolSize: int('databasePoolSize', get('databasePoolSize'), 1, 1000),
    databasePoolWaitMs: int('databasePoolWaitMs', get('databasePoolWaitMs'), 10, 600_000),
    scenario: str('scenario', get('scenario')),
    seed: int('seed', get('seed'), 0, 2 ** 31 - 1),
    backend: oneOf('backend', get('backend'), ['sim', 'tgt', 'nvmet'] as const),
    virt: oneOf('virt', get('virt'), ['sim', 'libvirt'] as const),
    attachMode: oneOf('attachMode', get('attachMode'), ['kernel', 'qemu-native'] as const),
    cinderFlow: oneOf('cinderFlow', get('cinderFlow'), ['attachments', 'legacy'] as const),
    blockStorageUrl,
    blockStorageUser: str('blockStorageUser', get('blockStorageUser')),
    blockStorageProject: str('blockStorageProject', get('blockStorageProject')),
    blockStoragePassword: blockStoragePassword === undefined || blockStoragePassword === null ? null : str('blockStoragePassword', blockStoragePassword),
    adminPassword: adminPassword === undefined || adminPassword === null ? null : str('adminPassword', adminPassword),
    secretKey: secretKey === undefined || secretKey === null ? null : str('secretKey', secretKey),
    detachTimeoutMs: int('detachTimeoutMs', get('detachTimeoutMs'), 100, 3_600_000),
    drainTimeoutMs: int('drainTimeoutMs', get('drainTimeoutMs'), 0, 3_600_000),
    hostDownAfterMs: int('hostDownAfterMs', get('hostDownAfterMs'), 1_000, 3_600_000),
    maxVolumeSizeGiB: int('maxVolumeSizeGiB', get('maxVolumeSizeGiB'), 1, 2_147_483_647),
    logLevel: oneOf('logLevel', get('logLevel'), ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const),
    logFormat: oneOf('logFormat', get('logFormat'), ['json', 'pretty', 'auto'] as const),
    operationRetentionDays: int('operationRetentionDays', get('operationRetentionDays'), 1, 36_500),
    tgtPortals: portals('tgtPortals', get('tgtPortals')),
    tgtControlPort: int('tgtControlPort', get('tgtControlPort'), 0, 32767),
    tgtStart: bool('tgtStart', get('tgtStart')),
    nvmetPortals: portals('nvmetPortals', get('nvmetPortals')),
    libvirtUri: str('libvirtUri', get('libvirtUri')),
    virtType: oneOf('virtType', get('virtType'), ['qemu', 'kvm'] as const),
    guestKernel: absPathOrNull('guestKernel', get('guestKernel')),
    guestInitrd: absPathOrNull('guestInitrd', get('guestInitrd')),
    guestCmdline: str('guestCmdline', get('guestCmdline')),
    iscsiNodesDir: absPathOrNull('iscsiNodesDir', get('iscsiNodesDir')),
    connectorPropertiesTtlMs: int('connectorPropertiesTtlMs', get('connectorPropertiesTtlMs'), 0, 86_400_000),
    simSocket: absPathOrNull('simSocket', get('simSocket')),
  };
  return Object.freeze(cfg);
}

/** The configuration with secrets masked (passwords, credentials in the database URL). */
export function printableConfig(cfg: HitchConfig): Record<string, unknown> {
  return {
    ...cfg,
    adminPassword: cfg.adminPassword === null ? null : MASK,
    blockStoragePassword: cfg.blockStoragePassword === null ? null : MASK,
    secretKey: cfg.secretKey === null ? null : MASK,
    databaseUrl: cfg.databaseUrl.replace(/(\/\/[^:/@]+:)[^@]*@/, `$1${MASK}@`),
  };
}
