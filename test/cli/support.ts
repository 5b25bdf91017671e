/**
 * Helpers for the product tests: a real `hitch serve` process (what the README's first command
 * starts) on a free loopback port with a temporary data directory, and the CLI run in-process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runCli } from '../../src/cli/main.ts';

export const ROOT = resolve(import.meta.dirname, '../..');

/**
 * Where the processes and commands of these tests note the last server started in a directory
 * (`src/cli/last-serve.ts`): a directory of this test run, not the user's home.
 */
export const STATE_HOME = mkdtempSync(join(tmpdir(), 'hitch-state-'));
process.once('exit', () => rmSync(STATE_HOME, { recursive: true, force: true }));

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const p = typeof a === 'object' && a ? a.port : 0;
      s.close(() => res(p));
    });
  });
}

export interface ServeProcess {
  readonly url: string;
  readonly dataDir: string;
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  credentials(): { url: string; admin: { password: string }; demo: { password: string } };
  /** SIGTERM and wait until the output is closed; the exit code (null when npm itself died of the signal). */
  stop(): Promise<number | null>;
  /** Remove the data directory. */
  dispose(): void;
}

/**
 * Start the server as a user would: `npm start -- ARGS` (what the README's first command runs
 * after `npm install`), or `node bin/hitch.js serve ARGS`. Waits (bounded) for /healthz.
 */
export async function spawnServe(args: string[], opts: { via?: 'npm' | 'bin'; dataDir?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ServeProcess> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'hitch-serve-'));
  const port = await freePort();
  const all = ['--port', String(port), '--data-dir', dataDir, ...args];
  const [cmd, argv] = opts.via === 'npm' ? ['npm', ['start', '--silent', '--', ...all]] : [process.execPath, [join(ROOT, 'bin/hitch.js'), 'serve', ...all]];
  const child = spawn(cmd, argv, { cwd: ROOT, env: { ...process.env, HITCH_DATA_DIR: '', XDG_STATE_HOME: STATE_HOME, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: opts.via === 'npm' });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d) => (out += String(d)));
  child.stderr?.on('data', (d) => (err += String(d)));
  // 'close': every holder of the pipes is gone (under npm, the server itself too), not just the first process.
  const exited = new Promise<number | null>((res) => child.once('close', (code) => res(code)));
  const url = `http://127.0.0.1:${port}`;
  // Bounded wait for a real process to come up: at most 60 s.
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`hitch serve exited ${child.exitCode}: ${out}\n${err}`);
    const ok = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
    if (ok && out.includes('Hitch is running')) break;
    if (Date.now() > deadline) throw new Error(`hitch serve did not come up: ${out}\n${err}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    dataDir,
    child,
    stdout: () => out,
    stderr: () => err,
    credentials: () => JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8')),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        try {
          // npm runs the server in a process group of its own: signal the group, as a terminal's ^C does.
          if (opts.via === 'npm' && child.pid) process.kill(-child.pid, 'SIGTERM');
          else child.kill('SIGTERM');
        } catch {
          // already gone
        }
      }
      return exited;
    },
    dispose() {
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface CliResult {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** Run the CLI in this process (not a TTY: plain progress lines). */
export async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { out: (t) => out.push(t), err: (t) => err.push(t), env: { PATH: process.env.PATH, HOME: process.env.HOME, XDG_STATE_HOME: STATE_HOME, ...env }, tty: null });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** Run the real `hitch` launcher as a child process. */
export async function hitchBin(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/hitch.js'), ...args], { cwd: ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME, XDG_STATE_HOME: STATE_HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += String(d)));
    child.stderr.on('data', (d) => (err += String(d)));
    child.once('exit', (code) => res({ code: code ?? -1, out, err }));
  });
}
