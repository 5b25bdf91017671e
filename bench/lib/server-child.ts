/**
 * The Hitch server of the split control-plane measurement, as a process of its own: the
 * all-in-one cloud (`createCloud`, what `hitch serve` runs) on a database, with the data plane
 * in the simulator daemon (`simSocket`). Started by `server-process.ts` with an IPC channel:
 *
 *   child → parent   { t: 'ready', url }                          listening
 *                    { t: 'finished', kind, outcome }              an operation ended (one small
 *                                                                  IPC write: the completion signal
 *                                                                  the bench waits on, instead of polling)
 *                    { t: 'stats', cpuUs, userUs, queries,         answer to 'stats'
 *                      dataPlaneCalls, byMethod, transportUs }
 *                    { t: 'profile', breakdown }                   answer to 'profile-stop'
 *   parent → child   { t: 'stats' }     settle (background work, trace saves), then report
 *                                       this process's CPU (user + system, µs) and statements sent
 *                    { t: 'profile-start' } / { t: 'profile-stop' }   V8 CPU profile of this process
 *                    { t: 'close' }     close the cloud and exit
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { Socket } from 'node:net';
import { createCloud } from '../../src/server/cloud.ts';
import { resolveConfig } from '../../src/server/config.ts';
import { SimClient } from '../../src/sim/remote/client.ts';
import { breakdown, type Profile } from './profile.ts';

const env = process.env;
const send = (m: unknown): void => void process.send?.(m);

// Count (not change) the calls to the simulator daemon: each stands for a command, a sysfs read
// or a libvirt call on a real host.
let dataPlaneCalls = 0;
const byMethod: Record<string, number> = {};
// And estimate what the transport to it costs this process, where it runs synchronously: sending
// a request (encode, socket write) and taking in answers (the socket's 'data' handler: read
// lines, decode, settle the caller's promise). The code that continues after an answer is
// Hitch's and runs later, outside both. Those sections are timed with the monotonic clock, not
// process.cpuUsage(): getrusage sums every thread of the process in the kernel, and reading it
// four times per data-plane call cost more than the transport itself (it would be in the
// figure it explains). A synchronous section's wall time is its CPU time unless the scheduler
// took the core away meanwhile (a loaded machine); what is not caught — the kernel's read of an
// answer before the handler, the wake-up — is not in it. An estimate, shown beside the figure.
let transportUs = 0;
const request = SimClient.prototype.request;
SimClient.prototype.request = function (this: SimClient, ...a: Parameters<typeof request>) {
  dataPlaneCalls++;
  const [m, p] = a;
  const key = m === 'host.exec' ? `exec ${(p as { cmd: string }).cmd}` : m === 'hv.call' ? `hv ${(p as { method: string }).method}` : m;
  byMethod[key] = (byMethod[key] ?? 0) + 1;
  const t0 = performance.now();
  try {
    return request.apply(this, a);
  } finally {
    transportUs += (performance.now() - t0) * 1000;
  }
} as typeof request;
const simSockets = new WeakSet<Socket>();
const connect = Socket.prototype.connect;
Socket.prototype.connect = function (this: Socket, ...args: unknown[]) {
  // net.connect(path) hands connect its normalized arguments: [[{ path }, callback]].
  const first = (Array.isArray(args[0]) ? args[0][0] : args[0]) as { path?: unknown } | string | undefined;
  const path = typeof first === 'string' ? first : first?.path;
  if (path === env['BENCH_SIM_SOCKET']) simSockets.add(this);
  return (connect as (...a: unknown[]) => Socket).apply(this, args);
} as typeof connect;
const emit = Socket.prototype.emit as (this: Socket, event: string | symbol, ...args: unknown[]) => boolean;
Socket.prototype.emit = function (this: Socket, event: string | symbol, ...args: unknown[]) {
  if (event !== 'data' || !simSockets.has(this)) return emit.apply(this, [event, ...args]);
  const t0 = performance.now();
  try {
    return emit.apply(this, [event, ...args]);
  } finally {
    transportUs += (performance.now() - t0) * 1000;
  }
} as typeof emit;

const config = resolveConfig(
  {
    dataDir: env['BENCH_DATA_DIR'],
    port: 0,
    logLevel: 'silent',
    scenario: env['BENCH_SCENARIO'],
    simSocket: env['BENCH_SIM_SOCKET'],
    ...(env['BENCH_DATABASE'] && env['BENCH_DATABASE'] !== 'sqlite' ? { databaseUrl: env['BENCH_DATABASE'] } : {}),
  },
  {},
);
const cloud = await createCloud({
  config,
  credentials: { adminPassword: env['BENCH_ADMIN_PASSWORD'] ?? '', demoPassword: env['BENCH_DEMO_PASSWORD'] ?? '' },
  onFinished: (op) => send({ t: 'finished', kind: op.kind, outcome: op.outcome }),
});
const addr = await cloud.app.listen({ host: '127.0.0.1', port: 0 });
let session: Session | null = null;

process.on('message', (m: { t: string }) => {
  void (async () => {
    if (m.t === 'stats') {
      await cloud.settle();
      const cpu = process.cpuUsage();
      send({ t: 'stats', cpuUs: cpu.user + cpu.system, userUs: cpu.user, queries: cloud.db.stats.queries, dataPlaneCalls, byMethod: { ...byMethod }, transportUs });
    } else if (m.t === 'profile-start') {
      session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 200 });
      await session.post('Profiler.start');
      send({ t: 'profiling' });
    } else if (m.t === 'profile-stop' && session) {
      await cloud.settle();
      const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: Profile };
      session.disconnect();
      session = null;
      // The raw profile too, for a closer look (chrome://inspect, speedscope), when asked for.
      if (env['BENCH_PROFILE_OUT']) writeFileSync(env['BENCH_PROFILE_OUT'], JSON.stringify(profile));
      send({ t: 'profile', breakdown: breakdown(profile) });
    } else if (m.t === 'close') {
      await cloud.close();
      process.exit(0);
    }
  })().catch((e: unknown) => {
    process.stderr.write(`bench server: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
});
send({ t: 'ready', url: addr.replace('localhost', '127.0.0.1') });
