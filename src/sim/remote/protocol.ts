/**
 * The wire protocol between the simulator daemon (`hitch sim serve`, `server.ts`) and the
 * processes that use its world (`client.ts`): JSON lines over a unix socket.
 *
 *   client → daemon   {"id":7,"m":"host.exec","p":{"host":"compute1","cmd":"iscsiadm","args":["-m","session"],"opts":{"timeoutMs":30000,"secrets":[]}}}
 *   client → daemon   {"cancel":7}                        (the caller's AbortSignal fired)
 *   daemon → client   {"id":7,"now":1235,"ok":{"code":21,…}}   or   {"id":7,"now":1235,"err":{"code":"HITCH_PATH_NOT_FOUND","details":{…},"message":"…"}}
 *
 * Host calls are a transport's (`HostTransport`): the daemon runs them as asked, and the
 * client's exec policy has already checked them; an exit code or a timeout is an answer.
 *
 * Every answer carries the daemon's virtual time (`now`), which is how a client's synchronous
 * `Clock.now()` stays current. Requests on one connection are independent and may be answered
 * out of order (a `host.waitForPath` long-poll does not hold up an `host.exec`).
 */
import { ERROR_CATALOG, HitchError, type ErrorCode, type ErrorDetails } from '../../errors.ts';
import type { TcpProbeResult, TransportExecResult } from '../../ports/host.ts';
import type { DiskInfo, DomainSpec, DomainState, DetachResult, SecretRef } from '../../ports/hypervisor.ts';
import type { SimDomainView, SimFault } from '../sim-hypervisor-types.ts';
import type { AllowOptions } from '../array.ts';
import type { SimTargetInfo } from '../array-port.ts';
import type { FaultSpec } from '../faults.ts';
import type { HostSnapshot } from '../inspect.ts';

/** What `StorageArray.exports()` returns: targets, LUNs and ACLs as plain data. */
export type ArrayExports = ReturnType<import('../array.ts').StorageArray['exports']>;

export interface HelloAnswer {
  readonly scenario: string;
  readonly seed: number;
  readonly hosts: ReadonlyArray<{ readonly name: string; readonly initiator: string; readonly ip: string }>;
  readonly arrays: ReadonlyArray<{ readonly name: string; readonly portals: readonly string[] }>;
}

/** A target as the sim backend needs to see it: where it is served and who may see it. */
export interface TargetView {
  readonly iqn: string;
  readonly tpgt: number;
  readonly portals: readonly string[];
  readonly luns: ReadonlyArray<{ readonly lun: number; readonly wwn: string }>;
  readonly initiators: readonly string[];
}

/** A command as the client's exec policy passes it on (`TransportExecOptions` without the signal). */
export interface WireExecOptions {
  readonly timeoutMs: number;
  readonly input?: string;
  readonly secrets: readonly string[];
}

/** Everything a checker needs to see of the world at once (one consistent instant). */
export interface WorldSnapshot {
  readonly now: number;
  readonly hosts: ReadonlyArray<{ readonly name: string; readonly initiator: string; readonly snapshot: HostSnapshot; readonly leftovers: readonly string[] }>;
  readonly arrays: ReadonlyArray<{ readonly name: string; readonly exports: ArrayExports }>;
  readonly domains: ReadonlyArray<{ readonly host: string; readonly domains: readonly SimDomainView[] }>;
}

type HvArgs<M extends string, A extends unknown[]> = { readonly host: string; readonly method: M; readonly args: A };

/** Request parameters and answers, by method name. */
export interface Methods {
  hello: { p: Record<string, never>; r: HelloAnswer };
  'clock.now': { p: Record<string, never>; r: number };
  'clock.sleep': { p: { ms: number }; r: null };
  'host.exec': { p: { host: string; cmd: string; args: readonly string[]; opts: WireExecOptions }; r: TransportExecResult };
  'host.readFile': { p: { host: string; path: string }; r: string };
  'host.readFiles': { p: { host: string; paths: readonly string[] }; r: Array<string | null> };
  'host.writeFile': { p: { host: string; path: string; data: string }; r: null };
  'host.writeFileAtomic': { p: { host: string; path: string; data: string; mode: number }; r: null };
  'host.exists': { p: { host: string; path: string }; r: boolean };
  'host.readlink': { p: { host: string; path: string }; r: string };
  'host.realpath': { p: { host: string; path: string }; r: string };
  'host.readdir': { p: { host: string; path: string }; r: string[] };
  'host.glob': { p: { host: string; pattern: string }; r: string[] };
  'host.waitForPath': { p: { host: string; path: string; timeoutMs: number; gone?: boolean }; r: boolean };
  'host.probeTcp': { p: { host: string; address: string; port: number; timeoutMs: number }; r: TcpProbeResult };
  'hv.call': {
    p:
      | HvArgs<'defineAndStart', [DomainSpec] | [DomainSpec, { start: boolean }]>
      | HvArgs<'destroy' | 'undefine' | 'domainState' | 'listDisks' | 'undefineSecret', [string]>
      | HvArgs<'attachDisk', [string, string, { live: boolean; persistent: boolean }]>
      | HvArgs<'detachDisk', [string, string, { timeoutMs: number; persistent?: boolean }]>
      | HvArgs<'defineSecret', [string, string]>
      | HvArgs<'resizeDisk', [string, string, number]>;
    r: null | DomainState | DiskInfo[] | DetachResult | SecretRef | { target: string; source: string };
  };
  'hv.domains': { p: { host: string }; r: SimDomainView[] };
  'hv.injectFault': { p: { host: string; fault: SimFault }; r: null };
  'hv.setUnplugBehaviour': { p: { host: string; domain: string; ackMs: number | 'never' }; r: null };
  'array.list': { p: Record<string, never>; r: Array<{ name: string; portals: string[] }> };
  'array.createTarget': { p: { array: string; iqn: string; portals?: readonly string[]; tpgt?: number }; r: null };
  'array.deleteTarget': { p: { array: string; iqn: string }; r: null };
  'array.addLun': { p: { array: string; iqn: string; opts: { lun?: number; sizeBytes?: number; wwn?: string; readOnly?: boolean } }; r: { lun: number; wwn: string; sizeBytes: number; readOnly: boolean } };
  'array.removeLun': { p: { array: string; iqn: string; lun: number }; r: null };
  'array.resizeLun': { p: { array: string; iqn: string; lun: number; sizeBytes: number }; r: null };
  'array.allowInitiator': { p: { array: string; iqn: string; initiator: string; opts: AllowOptions }; r: null };
  'array.denyInitiator': { p: { array: string; iqn: string; initiator: string; luns?: readonly number[] }; r: null };
  'array.exports': { p: { array: string }; r: ArrayExports };
  'array.target': { p: { array: string; iqn: string }; r: TargetView | null };
  'sim.exportTo': { p: { array: string; iqn: string; initiator: string; opts: AllowOptions }; r: SimTargetInfo | null };
  'sim.injectFault': { p: { fault: FaultSpec }; r: null };
  'inspect.host': { p: { host: string }; r: HostSnapshot };
  'inspect.leftovers': { p: { host: string }; r: string[] };
  'inspect.array': { p: { array: string }; r: ArrayExports };
  'inspect.trace': { p: Record<string, never>; r: string };
  'inspect.world': { p: Record<string, never>; r: WorldSnapshot };
}

export type Method = keyof Methods;

export interface Request<M extends Method = Method> {
  readonly id: number;
  readonly m: M;
  readonly p: Methods[M]['p'];
}

export interface Cancel {
  readonly cancel: number;
}

export interface WireError {
  readonly code: string;
  readonly details: ErrorDetails;
  readonly message: string;
}

export interface Answer {
  readonly id: number;
  readonly now: number;
  readonly ok?: unknown;
  readonly err?: WireError;
}

export function errorToWire(e: unknown): WireError {
  if (e instanceof HitchError) return { code: e.code, details: e.details, message: e.message };
  return { code: 'HITCH_INTERNAL', details: { detail: e instanceof Error ? e.message : String(e) }, message: e instanceof Error ? e.message : String(e) };
}

/**
 * The same catalog error on this side of the socket (unknown codes become HITCH_INTERNAL).
 * "No such file" is a routine answer (brick reads what may be absent and takes the error as
 * "absent"): it is built without capturing a stack, which here would only show the socket's
 * reader anyway.
 */
export function errorFromWire(w: WireError): HitchError {
  if (w.code === 'HITCH_PATH_NOT_FOUND') {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return new HitchError('HITCH_PATH_NOT_FOUND', w.details, { message: w.message });
    } finally {
      Error.stackTraceLimit = limit;
    }
  }
  if (Object.hasOwn(ERROR_CATALOG, w.code)) return new HitchError(w.code as ErrorCode, w.details, { message: w.message });
  return new HitchError('HITCH_INTERNAL', { detail: `${w.code}: ${w.message}` });
}

/**
 * Methods whose requests and answers hold only strings, booleans and small integers (paths,
 * contents, names, a file mode; errors naming a path): JSON as is, no walk for non-finite
 * numbers. Most of the traffic is these.
 */
export const PLAIN_METHODS: ReadonlySet<Method> = new Set<Method>([
  'clock.now',
  'host.readFile',
  'host.readFiles',
  'host.writeFile',
  'host.writeFileAtomic',
  'host.exists',
  'host.readlink',
  'host.realpath',
  'host.readdir',
  'host.glob',
]);

/**
 * JSON for the wire, with the non-finite numbers the simulator uses for "never" and "forever"
 * (`times: Infinity`, `hangMs: Infinity`) kept as `{"$num":"Infinity"}` instead of JSON's null.
 */
export function encode(msg: unknown): string {
  return `${JSON.stringify(msg, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? { $num: String(v) } : v))}\n`;
}

/**
 * Whether request `m` with params `p`, and its answer, can go as plain JSON: the `PLAIN_METHODS`,
 * and a command or a wait whose timeout is finite (their answers hold virtual times, exit codes
 * and that timeout).
 */
export function isPlain(m: Method, p: unknown): boolean {
  if (PLAIN_METHODS.has(m)) return true;
  // What a client sent may be malformed: look, never throw.
  if (m === 'host.exec') return Number.isFinite((p as Partial<Methods['host.exec']['p']> | null)?.opts?.timeoutMs ?? 0);
  if (m === 'host.waitForPath') return Number.isFinite((p as Partial<Methods['host.waitForPath']['p']> | null)?.timeoutMs);
  if (m === 'host.probeTcp') return Number.isFinite((p as Partial<Methods['host.probeTcp']['p']> | null)?.timeoutMs);
  return false;
}

/** `encode` for a message known to hold no non-finite number (a `PLAIN_METHODS` request or answer). */
export function encodePlain(msg: unknown): string {
  return `${JSON.stringify(msg)}\n`;
}

/** Plain JSON unless the line holds a `$num` (only then is every value looked at). */
export function decode(line: string): unknown {
  if (!line.includes('"$num"')) return JSON.parse(line);
  return JSON.parse(line, (_k, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const keys = Object.keys(v);
      const n = (v as { $num?: unknown }).$num;
      if (keys.length === 1 && (n === 'Infinity' || n === '-Infinity' || n === 'NaN')) return Number(n);
    }
    return v;
  });
}

/**
 * Split a byte stream into lines and call `onLine` for each complete one. Returns the data
 * handler to attach to a socket.
 */
export function lineReader(onLine: (line: string) => void): (chunk: Buffer | string) => void {
  let buf = '';
  return (chunk) => {
    buf += String(chunk);
    let i = buf.indexOf('\n');
    while (i >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line.trim() !== '') onLine(line);
      i = buf.indexOf('\n');
    }
  };
}

/**
 * A socket's writer that sends the lines written in one pass of the event loop together: the
 * first write corks the socket and a `setImmediate` (the pass's check phase, after every timer
 * and I/O callback of the pass and the promise continuations they woke) uncorks it, so they
 * leave in one system call. The parallel portals of one connect ask at the same moments, and
 * the simulated kernel finishes their work in separate callbacks of the same pass (two logins
 * end on two timers): flushed per callback (`process.nextTick`) the two answers left in two
 * writes, the client woke twice and the portals fell a round trip out of step for the rest of
 * the connect. Order is kept.
 */
export function turnWriter(socket: { cork(): void; uncork(): void; write(s: string): unknown; destroyed: boolean }): (line: string) => void {
  let corked = false;
  const flush = (): void => {
    corked = false;
    if (!socket.destroyed) socket.uncork();
  };
  return (line) => {
    if (!corked) {
      corked = true;
      socket.cork();
      setImmediate(flush);
    }
    socket.write(line);
  };
}
