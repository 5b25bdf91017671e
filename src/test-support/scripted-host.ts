/**
 * A tiny scripted Host for brick's unit tests: canned command results, an in-memory file map,
 * and a clock that only moves when told. Anything not scripted fails loudly, so a test also
 * pins which calls were made. Scenario tests use the simulator's SimHost instead.
 */
import { HitchError } from '../errors.ts';
import type { Clock, ExecOptions, ExecRecord, ExecResult, Host, HostListener, WaitForPathOptions } from '../ports/host.ts';

export type Script = (cmd: string, args: readonly string[], opts?: ExecOptions) => ExecResult | undefined;

export class ScriptedHost implements Host {
  readonly name: string;
  readonly files = new Map<string, string>();
  readonly commands: string[] = [];
  readonly #script: Script;
  readonly #listeners = new Set<HostListener>();
  #now = 0;
  readonly clock: Clock = {
    now: () => this.#now,
    sleep: (ms: number) => {
      this.#now += ms;
      return Promise.resolve();
    },
  };

  constructor(name: string, script: Script, files: Record<string, string> = {}) {
    this.name = name;
    this.#script = script;
    for (const [k, v] of Object.entries(files)) this.files.set(k, v);
  }

  async exec(cmd: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    const line = [cmd, ...args].join(' ');
    this.commands.push(line);
    const r = this.#script(cmd, args, opts);
    if (!r) throw new Error(`unscripted command: ${line}`);
    const rec: ExecRecord = { cmd, args, ...r, startMs: this.#now, endMs: this.#now };
    for (const l of this.#listeners) l(rec);
    return r;
  }

  async readFile(path: string): Promise<string> {
    const v = this.files.get(path);
    // As LinuxHost and SimHost report a missing file.
    if (v === undefined) throw new HitchError('HITCH_PATH_NOT_FOUND', { path });
    return v;
  }

  async writeFile(path: string, data: string): Promise<void> {
    this.files.set(path, data);
  }

  async exists(path: string): Promise<boolean> {
    return this.files.has(path) || [...this.files.keys()].some((k) => k.startsWith(path + '/'));
  }

  async readlink(path: string): Promise<string> {
    return this.readFile(path);
  }

  async realpath(path: string): Promise<string> {
    return path;
  }

  async readdir(path: string): Promise<string[]> {
    const names = new Set<string>();
    for (const k of this.files.keys()) if (k.startsWith(path + '/')) names.add(k.slice(path.length + 1).split('/')[0] ?? '');
    return [...names].sort();
  }

  async glob(): Promise<string[]> {
    return [];
  }

  async waitForPath(path: string, opts: WaitForPathOptions): Promise<boolean> {
    return (await this.exists(path)) !== (opts.gone ?? false);
  }

  onExec(listener: HostListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

export const ok = (stdout = ''): ExecResult => ({ code: 0, stdout, stderr: '' });
export const fail = (code: number, stderr = '', stdout = ''): ExecResult => ({ code, stdout, stderr });
