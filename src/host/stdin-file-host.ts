import { randomUUID } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock, ExecOptions, ExecResult, Host, HostCapabilities, HostListener, TcpProbeOptions, TcpProbeResult, WaitForPathOptions, WriteFileAtomicOptions } from '../ports/host.ts';

/**
 * A Host adapter for tools that read their input from a file named `/dev/stdin`.
 *
 * `virsh … /dev/stdin` cannot read a child's stdin as Node gives it: libuv's stdio "pipes" are
 * socketpairs, and opening `/proc/self/fd/0` of a socket fails with `Failed to open file
 * '/dev/stdin': No such device or address`. So for an exec that names `/dev/stdin` and has an
 * input, the input goes to a private file (mode 0600 in a 0700 directory of the data dir) for
 * the duration of that one call, and is removed right after, whatever the outcome.
 */
export class StdinFileHost implements Host {
  readonly #h: Host;
  readonly #dir: string;

  constructor(inner: Host, dir: string) {
    this.#h = inner;
    this.#dir = dir;
  }

  get capabilities(): HostCapabilities {
    return this.#h.capabilities;
  }

  get name(): string {
    return this.#h.name;
  }

  get clock(): Clock {
    return this.#h.clock;
  }

  async exec(cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    if (opts.input === undefined || !args.includes('/dev/stdin')) return this.#h.exec(cmd, args, opts);
    const path = join(this.#dir, `${cmd.replace(/[^a-z0-9-]/gi, '_')}-${randomUUID()}`);
    await writeFile(path, opts.input, { mode: 0o600, flag: 'wx' });
    try {
      const { input: _input, ...rest } = opts;
      const r = await this.#h.exec(cmd, args.map((a) => (a === '/dev/stdin' ? path : a)), rest);
      // Callers parse messages that name the file they asked for.
      return { ...r, stdout: r.stdout.split(path).join('/dev/stdin'), stderr: r.stderr.split(path).join('/dev/stdin') };
    } finally {
      await rm(path, { force: true });
    }
  }

  readFile = (path: string): Promise<string> => this.#h.readFile(path);
  readFiles = (paths: readonly string[]): Promise<Array<string | null>> => this.#h.readFiles(paths);
  writeFileAtomic = (path: string, data: string, opts?: WriteFileAtomicOptions): Promise<void> => this.#h.writeFileAtomic(path, data, opts);
  writeFile = (path: string, data: string): Promise<void> => this.#h.writeFile(path, data);
  exists = (path: string): Promise<boolean> => this.#h.exists(path);
  readlink = (path: string): Promise<string> => this.#h.readlink(path);
  realpath = (path: string): Promise<string> => this.#h.realpath(path);
  readdir = (path: string): Promise<string[]> => this.#h.readdir(path);
  glob = (pattern: string): Promise<string[]> => this.#h.glob(pattern);
  waitForPath = (path: string, opts: WaitForPathOptions): Promise<boolean> => this.#h.waitForPath(path, opts);
  probeTcp = (address: string, port: number, opts: TcpProbeOptions): Promise<TcpProbeResult> => this.#h.probeTcp(address, port, opts);
  onExec = (listener: HostListener): (() => void) => this.#h.onExec(listener);
}
