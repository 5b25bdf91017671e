/**
 * A Host for pinning the exact `virsh` commands a driver runs: each expected call names its
 * arguments and the answer (stdout, stderr, exit code, virtual duration); any other call fails
 * the test. Inputs and masked secrets are recorded for the assertions.
 */
import type { Clock, ExecOptions, ExecResult, Host, HostListener } from '../../ports/host.ts';
import { FakeClock } from './fake-clock.ts';

export interface ScriptedCall {
  readonly cmd?: string;
  readonly args: readonly string[];
  readonly stdout?: string;
  readonly stderr?: string;
  readonly code?: number;
  /** Virtual time the command takes (virsh's 5 s wait for an unplug). */
  readonly durationMs?: number;
}

export interface RecordedCall {
  readonly cmd: string;
  readonly args: readonly string[];
  readonly input?: string;
  readonly secrets?: readonly string[];
  readonly timeoutMs?: number;
  readonly atMs: number;
}

export class ScriptedHost implements Host {
  readonly name = 'scripted';
  readonly clock: Clock;
  readonly calls: RecordedCall[] = [];
  readonly #script: ScriptedCall[];

  constructor(script: readonly ScriptedCall[], clock: Clock = new FakeClock()) {
    this.#script = [...script];
    this.clock = clock;
  }

  /** Calls still expected; a test ends with none. */
  get remaining(): readonly ScriptedCall[] {
    return this.#script;
  }

  async exec(cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    this.calls.push({
      cmd,
      args: [...args],
      ...(opts.input !== undefined ? { input: opts.input } : {}),
      ...(opts.secrets ? { secrets: [...opts.secrets] } : {}),
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      atMs: this.clock.now(),
    });
    const next = this.#script.shift();
    const shown = `${cmd} ${args.join(' ')}`;
    if (!next) throw new Error(`unexpected command: ${shown}`);
    const want = `${next.cmd ?? 'virsh'} ${next.args.join(' ')}`;
    if (want !== shown) throw new Error(`expected command: ${want}\n     got command: ${shown}`);
    if (next.durationMs) await this.clock.sleep(next.durationMs);
    return { code: next.code ?? 0, stdout: next.stdout ?? '', stderr: next.stderr ?? '' };
  }

  readFile(): Promise<string> {
    return Promise.reject(new Error('ScriptedHost: readFile not scripted'));
  }
  writeFile(): Promise<void> {
    return Promise.reject(new Error('ScriptedHost: writeFile not scripted'));
  }
  exists(): Promise<boolean> {
    return Promise.reject(new Error('ScriptedHost: exists not scripted'));
  }
  readlink(): Promise<string> {
    return Promise.reject(new Error('ScriptedHost: readlink not scripted'));
  }
  realpath(): Promise<string> {
    return Promise.reject(new Error('ScriptedHost: realpath not scripted'));
  }
  readdir(): Promise<string[]> {
    return Promise.reject(new Error('ScriptedHost: readdir not scripted'));
  }
  glob(): Promise<string[]> {
    return Promise.reject(new Error('ScriptedHost: glob not scripted'));
  }
  waitForPath(): Promise<boolean> {
    return Promise.reject(new Error('ScriptedHost: waitForPath not scripted'));
  }
  onExec(_listener: HostListener): () => void {
    return () => undefined;
  }
}
