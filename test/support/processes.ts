/**
 * Real processes for tests: start `bin/hitch.js COMMAND …` as a child, wait for a line it
 * prints, stop it (SIGTERM) or kill it (SIGKILL), and poll an API with a bound — never a fixed
 * sleep. Used by the tests that kill and restart Hitch's processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/hitch.js');
/** Where these processes note the last server started in a directory: not the user's home. */
const STATE_HOME = mkdtempSync(join(tmpdir(), 'hitch-state-'));
process.once('exit', () => rmSync(STATE_HOME, { recursive: true, force: true }));
/**
 * Every wait on a process or on the APIs is bounded by this (wall ms): a bound on a hang, never a
 * timing. Generous, because a process start on a 2-core machine shared by a whole suite (load
 * average 9 and more) can take tens of seconds.
 */
export const BOUND_MS = 180_000;

export interface Proc {
  readonly child: ChildProcess;
  out(): string;
  err(): string;
  /** Resolves when the process has exited: its code, or the signal that killed it. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once stdout contains `text`; rejects if the process exits first or the bound passes. */
  waitFor(text: string): Promise<void>;
  stop(): Promise<void>;
  kill(): Promise<void>;
}

export function startHitch(args: readonly string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'], HOME: process.env['HOME'], HITCH_DATA_DIR: '', XDG_STATE_HOME: STATE_HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  child.stdout?.on('data', (d) => {
    out += String(d);
    for (const w of waiters) w();
  });
  child.stderr?.on('data', (d) => (err += String(d)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.once('exit', (code, signal) => res({ code, signal })));
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    child,
    out: () => out,
    err: () => err,
    exited,
    waitFor: (text) =>
      new Promise<void>((res, rej) => {
        const timer = setTimeout(() => done(new Error(`no "${text}" within ${BOUND_MS} ms: ${out}\n${err}`)), BOUND_MS);
        const check = (): void => {
          if (out.includes(text)) done();
        };
        const done = (e?: Error): void => {
          clearTimeout(timer);
          waiters.delete(check);
          if (e) rej(e);
          else res();
        };
        waiters.add(check);
        void exited.then((x) => done(new Error(`exited (${x.code ?? x.signal}) before "${text}": ${out}\n${err}`)));
        check();
      }),
    async stop() {
      if (alive()) child.kill('SIGTERM');
      await exited;
    },
    async kill() {
      if (alive()) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** The process's exit, bounded: fails the test if it is still running after BOUND_MS. */
export async function exitOf(p: Proc): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`still running after ${BOUND_MS} ms: ${p.out()}\n${p.err()}`)), BOUND_MS)));
  try {
    return await Promise.race([p.exited, bound]);
  } finally {
    clearTimeout(timer);
  }
}

/** Poll until `ok` (each round is one request round trip), bounded by BOUND_MS. */
export async function until<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + BOUND_MS;
  let last: T | undefined;
  for (;;) {
    last = await fn();
    if (ok(last)) return last;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(last)} after ${BOUND_MS} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface Api {
  readonly projectId: string;
  /** The session's token (a client that makes its own requests). */
  readonly token: string;
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
}

/** A project-scoped session against `url` with the passwords a data dir's credentials.json holds. */
export async function login(url: string, dataDir: string, user: 'demo' | 'admin'): Promise<Api> {
  const creds = JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8')) as Record<'demo' | 'admin', { password: string }>;
  const r = await fetch(`${url}/identity/v3/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: { methods: ['password'], password: { user: { name: user, domain: { id: 'default' }, password: creds[user].password } } },
        scope: { project: { name: user, domain: { id: 'default' } } },
      },
    }),
  });
  if (r.status !== 201) throw new Error(`token for ${user}: ${r.status}`);
  const token = r.headers.get('x-subject-token') as string;
  const projectId = ((await r.json()) as { token: { project: { id: string } } }).token.project.id;
  return {
    projectId,
    token,
    async call(method, path, body) {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: { 'x-auth-token': token, accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    },
  };
}
