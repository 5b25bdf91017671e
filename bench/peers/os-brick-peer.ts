/**
 * The TypeScript side of the os-brick harness: starts `bench/peers/os_brick_harness.py` under
 * Debian's /usr/bin/python3 and answers every call it makes — commands, file calls under /sys,
 * /dev and /etc/iscsi, sleeps — from one compute host of a simulation, on its virtual clock.
 *
 * Virtual time may move only while os-brick is idle: from the moment a reply is written until
 * the harness reports `idle` having seen every reply, the clock is held. So os-brick's own
 * Python work costs zero virtual time — like Hitch's, whose JavaScript runs between timers —
 * and both are measured against the same simulated network and kernel.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { isHitchError } from '../../src/errors.ts';
import type { SimHost } from '../../src/sim/sim-host.ts';
import type { ClockHold } from '../../src/sim/clock.ts';
import type { Node } from '../../src/sim/vfs.ts';

export const DEFAULT_PYTHON = '/usr/bin/python3';
export const HARNESS = fileURLToPath(new URL('./os_brick_harness.py', import.meta.url));

/** The `data` of an iSCSI `connection_info`, as os-brick takes it. */
export type IscsiProperties = Readonly<Record<string, unknown>>;

export interface OsBrickJob {
  /** Nova's `volume_use_multipath` (os-brick uses it when multipathd answers). */
  readonly multipath: boolean;
  /** One connect per entry; several run at once in threads (Nova's concurrent attach requests). */
  readonly volumes: readonly IscsiProperties[];
  readonly disconnect?: boolean;
  /** Call `get_volume_paths` before each disconnect (as the fixture recordings did). */
  readonly volumePaths?: boolean;
  readonly connectorProperties?: boolean;
  readonly ip?: string;
  readonly host?: string;
  readonly deviceScanAttempts?: number;
  readonly verbose?: boolean;
}

export interface OsBrickOutcome {
  readonly ok: boolean;
  readonly device?: Readonly<Record<string, string>>;
  readonly error?: string;
  readonly startMs: number;
  readonly endMs: number;
}

/** One harness record, in the fixture's shape: `["execute", "iscsiadm -m session", {opts}]`. */
export type OsBrickTraceEntry = readonly [string, string, Readonly<Record<string, unknown>>];

export interface OsBrickResult {
  readonly connectorProperties?: Readonly<Record<string, unknown>>;
  readonly connects: readonly OsBrickOutcome[];
  readonly disconnects?: readonly OsBrickOutcome[];
  readonly lockWaits: readonly { readonly lock: string; readonly waitedMs: number }[];
  readonly trace: readonly OsBrickTraceEntry[];
  /** Calls answered (commands, file calls, sleeps) and the wall time the run took. */
  readonly calls: number;
  readonly wallMs: number;
}

export interface RunOsBrickOptions {
  readonly python?: string;
  /** Wall-clock bound on the whole run (the harness is killed after it). */
  readonly wallTimeoutMs?: number;
}

/** Whether `python` can import os-brick (Debian's python3-os-brick). */
export function osBrickAvailable(python = DEFAULT_PYTHON): { ok: boolean; version?: string; reason?: string } {
  const r = spawnSync(python, ['-c', 'import importlib.metadata as m, os_brick.initiator.connectors.iscsi; print(m.version("os-brick"))'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (r.error) return { ok: false, reason: `${python}: ${r.error.message}` };
  if (r.status !== 0) return { ok: false, reason: (r.stderr || '').trim().split('\n').pop() ?? `exit ${r.status}` };
  return { ok: true, version: r.stdout.trim() };
}

interface CallMsg {
  readonly t: 'call';
  readonly id: number;
  readonly op: string;
  readonly path?: string;
  readonly argv?: readonly string[];
  readonly input?: string | null;
  readonly timeoutMs?: number;
  readonly ms?: number;
  readonly data?: string;
}

type Msg = CallMsg | { readonly t: 'idle'; readonly seen: number } | { readonly t: 'done'; readonly result?: Omit<OsBrickResult, 'calls' | 'wallMs'>; readonly error?: string; readonly traceback?: string };

type Reply = Record<string, unknown>;

const DIR_MODE = 0o040755;
const FILE_MODE = 0o100644;

/** Answer one file call from the simulated host's VFS (instant: no virtual time). */
function fileCall(host: SimHost, op: string, path: string, data?: string): Reply {
  const vfs = host.model.vfs;
  const fail = (e: unknown): Reply => ({ error: (e as { errno?: string }).errno ?? 'EIO' });
  const kind = (n: Node | undefined): string | undefined => n?.kind;
  try {
    switch (op) {
      case 'exists':
        return { value: vfs.exists(path) };
      case 'isdir':
        return { value: kind(vfs.lookup(path)) === 'dir' };
      case 'isfile':
        return { value: kind(vfs.lookup(path)) === 'file' };
      case 'islink':
        return { value: kind(vfs.lstat(path)) === 'link' };
      case 'realpath':
        // Python's realpath never fails: an unresolvable path comes back as given.
        return { value: vfs.exists(path) ? vfs.realpath(path) : path };
      case 'readlink':
        return { value: vfs.readlink(path) };
      case 'listdir':
        return { value: vfs.readdir(path) };
      case 'glob':
        return { value: vfs.glob(path) };
      case 'read':
        return { value: vfs.read(path) };
      case 'stat': {
        const n = vfs.lookup(path);
        if (n === undefined) return { error: 'ENOENT' };
        return { value: { mode: n.kind === 'dir' ? DIR_MODE : FILE_MODE, size: n.kind === 'file' ? n.read().length : 4096 } };
      }
      case 'unlink':
        if (vfs.lstat(path) === undefined) return { error: 'ENOENT' };
        vfs.remove(path);
        return { value: null };
      default:
        return { error: `EINVAL unknown op ${op}${data === undefined ? '' : ''}` };
    }
  } catch (e) {
    return fail(e);
  }
}

/** Answer a call that takes virtual time: a command, a sleep, a sysfs write. */
async function timedCall(host: SimHost, m: CallMsg): Promise<Reply> {
  if (m.op === 'sleep') {
    await host.clock.sleep(m.ms ?? 0);
    return {};
  }
  if (m.op === 'write') {
    try {
      await host.writeFile(m.path ?? '', m.data ?? '');
      return { value: null };
    } catch (e) {
      return { error: isHitchError(e, 'HITCH_PATH_NOT_FOUND') ? 'ENOENT' : 'EIO' };
    }
  }
  const [cmd = '', ...args] = m.argv ?? [];
  try {
    const r = await host.exec(cmd, args, {
      okCodes: 'any',
      timeoutMs: m.timeoutMs ?? 600_000,
      ...(m.input !== undefined && m.input !== null ? { input: m.input } : {}),
    });
    return { code: r.code, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    if (isHitchError(e, 'HITCH_EXEC_TIMEOUT')) return { code: -15, stdout: '', stderr: `${cmd}: killed after ${m.timeoutMs} ms` };
    // Not on the host's allowlist, or refused input: what a missing binary looks like through sh.
    return { code: 127, stdout: '', stderr: `${cmd}: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/**
 * Run one os-brick job against `host` (a SimHost of a fresh simulation). Resolves with the
 * outcomes of every connect (virtual start/end), os-brick's command trace and lock waits.
 */
export function runOsBrick(host: SimHost, job: OsBrickJob, opts: RunOsBrickOptions = {}): Promise<OsBrickResult> {
  const python = opts.python ?? DEFAULT_PYTHON;
  const wallStart = performance.now();
  const child = spawn(python, [HARNESS, JSON.stringify(job)], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PYTHONHASHSEED: '0' } });
  const clock = host.clock;
  let hold: ClockHold | null = clock.hold(); // python is busy until it first says idle
  let sent = 0;
  let calls = 0;
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => {
    stderr = (stderr + d).slice(-20_000);
  });

  const write = (id: number, body: Reply): void => {
    sent++;
    child.stdin.write(JSON.stringify({ t: 'ret', id, now: clock.now(), ...body }) + '\n');
  };
  // Replies that wake a thread go out one at a time, each only once os-brick is idle again, so
  // the order in which its threads run never depends on pipe timing: runs are deterministic.
  const outbox: Array<{ id: number; body: Reply }> = [];
  let busy = true; // python runs its start-up until it first says idle
  const pump = (): void => {
    if (busy) return;
    const next = outbox.shift();
    if (next === undefined) {
      hold?.();
      hold = null;
      return;
    }
    busy = true;
    write(next.id, next.body);
  };
  const wake = (id: number, body: Reply): void => {
    // Keep virtual time still from now until python has run and is idle again.
    hold ??= clock.hold();
    outbox.push({ id, body });
    pump();
  };

  return new Promise<OsBrickResult>((resolve, reject) => {
    let finished = false;
    const finish = (err: Error | null, result?: OsBrickResult): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      hold?.();
      hold = null;
      child.kill('SIGKILL');
      if (err) reject(err);
      else if (result) resolve(result);
    };
    const timer = setTimeout(() => finish(new Error(`os-brick harness: no result after ${opts.wallTimeoutMs ?? 600_000} ms wall\n${stderr}`)), opts.wallTimeoutMs ?? 600_000);
    child.on('error', (e) => finish(e));
    child.on('exit', (code) => finish(new Error(`os-brick harness exited (${code}) without a result\n${stderr}`)));
    child.stdin.on('error', () => undefined);
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      let m: Msg;
      try {
        m = JSON.parse(line) as Msg;
      } catch {
        finish(new Error(`os-brick harness: not a protocol line: ${line.slice(0, 200)}`));
        return;
      }
      if (m.t === 'idle') {
        if (m.seen === sent) {
          busy = false;
          pump();
        }
        return;
      }
      if (m.t === 'done') {
        if (m.error || !m.result) finish(new Error(`os-brick harness failed: ${m.error ?? 'no result'}\n${m.traceback ?? ''}\n${stderr}`));
        else finish(null, { ...m.result, calls, wallMs: performance.now() - wallStart });
        return;
      }
      calls++;
      if (m.op === 'exec' || m.op === 'sleep' || m.op === 'write') {
        void timedCall(host, m).then((body) => wake(m.id, body));
      } else {
        write(m.id, fileCall(host, m.op, m.path ?? '')); // the caller kept the baton: answer at once
      }
    });
  });
}
