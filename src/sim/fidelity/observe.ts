/**
 * What the fidelity suite records of a host, through the Host port only — so the same code reads
 * a real Linux storage host (`LinuxHost` in the storage host guest) and the simulator
 * (`SimHost`): every command's exit code and text, the sysfs files Hitch reads, udev's links,
 * the node records, and the multipath maps. Nothing here knows which host it has.
 *
 * An observation is one state as seen by one call (`exec`, `read`, `list`, …) or a `snapshot`
 * of the whole storage stack. Its `ms` is on the host's clock (wall time on a real host, virtual
 * on the simulator): kept for calibration, never compared.
 */
import { isHitchError } from '../../errors.ts';
import type { ExecOptions, Host } from '../../ports/host.ts';

export interface Observation {
  /** Unique in its scene, stable across runs: `login/p1`, `map/after-add-path`. */
  readonly id: string;
  readonly op: 'exec' | 'read' | 'list' | 'exists' | 'write' | 'wait' | 'snapshot' | 'tree' | 'links';
  /** The command line or path, as given. */
  readonly what: string;
  readonly code?: number;
  readonly stdout?: string;
  readonly stderr?: string;
  /** A read's text, a listing, a wait's outcome, a snapshot. */
  readonly value?: unknown;
  /** A Host error instead of a value: its code (`HITCH_PATH_NOT_FOUND`, `HITCH_ABORTED`). */
  readonly error?: string;
  /** When the call began and how long it took, on the host's clock (ms since the scene began). */
  readonly atMs: number;
  readonly ms: number;
}

export interface SessionView {
  /** `sessionN` */
  readonly name: string;
  readonly path: string | null;
  readonly attrs: Readonly<Record<string, string | null>>;
  readonly connection: Readonly<Record<string, string | null>>;
  /** `targetH:C:T` entries of the session's device directory, and the LUN directories of each. */
  readonly targets: Readonly<Record<string, string[]>>;
}

export interface DiskView {
  readonly name: string;
  readonly path: string | null;
  readonly device: string | null;
  readonly attrs: Readonly<Record<string, string | null>>;
  readonly holders: string[];
}

export interface MapView {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string | null>>;
  readonly slaves: string[];
  readonly holders: string[];
}

/** The storage stack at one moment, as Hitch (and os-brick) can see it. */
export interface HostSnapshot {
  readonly sessions: SessionView[];
  readonly iscsiHosts: Readonly<Record<string, Readonly<Record<string, string | null>>>>;
  readonly disks: DiskView[];
  readonly maps: MapView[];
  /** `/dev/disk/by-path`, `/dev/disk/by-id`, `/dev/mapper` entries that lead to an iSCSI disk or a dm map → their target. */
  readonly links: Readonly<Record<string, string>>;
  readonly wwids: string | null;
  /** Every file under the node record directory, with its mode-less relative path. */
  readonly nodes: string[];
}

const SESSION_ATTRS = ['targetname', 'tpgt', 'state', 'recovery_tmo', 'username'] as const;
const CONNECTION_ATTRS = ['address', 'port', 'persistent_address', 'persistent_port'] as const;
const DISK_DEVICE_ATTRS = ['wwid', 'vendor', 'model', 'state'] as const;
const DISK_ATTRS = ['ro', 'size', 'removable'] as const;
const MAP_ATTRS = ['dm/name', 'dm/uuid', 'dm/suspended', 'ro', 'size'] as const;
export const NODES_DIR = '/etc/iscsi/nodes';

function byNumber(a: string, b: string): number {
  const na = Number(/\d+/.exec(a)?.[0] ?? 0);
  const nb = Number(/\d+/.exec(b)?.[0] ?? 0);
  return na - nb || a.localeCompare(b);
}

/** A Host call's failure as a short value: the Host error code, or the message. */
export function errorOf(e: unknown): string {
  return isHitchError(e) ? e.code : e instanceof Error ? e.message : String(e);
}

async function readOrNull(host: Host, path: string): Promise<string | null> {
  try {
    return (await host.readFile(path)).trim();
  } catch (e) {
    return isHitchError(e, 'HITCH_PATH_NOT_FOUND') ? null : `<${errorOf(e)}>`;
  }
}

async function listOrEmpty(host: Host, path: string): Promise<string[]> {
  try {
    return (await host.readdir(path)).sort(byNumber);
  } catch {
    return [];
  }
}

async function realpathOrNull(host: Host, path: string): Promise<string | null> {
  try {
    return await host.realpath(path);
  } catch {
    return null;
  }
}

async function attrs(host: Host, dir: string, names: readonly string[]): Promise<Record<string, string | null>> {
  const values = await Promise.all(names.map((n) => readOrNull(host, `${dir}/${n}`)));
  return Object.fromEntries(names.map((n, i) => [n, values[i] ?? null]));
}

/** Every file under `dir`, relative to it, sorted (directories walked, links not followed). */
export async function walkTree(host: Host, dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of (await listOrEmpty(host, dir)).sort()) {
    const p = `${dir}/${e}`;
    const children = await host.readdir(p).then(
      (c) => c,
      () => null,
    );
    if (children === null) out.push(`${prefix}${e}`);
    else out.push(...(await walkTree(host, p, `${prefix}${e}/`)));
  }
  return out;
}

const isIscsiDisk = (name: string): boolean => /^sd[a-z]+$/.test(name);
const isMap = (name: string): boolean => /^dm-\d+$/.test(name);

/** The whole storage stack as Hitch reads it: sysfs, udev's links, node records, wwids. */
export async function snapshot(host: Host): Promise<HostSnapshot> {
  const sessions: SessionView[] = [];
  for (const s of await listOrEmpty(host, '/sys/class/iscsi_session')) {
    const sid = s.replace(/^session/, '');
    const base = `/sys/class/iscsi_session/${s}`;
    const targets: Record<string, string[]> = {};
    for (const t of (await listOrEmpty(host, `${base}/device`)).filter((e) => /^target\d+:\d+:\d+$/.test(e))) {
      targets[t] = (await listOrEmpty(host, `${base}/device/${t}`)).filter((e) => /^\d+:\d+:\d+:\d+$/.test(e));
    }
    sessions.push({
      name: s,
      path: await realpathOrNull(host, base),
      attrs: await attrs(host, base, SESSION_ATTRS),
      connection: await attrs(host, `/sys/class/iscsi_connection/connection${sid}:0`, CONNECTION_ATTRS),
      targets,
    });
  }
  const iscsiHosts: Record<string, Record<string, string | null>> = {};
  for (const h of await listOrEmpty(host, '/sys/class/iscsi_host')) {
    iscsiHosts[h] = {
      ...(await attrs(host, `/sys/class/iscsi_host/${h}`, ['initiatorname', 'ipaddress'])),
      path: await realpathOrNull(host, `/sys/class/iscsi_host/${h}`),
      proc_name: await readOrNull(host, `/sys/class/scsi_host/${h}/proc_name`),
    };
  }
  const block = await listOrEmpty(host, '/sys/block');
  const disks: DiskView[] = [];
  for (const d of block.filter(isIscsiDisk)) {
    disks.push({
      name: d,
      path: await realpathOrNull(host, `/sys/block/${d}`),
      device: await realpathOrNull(host, `/sys/block/${d}/device`),
      attrs: { ...(await attrs(host, `/sys/block/${d}/device`, DISK_DEVICE_ATTRS)), ...(await attrs(host, `/sys/block/${d}`, DISK_ATTRS)) },
      holders: await listOrEmpty(host, `/sys/block/${d}/holders`),
    });
  }
  const maps: MapView[] = [];
  for (const m of block.filter(isMap)) {
    maps.push({
      name: m,
      attrs: await attrs(host, `/sys/block/${m}`, MAP_ATTRS),
      slaves: await listOrEmpty(host, `/sys/block/${m}/slaves`),
      holders: await listOrEmpty(host, `/sys/block/${m}/holders`),
    });
  }
  const links: Record<string, string> = {};
  for (const dir of ['/dev/disk/by-path', '/dev/disk/by-id', '/dev/mapper']) {
    for (const e of (await listOrEmpty(host, dir)).sort()) {
      const to = await realpathOrNull(host, `${dir}/${e}`);
      const name = to?.split('/').pop() ?? '';
      if (to !== null && (isIscsiDisk(name) || isMap(name))) links[`${dir}/${e}`] = to;
    }
  }
  return {
    sessions,
    iscsiHosts,
    disks,
    maps,
    links,
    wwids: await readOrNull(host, '/etc/multipath/wwids'),
    nodes: await walkTree(host, NODES_DIR),
  };
}

/**
 * Records observations of one scene on one host. Every call is caught: a failure is the
 * observation's `error`, never an exception, so a scene goes on to its next state whatever a
 * host answers (the comparison then shows where the two hosts parted).
 */
export class Recorder {
  readonly host: Host;
  readonly observations: Observation[] = [];
  readonly #t0: number;
  readonly #ids = new Set<string>();

  constructor(host: Host) {
    this.host = host;
    this.#t0 = host.clock.now();
  }

  #push(o: Omit<Observation, 'atMs' | 'ms'>, start: number): Observation {
    if (this.#ids.has(o.id)) throw new Error(`fidelity: observation id ${o.id} used twice`);
    this.#ids.add(o.id);
    const now = this.host.clock.now();
    const full: Observation = { ...o, atMs: start - this.#t0, ms: now - start };
    this.observations.push(full);
    return full;
  }

  /** Run a command; every exit code is an answer. */
  async exec(id: string, cmd: string, args: readonly string[], opts: Omit<ExecOptions, 'okCodes'> = {}): Promise<Observation> {
    const start = this.host.clock.now();
    const what = [cmd, ...args].join(' ');
    try {
      const r = await this.host.exec(cmd, args, { timeoutMs: 180_000, ...opts, okCodes: 'any' });
      return this.#push({ id, op: 'exec', what, code: r.code, stdout: r.stdout, stderr: r.stderr }, start);
    } catch (e) {
      return this.#push({ id, op: 'exec', what, error: errorOf(e) }, start);
    }
  }

  async read(id: string, path: string): Promise<Observation> {
    const start = this.host.clock.now();
    try {
      return this.#push({ id, op: 'read', what: path, value: await this.host.readFile(path) }, start);
    } catch (e) {
      return this.#push({ id, op: 'read', what: path, error: errorOf(e) }, start);
    }
  }

  async list(id: string, path: string, filter: (e: string) => boolean = () => true): Promise<Observation> {
    const start = this.host.clock.now();
    try {
      return this.#push({ id, op: 'list', what: path, value: (await this.host.readdir(path)).filter(filter).sort(byNumber) }, start);
    } catch (e) {
      return this.#push({ id, op: 'list', what: path, error: errorOf(e) }, start);
    }
  }

  async exists(id: string, path: string): Promise<Observation> {
    const start = this.host.clock.now();
    return this.#push({ id, op: 'exists', what: path, value: await this.host.exists(path) }, start);
  }

  async write(id: string, path: string, data: string): Promise<Observation> {
    const start = this.host.clock.now();
    try {
      await this.host.writeFile(path, data);
      return this.#push({ id, op: 'write', what: `${path} <- ${data.trim()}`, value: 'ok' }, start);
    } catch (e) {
      return this.#push({ id, op: 'write', what: `${path} <- ${data.trim()}`, error: errorOf(e) }, start);
    }
  }

  /** Wait (by event) for a path to appear, or with `gone` to go; the outcome is the observation. */
  async wait(id: string, path: string, timeoutMs: number, gone = false): Promise<Observation> {
    const start = this.host.clock.now();
    try {
      const value = await this.host.waitForPath(path, { timeoutMs, gone });
      return this.#push({ id, op: 'wait', what: `${gone ? 'gone' : 'appears'} ${path}`, value }, start);
    } catch (e) {
      return this.#push({ id, op: 'wait', what: `${gone ? 'gone' : 'appears'} ${path}`, error: errorOf(e) }, start);
    }
  }

  /**
   * Look with `check` every 200 ms (on the host's clock) until it answers true or `timeoutMs`
   * passes: for a state nothing announces (a session iscsid completes on its own).
   */
  async until(id: string, what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<Observation> {
    const start = this.host.clock.now();
    let value = await check();
    while (!value && this.host.clock.now() - start < timeoutMs) {
      await this.host.clock.sleep(200);
      value = await check();
    }
    return this.#push({ id, op: 'wait', what, value }, start);
  }

  /** The entries of `dir` that `filter` keeps, each with where it leads (udev's links: `name → /dev/nvme0n1`). */
  async links(id: string, dir: string, filter: (e: string) => boolean = () => true): Promise<Observation> {
    const start = this.host.clock.now();
    const value: Record<string, string | null> = {};
    for (const e of (await listOrEmpty(this.host, dir)).filter(filter).sort()) value[e] = await realpathOrNull(this.host, `${dir}/${e}`);
    return this.#push({ id, op: 'links', what: dir, value }, start);
  }

  async tree(id: string, dir: string): Promise<Observation> {
    const start = this.host.clock.now();
    return this.#push({ id, op: 'tree', what: dir, value: await walkTree(this.host, dir) }, start);
  }

  async snapshot(id: string): Promise<HostSnapshot> {
    const start = this.host.clock.now();
    const value = await snapshot(this.host);
    this.#push({ id, op: 'snapshot', what: 'storage stack', value }, start);
    return value;
  }
}
