/**
 * `LinuxHost`: the Host port on a real Linux machine — the exec policy (`policy-host.ts`) over
 * `LinuxTransport`.
 *
 * The transport runs commands through `child_process.spawn` with an argument array (never a
 * shell), killing one with SIGKILL when its timeout passes, and reads and writes files with real
 * `fs`. Waits for a path use `fs.watch` on the nearest existing ancestor directory, re-checking
 * on every event — udev creating `/dev/disk/by-path/…` is an event, not something to poll for.
 * A TCP probe is `net.connect`, destroyed the moment it connects or fails.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { hostname as osHostname } from 'node:os';
import { dirname, posix } from 'node:path';
import { HitchError } from '../errors.ts';
import type { Clock, HostCapabilities, HostTransport, TcpProbeOptions, TcpProbeOutcome, TcpProbeResult, TransportExecOptions, TransportExecResult, WaitForPathOptions } from '../ports/host.ts';
import { globComponentToRegExp } from './guard.ts';
import { PolicyHost, type HostPolicyOptions } from './policy-host.ts';
import { realClock } from './real-clock.ts';

export interface LinuxHostOptions extends HostPolicyOptions {
  readonly name?: string;
  /** Cap on captured stdout/stderr, so a runaway tool cannot exhaust memory. */
  readonly maxOutputBytes?: number;
}

/** This machine, with no policy: `LinuxHost` is the Host to use. */
export class LinuxTransport implements HostTransport {
  readonly name: string;
  readonly clock: Clock = realClock;
  readonly capabilities: HostCapabilities = { atomicWrite: true, tcpProbe: true };
  readonly #maxOutput: number;

  constructor(opts: { readonly name?: string; readonly maxOutputBytes?: number } = {}) {
    this.name = opts.name ?? osHostname();
    this.#maxOutput = opts.maxOutputBytes ?? 8 * 1024 * 1024;
  }

  async run(cmd: string, args: readonly string[], opts: TransportExecOptions): Promise<TransportExecResult> {
    const startMs = this.clock.now();
    const r = await this.#spawn(cmd, args, opts.input, opts.timeoutMs, opts.signal);
    return { ...r, startMs, endMs: this.clock.now() };
  }

  #spawn(
    cmd: string,
    args: readonly string[],
    input: string | undefined,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<{ code: number; stdout: string; stderr: string; timedOut: boolean }> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(new HitchError('HITCH_ABORTED', { reason: `${cmd} not started` }));
      const child = spawn(cmd, [...args], { shell: false, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let size = 0;
      let timedOut = false;
      const collect = (into: Buffer[]) => (b: Buffer) => {
        size += b.length;
        if (size <= this.#maxOutput) into.push(b);
      };
      child.stdout.on('data', collect(out));
      child.stderr.on('data', collect(err));
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      const onAbort = (): void => {
        child.kill('SIGKILL');
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      child.on('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        // ENOENT: the binary is allowed but not installed; report it like a shell would (127).
        if (e.code === 'ENOENT') resolve({ code: 127, stdout: '', stderr: `${cmd}: command not found\n`, timedOut: false });
        else reject(new HitchError('HITCH_INTERNAL', { detail: `spawn ${cmd}: ${e.message}` }, { cause: e }));
      });
      child.on('close', (code, sig) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (signal?.aborted && !timedOut) {
          reject(new HitchError('HITCH_ABORTED', { reason: `${cmd} aborted` }));
          return;
        }
        resolve({
          code: code ?? (sig ? 128 + 9 : 1),
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
          timedOut,
        });
      });
      child.stdin.on('error', () => undefined); // the tool may exit before reading its input
      child.stdin.end(input ?? '');
    });
  }

  async readFile(p: string): Promise<string> {
    return this.#fs(p, () => fsp.readFile(p, 'utf8'));
  }

  /** In parallel. */
  async readFiles(paths: readonly string[]): Promise<Array<string | null>> {
    return Promise.all(
      paths.map(async (p) => {
        try {
          return await fsp.readFile(p, 'utf8');
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
          throw new HitchError('HITCH_INTERNAL', { detail: `${p}: ${(e as Error).message}` }, { cause: e });
        }
      }),
    );
  }

  async writeFile(p: string, data: string): Promise<void> {
    // sysfs attributes must be written in one write() without truncation games: 'w' does that.
    return this.#fs(p, () => fsp.writeFile(p, data, { flag: 'w' }));
  }

  async writeFileAtomic(p: string, data: string, mode: number): Promise<void> {
    const dir = posix.dirname(p);
    const tmp = posix.join(dir, `.${posix.basename(p)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    return this.#fs(p, async () => {
      await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
      // 'wx': never follow or reuse something already at the temporary name.
      const fh = await fsp.open(tmp, 'wx', mode);
      try {
        try {
          await fh.chmod(mode); // the umask may have taken bits away
          await fh.writeFile(data, 'utf8');
          await fh.sync();
        } finally {
          await fh.close();
        }
        await fsp.rename(tmp, p);
      } catch (e) {
        await fsp.rm(tmp, { force: true }).catch(() => undefined);
        throw e;
      }
    });
  }

  async exists(p: string): Promise<boolean> {
    try {
      await fsp.stat(p);
      return true;
    } catch {
      return false;
    }
  }

  async readlink(p: string): Promise<string> {
    return this.#fs(p, () => fsp.readlink(p));
  }

  async realpath(p: string): Promise<string> {
    return this.#fs(p, () => fsp.realpath(p));
  }

  async readdir(p: string): Promise<string[]> {
    return this.#fs(p, async () => (await fsp.readdir(p)).sort());
  }

  async glob(pattern: string): Promise<string[]> {
    const parts = pattern.split('/').filter((s) => s.length > 0);
    let current = ['/'];
    for (const part of parts) {
      const next: string[] = [];
      const wild = /[*?]/.test(part);
      for (const dir of current) {
        if (!wild) {
          const p = posix.join(dir, part);
          if (await existsRaw(p)) next.push(p);
          continue;
        }
        const re = globComponentToRegExp(part);
        let names: string[] = [];
        try {
          names = await fsp.readdir(dir);
        } catch {
          continue;
        }
        for (const n of names) if (re.test(n)) next.push(posix.join(dir, n));
      }
      current = next;
    }
    return current.sort();
  }

  async waitForPath(p: string, opts: WaitForPathOptions): Promise<boolean> {
    const want = !opts.gone;
    if ((await existsRaw(p)) === want) return true;
    return new Promise<boolean>((resolve, reject) => {
      let watcher: FSWatcher | undefined;
      let watchedDir: string | undefined;
      let recheck: NodeJS.Timeout | undefined;
      let backoffMs = 50;
      let done = false;
      const finish = (v: boolean | Error): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        clearTimeout(recheck);
        watcher?.close();
        opts.signal?.removeEventListener('abort', onAbort);
        if (v instanceof Error) reject(v);
        else resolve(v);
      };
      // Watch the nearest existing ancestor: when `/dev/disk/by-path` itself does not exist yet,
      // its creation shows up as an event on `/dev/disk`, and the watch then moves down.
      const arm = (dir: string): void => {
        watcher?.close();
        watchedDir = dir;
        try {
          watcher = watch(dir, { persistent: false }, () => void check());
          watcher.on('error', () => undefined);
        } catch {
          watcher = undefined;
        }
      };
      const check = async (): Promise<void> => {
        if (done) return;
        if ((await existsRaw(p)) === want) return finish(true);
        const dir = await nearestExisting(p);
        if (dir !== watchedDir) {
          arm(dir);
          await check(); // closes the race between the check and the watch being armed
        }
      };
      // sysfs does not deliver inotify events for most attribute and device changes, so under
      // /sys the watch is backed by a re-check with exponential backoff (50 ms doubling to
      // 250 ms: a holders link multipathd made is seen within a quarter second, one stat each).
      const backstop = (): void => {
        if (done || !p.startsWith('/sys/')) return;
        recheck = setTimeout(() => {
          void check().then(backstop);
        }, backoffMs);
        backoffMs = Math.min(backoffMs * 2, 250);
      };
      // One last look when the time is up: a link made since the last re-check counts (the
      // guest, 2026-12-06: a map's reload 40 ms after brick's last re-check of the holders
      // link was missed, and brick sent a needless `multipathd add path`).
      const timer = setTimeout(() => {
        void existsRaw(p).then(
          (e) => finish(e === want),
          () => finish(false),
        );
      }, opts.timeoutMs);
      const onAbort = (): void => finish(new HitchError('HITCH_ABORTED', { reason: `wait for ${p}` }));
      if (opts.signal?.aborted) return onAbort();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      void check().then(backstop);
    });
  }

  /**
   * A TCP handshake and nothing else: the socket is destroyed as soon as it connects (no byte
   * sent) or fails. The kernel's own SYN retries run inside `timeoutMs`; the error codes map
   * to the outcomes of `TcpProbeOutcome`, so what the peer answered is never an exception.
   */
  probeTcp(address: string, port: number, opts: TcpProbeOptions): Promise<TcpProbeResult> {
    const startMs = this.clock.now();
    return new Promise<TcpProbeResult>((resolve, reject) => {
      if (opts.signal?.aborted) return reject(new HitchError('HITCH_ABORTED', { reason: `TCP probe of ${address}:${port} not started` }));
      let done = false;
      const socket = netConnect({ host: address, port });
      const finish = (v: TcpProbeOutcome | Error): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        socket.destroy();
        if (v instanceof Error) reject(v);
        else resolve({ outcome: v, elapsedMs: this.clock.now() - startMs });
      };
      const timer = setTimeout(() => finish('timeout'), opts.timeoutMs);
      const onAbort = (): void => finish(new HitchError('HITCH_ABORTED', { reason: `TCP probe of ${address}:${port}` }));
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      socket.once('connect', () => finish('open'));
      socket.once('error', (e: NodeJS.ErrnoException) => finish(probeErrorOutcome(e.code)));
    });
  }

  async #fs<T>(path: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new HitchError('HITCH_PATH_NOT_FOUND', { path });
      throw new HitchError('HITCH_INTERNAL', { detail: `${path}: ${(e as Error).message}` }, { cause: e });
    }
  }
}

/** A Host on this Linux machine: the exec policy over `LinuxTransport`. */
export class LinuxHost extends PolicyHost {
  constructor(opts: LinuxHostOptions = {}) {
    super(new LinuxTransport(opts), opts);
  }
}

/** What a failed connect's errno says about the peer. */
export function probeErrorOutcome(code: string | undefined): TcpProbeOutcome {
  switch (code) {
    case 'ECONNREFUSED':
    case 'ECONNRESET':
      return 'refused';
    case 'ETIMEDOUT':
      return 'timeout';
    default:
      // EHOSTUNREACH, ENETUNREACH, EADDRNOTAVAIL, ENOTFOUND (a name that does not resolve), …
      return 'unreachable';
  }
}

/** Exists, following links: a udev link whose device is gone counts as gone. */
async function existsRaw(p: string): Promise<boolean> {
  try {
    await fsp.stat(p);
    return true;
  } catch {
    return false;
  }
}

async function nearestExisting(p: string): Promise<string> {
  let dir = dirname(p);
  while (dir !== '/' && !(await existsRaw(dir))) dir = dirname(dir);
  return dir;
}
