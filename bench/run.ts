/**
 * `npm run bench` — Hitch's figures, each measured in this run, printed as tables and written to
 * bench/results/bench-<time>.json. See bench/README.md for what each figure means.
 *
 *   npm run bench                          everything
 *   npm run bench -- --scenario seed       figure 1 for one scenario only
 *   npm run bench -- --only latency,concurrency,control,api,scale-out,cli,real-host,flood
 *   npm run bench -- --no-os-brick --quick
 *   npm run bench -- --only scale-out --scale-parts lists --keep-fleet /var/tmp/hitch-fleet   (load 1M volumes once, measure again later)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { findPgBin, startPostgres } from '../src/test-support/postgres.ts';
import { measureThroughput, type ThroughputRow } from './api-throughput.ts';
import { measureCliStartup } from './cli-startup.ts';
import { measureFlood } from './flood.ts';
import { hitchConcurrency, osBrickConcurrency, type ConcurrencyResult } from './concurrency.ts';
import { renderScaleOut, SCALE_OUT_PARTS, scaleOutFigure, type ScaleOutPart } from './scale-out.ts';
import { BATCHES, WARMUP, measureControlPlane, type ControlPlaneResult } from './control-plane.ts';
import { LATENCY_SCENARIOS, measureLatency, type LatencyRow } from './latency.ts';
import { ms, ratio, table } from './lib/stats.ts';
import { osBrickAvailable } from './peers/os-brick-peer.ts';
import { measureRealHost, renderRealHost } from './real-host.ts';

const { values: args } = parseArgs({
  options: {
    scenario: { type: 'string' },
    only: { type: 'string' },
    'no-os-brick': { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
    // scale-out: which of its parts (throughput,idle,lists), and where to keep the 1M-volume fleet between runs.
    'scale-parts': { type: 'string' },
    'keep-fleet': { type: 'string' },
  },
});

const sections = new Set((args.only ?? (args.scenario ? 'latency' : 'latency,concurrency,control,api,scale-out,cli,flood')).split(','));
const quick = args.quick ?? false;
const peer = args['no-os-brick'] ? { ok: false, reason: '--no-os-brick' } : osBrickAvailable();
const log = (s: string): void => void process.stdout.write(s + '\n');

const results: Record<string, unknown> = {
  startedAt: new Date().toISOString(),
  node: process.version,
  osBrick: peer.ok ? { version: peer.version } : { missing: peer.reason },
};

if (!peer.ok) log(`os-brick column empty: ${peer.reason} (apt-get install -y python3-os-brick)`);

if (sections.has('latency')) {
  const specs = LATENCY_SCENARIOS.filter((s) => !args.scenario || s.name === args.scenario);
  if (specs.length === 0) throw new Error(`unknown scenario ${args.scenario}; one of ${LATENCY_SCENARIOS.map((s) => s.name).join(', ')}`);
  const rows: LatencyRow[] = [];
  for (const s of specs) rows.push(await measureLatency(s, { osBrick: peer.ok, whole: true }));
  results['latency'] = rows;
  log('\n1. Attach latency vs the data-plane floor (virtual time)');
  log(
    table(
      ['scenario', 'mp', 'floor', 'Hitch connect', 'ratio', 'os-brick connect', 'os-brick/Hitch', 'attach floor', 'Hitch attach', 'ratio', 'note'],
      rows.map((r) => [
        r.label,
        r.multipath ? 'yes' : 'no',
        ms(r.connectFloorMs),
        r.hitchConnectMs === null ? `failed: ${r.hitchError ?? ''}` : `${ms(r.hitchConnectMs)} ${r.hitchDevice ?? ''}`,
        ratio(r.hitchRatio),
        r.osBrickConnectMs === null ? (peer.ok ? 'n/a' : '—') : `${ms(r.osBrickConnectMs)}${r.osBrickError ? ` (${r.osBrickError})` : ` ${r.osBrickDevice ?? ''}`}`,
        r.osBrickVsHitch === null ? '—' : `${r.osBrickVsHitch.toFixed(1)}×`,
        ms(r.attachFloorMs),
        r.hitchAttachMs === null ? (r.hitchAttachOutcome ?? '—') : ms(r.hitchAttachMs),
        ratio(r.hitchAttachRatio),
        [
          r.boundedWait,
          r.hitchRatio !== null && r.hitchRatio > 1.05
            ? `${ms((r.hitchConnectMs ?? 0) - r.connectFloorMs)} over the floor = ${(((r.hitchConnectMs ?? 0) - r.connectFloorMs) / r.commandMs).toFixed(1)} × ${r.commandMs} ms commands on the path (${r.hitchCommands.length} run)`
            : null,
        ]
          .filter(Boolean)
          .join('; '),
      ]),
    ),
  );
}

if (sections.has('concurrency')) {
  const ns = quick ? [1, 10, 50] : [1, 10, 50, 200];
  const rows: Array<{ impl: string } & ConcurrencyResult> = [];
  for (const n of ns) {
    rows.push({ impl: 'Hitch', ...(await hitchConcurrency(n)) });
    if (peer.ok) rows.push({ impl: 'os-brick 6.1', ...(await osBrickConcurrency(n)) });
  }
  results['concurrency'] = rows;
  log('\n2. Host concurrency: N connects at once, one target each, one dead portal (virtual time)');
  log(
    table(
      ['N', 'initiator', 'total', 'p50 (healthy)', 'p99 (healthy)', 'dead one', 'failed', 'max wait for connect_volume lock'],
      rows.map((r) => [String(r.n), r.impl, ms(r.totalMs), ms(r.p50Ms), ms(r.p99Ms), ms(r.deadMs), String(r.failed), r.maxLockWaitMs === undefined ? '— (per-target locks)' : ms(r.maxLockWaitMs)]),
    ),
  );
}

let pg: Awaited<ReturnType<typeof startPostgres>> | null = null;
try {
  if (sections.has('control')) {
    const ops = quick ? 20 : 100;
    const warmup = quick ? 50 : WARMUP;
    const rows: ControlPlaneResult[] = [await measureControlPlane('sqlite', ops, { profile: true, warmup })];
    if (findPgBin() || process.env['HITCH_TEST_PG_URL']) {
      const cluster = await startPostgres();
      pg = cluster;
      rows.push(await measureControlPlane(() => cluster.createDatabase(), ops, { warmup }));
    } else {
      log('PostgreSQL not installed: control-plane figures on SQLite only');
    }
    results['controlPlane'] = rows;
    log(`\n3. Control-plane cost, zero-latency simulator, after ${warmup} attaches and detaches: CPU of the whole Hitch server process (HTTP server, identity, DB, flows, brick, trace, and its side of the socket to the simulator daemon); the median of ${BATCHES} batches of ${ops} (all of them in the last column)`);
    log(
      table(
        ['database', 'ops', 'CPU / attach', 'CPU / detach', 'of which transport / attach', '/ detach', 'queries / attach', '/ detach', 'data-plane calls / attach', 'attaches/s', 'detaches/s', '10 in flight: CPU / attach', 'CPU / detach', 'attaches/s', 'detaches/s', 'failures', 'batches: CPU / attach'],
        rows.map((r) => [
          r.database,
          String(r.operations),
          ms(r.attachCpuMs),
          ms(r.detachCpuMs),
          ms(r.attachTransportCpuMs),
          ms(r.detachTransportCpuMs),
          r.queriesPerAttach.toFixed(1),
          r.queriesPerDetach.toFixed(1),
          r.dataPlaneCallsPerAttach.toFixed(0),
          r.attachesPerSecond.toFixed(1),
          r.detachesPerSecond.toFixed(1),
          ms(r.concurrentAttachCpuMs),
          ms(r.concurrentDetachCpuMs),
          r.concurrentAttachesPerSecond.toFixed(1),
          r.concurrentDetachesPerSecond.toFixed(1),
          String(r.failures),
          r.batches.map((b) => b.attachCpuMs.toFixed(2)).join(' · '),
        ]),
      ),
    );
    log('   beside it (not Hitch\'s CPU), and everything in one process as this bench measured before the split');
    log(
      table(
        ['database', 'simulator daemon / attach', 'HTTP client / attach', 'one process: CPU / attach', 'CPU / detach', 'attaches/s', 'trace saves / attach (spans)', 'failures'],
        rows.map((r) => [
          r.database,
          ms(r.simulatorCpuMsPerAttach),
          ms(r.clientCpuMsPerAttach),
          ms(r.wholeProcess.attachCpuMs),
          ms(r.wholeProcess.detachCpuMs),
          r.wholeProcess.attachesPerSecond.toFixed(1),
          `${r.wholeProcess.saveSpansPerAttach.toFixed(1)} (${r.wholeProcess.spanRowsPerAttach.toFixed(0)})`,
          String(r.wholeProcess.failures),
        ]),
      ),
    );
    for (const r of rows) {
      log(`   warm-up on ${r.database}, CPU per attach of each round of ${r.operations} (then detached): ${r.warmupCurve.map((v) => v.toFixed(1)).join(' ')}`);
    }
    const prof = rows[0]?.attachProfile;
    if (prof) {
      log('   where the server\'s CPU goes during an attach (SQLite, profiled batch): ' + prof.areas.slice(0, 8).map((a) => `${a.area} ${(a.share * 100).toFixed(0)}%`).join(', '));
      log('   database time by caller: ' + prof.dbCallers.slice(0, 4).map((a) => `${a.caller} ${(a.share * 100).toFixed(0)}%`).join(', '));
    }
  }

  if (sections.has('api')) {
    const volumes = quick ? 1000 : 10_000;
    const rows: ThroughputRow[] = await measureThroughput('sqlite', { volumes, durationS: quick ? 3 : 10, connections: 10 });
    results['api'] = rows;
    log(`\n4. API throughput, autocannon on loopback, 10 connections, ${volumes} volumes in the database`);
    log(
      table(
        ['database', 'request', 'req/s', 'p99', 'one alone', 'completed', 'non-2xx', 'errors', 'timeouts', 'duration'],
        rows.map((r) => [r.database, r.request, r.requestsPerSecond.toFixed(1), r.completed ? ms(r.p99Ms) : '—', ms(r.singleMs), String(r.completed), String(r.non2xx), String(r.errors), String(r.timeouts), `${r.durationS} s`]),
      ),
    );
  }
  if (sections.has('real-host')) {
    // A real Linux storage host in a QEMU guest (root; scripts/build-storage-host.sh): only when asked for.
    log('\n6. Real host: Hitch and os-brick 6.1 on a real kernel, udev, iscsid, multipathd and tgt');
    const f = await measureRealHost(log);
    results['realHost'] = f;
    log(renderRealHost(f));
  }
  if (sections.has('scale-out')) {
    if (findPgBin() || process.env['HITCH_TEST_PG_URL']) {
      log('\n5. Scale-out at fleet size (bench/scale-out.ts; several minutes: a million rows are loaded)');
      const parts = args['scale-parts']?.split(',') ?? SCALE_OUT_PARTS;
      const unknown = parts.filter((p) => !(SCALE_OUT_PARTS as readonly string[]).includes(p));
      if (unknown.length > 0) throw new Error(`--scale-parts: unknown ${unknown.join(', ')}; of ${SCALE_OUT_PARTS.join(', ')}`);
      const f = await scaleOutFigure({
        log,
        parts: parts as ScaleOutPart[],
        ...(args['keep-fleet'] ? { keepFleet: resolve(args['keep-fleet']) } : {}),
        ...(quick ? { attaches: 30, rounds: 2, warmup: 10, idleSeconds: 10, listRequests: 50, fleet: { projects: 100, volumes: 100_000, servers: 10_000, attachments: 20_000, hosts: 100 } } : {}),
      });
      results['scaleOut'] = f;
      log(renderScaleOut(f));
    } else {
      log('\n5. Scale-out: PostgreSQL not installed, skipped');
    }
  }
} finally {
  await pg?.stop();
}

if (sections.has('flood')) {
  const f = await measureFlood({ connections: 16, samples: quick ? 150 : 300, perSecond: 20 });
  results['flood'] = f;
  log('\nFair sharing: project "quiet" lists its one volume (12 a second) while project "demo" floods (16 connections listing its 10 volumes); p99 of the quiet lists, alone and during the flood, on one server in one run');
  log(
    table(
      ['rate limit', 'quiet p99 alone', 'quiet p99 in flood', 'ratio', 'flood answers', 'of them 429', 'load average'],
      f.map((r) => [r.limit, ms(r.quietP99Ms), ms(r.floodP99Ms), `${r.ratio.toFixed(2)}×`, String(r.floodRequests), String(r.flood429), r.loadAverage.join(' ')]),
    ),
  );
}

if (sections.has('cli')) {
  const runs = quick ? 7 : 15;
  const f = await measureCliStartup(runs);
  results['cliStartup'] = f;
  log(`\n6. CLI start-up, whole process (spawn to exit), wall clock, against bare node -e 0 run by run in turn; ${f.compiled ? 'compiled dist/' : 'dist/ stale: sources through tsx'}`);
  log(
    table(
      ['command', 'runs', 'median', 'node -e 0 median', 'ratio (median of pairs)', 'min', 'max'],
      f.rows.map((r) => [r.command, String(r.runs), ms(r.medianMs), ms(r.nodeMedianMs), `${r.ratio.toFixed(2)}×`, `${r.ratioMin.toFixed(2)}×`, `${r.ratioMax.toFixed(2)}×`]),
    ),
  );
}

results['finishedAt'] = new Date().toISOString();
const dir = fileURLToPath(new URL('./results/', import.meta.url));
mkdirSync(dir, { recursive: true });
const file = args.out ?? `${dir}bench-${String(results['startedAt']).replace(/[:.]/g, '-')}.json`;
writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
log(`\nresults: ${file}`);
