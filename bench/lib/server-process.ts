/**
 * The control plane measured alone: Hitch's server in a child process of its own, the simulated
 * data plane in a second (the simulator daemon, `hitch sim serve`), and the HTTP client in this
 * one. On a real compute host the kernel, iscsiadm, multipathd and libvirtd are other processes
 * whose CPU is not Hitch's, and the client is the user's; here each of the three processes'
 * CPU is read on its own, so the server's figure is Hitch's and the others are shown beside it.
 *
 *   server      `process.cpuUsage()` reported by the child itself (user + system, every thread)
 *   simulator   utime + stime of the daemon from /proc/<pid>/stat
 *   client      `process.cpuUsage()` of this process
 *
 * The bench learns that an operation ended from a one-line IPC message the server sends from
 * `onFinished` (no polling, so no API calls a client would not make), and asks the server to
 * settle and report its counters once before and once after a batch.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { hitchNodeFlags } from '../../src/cli/node-flags.ts';
import { BENCH_ADMIN_PASSWORD, BENCH_DEMO_PASSWORD, demoSession, type BenchApi } from './cloud.ts';
import type { CpuBreakdown } from './profile.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const BOUND_MS = 120_000;

let clockTicks: number | null = null;
/** CPU seconds of process `pid` so far (user + system), from /proc; null once it has gone. */
export function procCpuMs(pid: number): number | null {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(rest[11]) + Number(rest[12])) * 1000) / clockTicks;
}

export interface ServerStats {
  /** The server process's CPU so far, ms. */
  readonly cpuMs: number;
  /** Of which in user mode (the rest is the kernel's work for it: syscalls, socket I/O). */
  readonly userMs: number;
  /** Statements it has sent to its database so far. */
  readonly queries: number;
  /** Calls it has made to the simulator daemon so far (commands, file reads, hypervisor calls). */
  readonly dataPlaneCalls: number;
  /** The same by kind (`exec iscsiadm`, `host.readFile`, `hv attachDisk`…). */
  readonly dataPlaneByKind: Readonly<Record<string, number>>;
  /** CPU the server spent sending those calls and taking in their answers, ms (a floor: see server-child.ts). */
  readonly transportMs: number;
}

export interface SplitCloud extends BenchApi {
  readonly serverPid: number;
  readonly simPid: number;
  /** Operations the server has reported finished so far, and how many of them failed. */
  finished(): { readonly done: number; readonly failed: number };
  /** Resolves once `n` operations in all have finished. */
  waitFinished(n: number): Promise<void>;
  /** Settle the server (background work, trace saves) and read its counters. */
  stats(): Promise<ServerStats>;
  /** Simulator daemon CPU so far, ms. */
  simCpuMs(): number;
  profile(fn: () => Promise<void>): Promise<CpuBreakdown>;
}

function waitLine(child: ChildProcess, text: string): Promise<void> {
  return new Promise((res, rej) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => rej(new Error(`no "${text}" from the simulator within ${BOUND_MS} ms: ${out}${err}`)), BOUND_MS);
    child.stderr?.on('data', (d) => (err += String(d)));
    child.stdout?.on('data', (d) => {
      out += String(d);
      if (out.includes(text)) {
        clearTimeout(timer);
        res();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`simulator exited (${code}) before "${text}": ${out}${err}`));
    });
  });
}

/** `database`: 'sqlite' (a file) or a postgres:// URL of an empty database. */
export async function startSplitCloud(opts: { scenario: string; database: string }): Promise<SplitCloud> {
  const dir = mkdtempSync(join(tmpdir(), 'hitch-bench-split-'));
  const socket = join(dir, 'sim.sock');
  // Quiet 0: virtual time may jump as soon as the simulation is idle. Every latency of the
  // zero-latency world is 0, so there is no timer whose firing a quiet period would delay.
  const sim = spawn(process.execPath, [join(ROOT, 'bin/hitch.js'), 'sim', 'serve', '--scenario', opts.scenario, '--socket', socket, '--quiet-ms', '0'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const simExited = new Promise<void>((r) => sim.once('exit', () => r()));
  let server: ChildProcess | null = null;
  const stop = async (): Promise<void> => {
    if (server && server.exitCode === null && server.signalCode === null) {
      const exited = new Promise<void>((r) => server?.once('exit', () => r()));
      server.send({ t: 'close' });
      await exited;
    }
    if (sim.exitCode === null && sim.signalCode === null) sim.kill('SIGTERM');
    await simExited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitLine(sim, 'listening on');
    const child = fork(join(ROOT, 'bench/lib/server-child.ts'), [], {
      cwd: ROOT,
      // The product's node flags (bin/hitch.js's first line), so the server runs as `hitch serve`
      // does; then BENCH_SERVER_NODE_ARGS, extra flags for experiments (GC tracing, V8 flags; a
      // later flag overrides an earlier one, so a product flag can be tried with another value).
      execArgv: [...hitchNodeFlags(), ...(process.env['BENCH_SERVER_NODE_ARGS']?.split(' ').filter(Boolean) ?? []), '--import', 'tsx'],
      env: {
        PATH: process.env['PATH'],
        HOME: process.env['HOME'],
        BENCH_DATA_DIR: join(dir, 'data'),
        BENCH_SCENARIO: opts.scenario,
        BENCH_SIM_SOCKET: socket,
        BENCH_DATABASE: opts.database,
        BENCH_ADMIN_PASSWORD,
        BENCH_DEMO_PASSWORD,
        ...(process.env['BENCH_PROFILE_OUT'] ? { BENCH_PROFILE_OUT: process.env['BENCH_PROFILE_OUT'] } : {}),
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    server = child;
    let done = 0;
    let failed = 0;
    const waiters: Array<() => void> = [];
    const replies: Array<(m: Record<string, unknown>) => void> = [];
    const url = await new Promise<string>((res, rej) => {
      const timer = setTimeout(() => rej(new Error('the bench server did not start')), BOUND_MS);
      child.once('exit', (code) => rej(new Error(`the bench server exited (${code}) during start`)));
      child.on('message', (m: Record<string, unknown>) => {
        if (m['t'] === 'ready') {
          clearTimeout(timer);
          res(String(m['url']));
        } else if (m['t'] === 'finished') {
          done++;
          if (m['outcome'] !== 'done') failed++;
          for (const w of waiters.splice(0)) w();
        } else {
          replies.shift()?.(m);
        }
      });
    });
    const ask = (t: string, expect: string): Promise<Record<string, unknown>> =>
      new Promise((res, rej) => {
        const timer = setTimeout(() => rej(new Error(`no ${expect} from the bench server`)), BOUND_MS);
        replies.push((m) => {
          clearTimeout(timer);
          if (m['t'] === expect) res(m);
          else rej(new Error(`expected ${expect}, got ${JSON.stringify(m)}`));
        });
        child.send({ t });
      });
    const { token, projectId, api } = await demoSession(url);
    const serverPid = child.pid ?? 0;
    const simPid = sim.pid ?? 0;
    return {
      url,
      token,
      projectId,
      api,
      serverPid,
      simPid,
      finished: () => ({ done, failed }),
      waitFinished: (n) =>
        new Promise<void>((res, rej) => {
          const timer = setTimeout(() => rej(new Error(`only ${done} of ${n} operations finished within ${BOUND_MS} ms`)), BOUND_MS);
          const check = (): void => {
            if (done >= n) {
              clearTimeout(timer);
              res();
            } else waiters.push(check);
          };
          check();
        }),
      async stats() {
        const m = await ask('stats', 'stats');
        return { cpuMs: Number(m['cpuUs']) / 1000, userMs: Number(m['userUs']) / 1000, queries: Number(m['queries']), dataPlaneCalls: Number(m['dataPlaneCalls']), dataPlaneByKind: m['byMethod'] as Record<string, number>, transportMs: Number(m['transportUs']) / 1000 };
      },
      simCpuMs: () => procCpuMs(simPid) ?? NaN,
      async profile(fn) {
        await ask('profile-start', 'profiling');
        await fn();
        return (await ask('profile-stop', 'profile'))['breakdown'] as CpuBreakdown;
      },
      close: stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
