/**
 * `hitch explain` on the seed scenario: the waterfall of the nine steps and the diagnosis the
 * seed's author worked out by hand — the dead portal's 120 s login timeout did not hold the
 * attach, which was usable through the healthy portal. Both through a running server and with
 * `hitch scenario run` in memory.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/serve.ts';
import { DEFAULT_NVME_TIMEOUTS } from '../../src/brick/connectors/nvme-tcp.ts';
import { nvmeDataPlaneFloor } from '../../src/sim/latency.ts';
import { Simulation } from '../../src/sim/simulation.ts';
import { cli, ROOT } from './support.ts';

const STEPS = ['reserve', 'lock-instance', 'get-volume', 'connector-properties', 'initialize-connection', 'connect-volume', 'hotplug', 'complete', 'unlock-instance'];
const DEAD_PORTAL = /^ {2}- login to 192\.168\.1\.59:3260 timed out after 120 s \(iscsiadm exit 8\); the volume was usable at (\d+(\.\d)?) s through 192\.168\.1\.60:3260(?:, the attach returned at (\d+(?:\.\d)?) s)?$/m;

describe('hitch explain on the seed scenario (a running server)', () => {
  let srv: RunningServer;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hitch-explain-'));
    srv = await startServer({ dataDir: dir, port: 0, scenario: 'seed', simSpeed: 0, logLevel: 'silent' }, {}, () => undefined);
  });
  afterAll(async () => {
    await srv?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints the waterfall, the critical path and the dead-portal diagnosis', async () => {
    const env = { HITCH_DATA_DIR: dir };
    const attach = await cli(['attach', 'demo-server', 'demo-volume'], env);
    expect(attach.code, attach.err).toBe(0);
    await srv.cloud.settle(); // the dead portal's background login, so its failure is in the trace
    const r = await cli(['explain', 'demo-server', 'demo-volume'], env);
    expect(r.code, r.err).toBe(0);
    const lines = r.out.split('\n');
    expect(lines[0]).toMatch(/^attach [0-9a-f-]{36}: done, volume [0-9a-f-]{36}, server [0-9a-f-]{36}, request req-[0-9a-f-]{36}$/);
    expect(lines[1]).toMatch(/^total [\d.]+ s \(background work went on until 1\d\d s\)$/);
    // The lost redundancy and what to do about it.
    expect(r.out).toContain('  - attached on 1 of 2 paths; 192.168.1.59:3260 unreachable\n');
    expect(r.out).toContain('  - next step: check the network path or the target at 192.168.1.59:3260: every attach to this array will try it\n');
    for (const step of STEPS) expect(lines.some((l) => l.startsWith(`${step} `) || l.startsWith(`${step}  `)), step).toBe(true);
    expect(lines.find((l) => l.includes('connect_path 192.168.1.59:3260'))).toMatch(/FAILED {2}\(background\)$/);
    const usable = Number(DEAD_PORTAL.exec(r.out)?.[1]);
    // Usable at the healthy path's time, far below Nova's 254 s and the 120 s timeout.
    expect(usable).toBeGreaterThan(0);
    expect(usable).toBeLessThan(120);
    expect(r.out).toContain('critical path:\n');
    // The block storage call broken down: its 7 s are the array's export (run in process).
    expect(lines.find((l) => l.startsWith('    backend sim export '))).toMatch(/ 7\.0 s$/);
    expect(r.out).toMatch(/^ {2}- the storage API call PUT \/v3\/attachments\/\{id\} took 7\.0 s of [\d.]+ s \(\d+%\), of which the sim backend's export 7\.0 s$/m);

    // The same report as JSON, and by operation id.
    const j = JSON.parse((await cli(['explain', 'demo-server', 'demo-volume', '--json'], env)).out);
    expect(j.report.diagnosis[0]).toBe(DEAD_PORTAL.exec(r.out)?.[0].slice(4));
    const byId = await cli(['explain', j.operation.id, '--depth', '0'], env);
    expect(byId.code).toBe(0);
    expect(byId.out).not.toContain('connect_path');
    expect(byId.out).toMatch(DEAD_PORTAL);
  });

  it('explains the detach that follows with no background line, however long after it is asked', async () => {
    const env = { HITCH_DATA_DIR: dir };
    const d = await cli(['detach', 'demo-server', 'demo-volume'], env);
    expect(d.code, d.err).toBe(0);
    await srv.cloud.settle();
    // Virtual time runs on (a reap pass, the next request…): asked later, the total stays the detach's.
    await srv.cloud.sim?.clock.advance(300_000);
    const r = await cli(['explain', 'demo-server', 'demo-volume'], env);
    expect(r.code, r.err).toBe(0);
    const lines = r.out.split('\n');
    expect(lines[0]).toMatch(/^detach [0-9a-f-]{36}: done, /);
    expect(lines[1]).toMatch(/^total [\d.]+ m?s$/);
    expect(r.out).not.toContain('background');
    const j = JSON.parse((await cli(['explain', 'demo-server', 'demo-volume', '--json'], env)).out);
    expect(j.report.background).toEqual({ state: 'none' });
    expect(j.report.totalMs).toBeLessThan(60_000);
  });
});

describe('hitch scenario run', () => {
  it('runs the seed in memory and prints the same diagnosis, the same way every time', async () => {
    const a = await cli(['scenario', 'run', 'seed']);
    expect(a.code, a.err).toBe(0);
    expect(a.out.split('\n')[0]).toBe('scenario seed, seed 1: attach done');
    expect(a.out).toMatch(DEAD_PORTAL);
    // Virtual time and a seeded simulation: byte for byte the same (ids and WWNs aside).
    const b = await cli(['scenario', 'run', 'seed']);
    const norm = (s: string) => s.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, 'ID').replace(/iqn\.2010-10\.…\w+/g, 'IQN').replace(/volume-[0-9a-f-]+/g, 'volume-X').replace(/-v [0-9a-f]{20}/g, '-v USER');
    expect(norm(b.out)).toBe(norm(a.out));
  });

  it('lists scenarios, reports JSON, and refuses an unknown one with its code', async () => {
    const list = await cli(['scenario', 'list', '--json']);
    expect(JSON.parse(list.out).map((s: { name: string }) => s.name)).toEqual(expect.arrayContaining(['seed', 'healthy-multipath', 'map-never', 'slow-udev', 'eight-portals-three-dead']));
    const j = await cli(['scenario', 'run', 'healthy-single', '--json']);
    expect(j.code, j.err).toBe(0);
    const parsed = JSON.parse(j.out);
    expect(parsed.operation.state).toBe('done');
    expect(parsed.report.rows.filter((r: { depth: number }) => r.depth === 0).map((r: { name: string }) => r.name)).toEqual(STEPS);
    const bad = await cli(['scenario', 'run', 'no-such-scenario']);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/^hitch: HITCH_SIM_UNKNOWN_SCENARIO: Unknown scenario "no-such-scenario"; known scenarios: .*seed/);
  });

  it('explains the other scenarios in words', async () => {
    const eight = await cli(['scenario', 'run', 'eight-portals-three-dead', '--depth', '0']);
    expect(eight.code, eight.err).toBe(0);
    expect(eight.out.match(/^ {2}- login to \S+ timed out after/gm)?.length).toBe(3);
    const slow = await cli(['scenario', 'run', 'slow-udev', '--depth', '0']);
    expect(slow.code, slow.err).toBe(0);
    expect(slow.out).toMatch(/the device took [\d.]+ m?s to appear at \/dev\/disk\/by-path\/ip-/);
    const noMap = await cli(['scenario', 'run', 'map-never', '--depth', '0']);
    expect(noMap.code, noMap.err).toBe(0);
    expect(noMap.out).toMatch(/^ {2}- multipathd did not create a map for WWN 3[0-9a-f]+.*; fell back to single path \/dev\/disk\/by-path\/ip-/m);
  });

  it('nvme-dead-portal: the NVMe/TCP attach returns at the healthy floor; the dead portal\'s probe runs on in the background, and it gets no nvme connect', async () => {
    const r = await cli(['scenario', 'run', 'nvme-dead-portal', '--json']);
    expect(r.code, r.err).toBe(0);
    const { operation, report } = JSON.parse(r.out);
    expect(operation.state).toBe('done');
    const sim = Simulation.create('nvme-dead-portal');
    const floor = nvmeDataPlaneFloor({ latency: sim.latency, portals: ['192.168.1.59:4420', '192.168.1.60:4420'].map((p) => ({ kind: sim.network.get(p).kind })) });
    const rows = report.rows as Array<{ name: string; durationMs: number; background: boolean; label: string; outcome: string }>;
    const connect = rows.find((x) => x.name === 'connect_volume');
    expect(connect?.durationMs).toBeGreaterThanOrEqual(floor.pathMs);
    expect(connect?.durationMs).toBeLessThanOrEqual(floor.pathMs + 10);
    // The dropped portal is probed (in the background: it never answers) and gets no nvme connect,
    // so it never holds the kernel's controller-creation lock.
    const dead = rows.find((x) => x.label === 'probe tcp 192.168.1.59:4420');
    expect(dead).toMatchObject({ background: true });
    expect(dead?.durationMs).toBeGreaterThanOrEqual(DEFAULT_NVME_TIMEOUTS.nvmeProbeMs);
    expect(rows.filter((x) => x.label.includes('nvme connect') && x.label.includes('192.168.1.59'))).toEqual([]);
  });

  it('a failed attach prints its waterfall and diagnosis, then one coded error line', async () => {
    // The seed with its healthy portal dead too: nothing to log in to.
    const dir = mkdtempSync(join(tmpdir(), 'hitch-all-dead-'));
    try {
      const sc = JSON.parse(readFileSync(join(ROOT, 'src/sim/scenarios/seed.json'), 'utf8'));
      sc.name = 'all-dead';
      sc.portals['192.168.1.60:3260'] = { state: 'dead', loginTimeoutMs: 120000 };
      writeFileSync(join(dir, 'all-dead.json'), JSON.stringify(sc));
      const r = await cli(['scenario', 'run', join(dir, 'all-dead.json'), '--depth', '0']);
      expect(r.code).toBe(1);
      expect(r.out).toMatch(/^connect-volume +\| *x+\| .*FAILED$/m);
      expect(r.out).toContain('  - login to 192.168.1.60:3260 timed out after 120 s (iscsiadm exit 8)\n');
      expect(r.out).toMatch(/^ {2}- rolled back: release-volume, bdm\.destroy$/m);
      expect(r.err.split('\n')).toHaveLength(1);
      expect(r.err).toMatch(/^hitch: HITCH_ISCSI_LOGIN_FAILED: attach rolled back at step connect-volume: Could not log in to any iSCSI portal/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
