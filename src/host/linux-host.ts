/**
 * `LinuxHost`: the Host port on a real Linux machine.
 *
 * Commands run through `child_process.spawn` with an argument array (never a shell), only from
 * an allowlist, each with a timeout (SIGKILL when it passes). Files are read and written with
 * real `fs`, only under the allowed roots. Waits for a path use `fs.watch` on the nearest
 * existing ancestor directory, re-checking on every event — udev creating
 * `/dev/disk/by-path/…` is an event, not something to poll for.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { dirname, posix } from 'node:path';
import { HitchError } from '../errors.ts';
import { checkExec, checkGlob, checkPath, checkReplaceablePath, globComponentToRegExp } from './guard.ts';
import type { Clock, ExecOptions, ExecRecord, ExecResult, Host, HostListener, WaitForPathOptions, WriteFileAtomicOptions } from '../ports/host.ts';
import { DEFAULT_ALLOWED_BINARIES, DEFAULT_ALLOWED_ROOTS } from './allowlist.ts';
import { maskArgs, maskText, renderCommand } from './mask.ts';

export interface LinuxHostOptions {
  readonly name?: string;
  readonly allowedBinaries?: readonly string[];
  /** Roots file operations may touch; add the data directory here. */
  readonly allowedRoots?: readonly string[];
  /** Timeout for calls that do not give one. */
  readonly defaultTimeoutMs?: number;
  /** Cap on captured stdout/stderr, so a runaway tool cannot exhaust memory. */
  readonly maxOutputBytes?: number;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(new HitchError('HITCH_ABORTED', { reason: 'sleep aborted' }));
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, Math.max(0, ms));
      const onAbort = (): void => {
        clearTimeout(t);
        reject(new HitchError('HITCH_ABORTED', { reason: 'sleep aborted' }));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

export class LinuxHost implements Host {
  readonly name: string;
  readonly clock: Clock = realClock;
  readonly #binaries: readonly string[];
  readonly #roots: readonly string[];
  readonly #defaultTimeoutMs: number;
  readonly #maxOutput: number;
  readonly #listeners = new Set<HostListener>();

  constructor(opts: LinuxHostOptions = {}) {
    this.name = opts.name ?? osHostname();
    this.#binaries = Object.freeze([...(opts.allowedBinaries ?? DEFAULT_ALLOWED_BINARIES)]);
    this.#roots = Object.freeze([...(opts.allowedRoots ?? DEFAULT_ALLOWED_ROOTS)]);
    this.#defaultTimeoutMs = opts.defaultTimeoutMs ?? 30_000;
    this.#maxOutput = opts.maxOutputBytes ?? 8 * 1024 * 1024;
  }

  onExec(listener: HostListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async exec(cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    checkExec(cmd, args, this.#binaries);
    const secrets = opts.secrets ?? [];
    const timeoutMs = opts.timeoutMs ?? this.#defaultTimeoutMs;
    const started = this.clock.now();
    const { code, stdout, stderr, timedOut } = await this.#spawn(cmd, args, opts.input, timeoutMs, opts.signal);
    const record: ExecRecord = {
      cmd,
      args: maskArgs(args, secrets),
      code,
      stdout: maskText(stdout, secrets),
      stderr: maskText(stderr, secrets),
      startMs: started,
      endMs: this.clock.now(),
    };
    for (const l of this.#listeners) l(record);
    const command = renderCommand(cmd, args, secrets);
    if (timedOut) throw new HitchError('HITCH_EXEC_TIMEOUT', { timeoutMs, command });
    const ok = opts.okCodes ?? [0];
    if (ok !== 'any' && !ok.includes(code)) {
      throw new HitchError('HITCH_EXEC_FAILED', {
        command,
        exitCode: code,
        stdout: record.stdout.trim(),
        stderr: record.stderr.trim(),
      });
    }
    return { code, stdout, stderr };
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

  async readFile(path: string): Promise<string> {
    const p = checkPath(path, this.#roots);
    return this.#fs(p, () => fsp.readFile(p, 'utf8'));
  }

  /** Every path checked first (one outside the roots reads nothing), then read in parallel. */
  async readFiles(paths: readonly string[]): Promise<Array<string | null>> {
    const ps = paths.map((path) => checkPath(path, this.#roots));
    return Promise.all(
      ps.map(async (p) => {
        try {
          return await fsp.readFile(p, 'utf8');
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
          throw new HitchError('HITCH_INTERNAL', { detail: `${p}: ${(e as Error).message}` }, { cause: e });
        }
      }),
    );
  }

  async writeFile(path: string, data: string): Promise<void> {
    const p = checkPath(path, this.#roots);
    // sysfs attributes must be written in one write() without truncation games: 'w' does that.
    return this.#fs(p, () => fsp.writeFile(p, data, { flag: 'w' }));
  }

  async writeFileAtomic(path: string, data: string, opts: WriteFileAtomicOptions = {}): Promise<void> {
    const p = checkReplaceablePath(path, this.#roots);
    const dir = posix.dirname(p);
    const tmp = posix.join(dir, `.${posix.basename(p)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    const mode = opts.mode ?? 0o600;
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

  async exists(path: string): Promise<boolean> {
    const p = checkPath(path, this.#roots);
    try {
      await fsp.stat(p);
      return true;
    } catch {
      return false;
    }
  }

  async readlink(path: string): Promise<string> {
    const p = checkPath(path, this.#roots);
    return this.#fs(p, () => fsp.readlink(p));
  }

  async realpath(path: string): Promise<string> {
    const p = checkPath(path, this.#roots);
    return this.#fs(p, () => fsp.realpath(p));
  }

  async readdir(path: string): Promise<string[]> {
    const p = checkPath(path, this.#roots);
    return this.#fs(p, async () => (await fsp.readdir(p)).sort());
  }

  async glob(pattern: string): Promise<string[]> {
    checkGlob(pattern, this.#roots);
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

  async waitForPath(path: string, opts: WaitForPathOptions): Promise<boolean> {
    const p = checkPath(path, this.#roots);
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
      // /sys the watch is backed by a re-check with exponential backoff (50 ms doubling to 1 s).
      const backstop = (): void => {
        if (done || !p.startsWith('/sys/')) return;
        recheck = setTimeout(() => {
          void check().then(backstop);
        }, backoffMs);
        backoffMs = Math.min(backoffMs * 2, 1000);
      };
      const timer = setTimeout(() => finish(false), opts.timeoutMs);
      const onAbort = (): void => finish(new HitchError('HITCH_ABORTED', { reason: `wait for ${path}` }));
      if (opts.signal?.aborted) return onAbort();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      void check().then(backstop);
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
