/**
 * `hitch explain` sets each step beside its recent normal: p50 and p95 over the earlier done
 * operations of the same kind on the same backend, from the operation history. Checked against
 * the history itself: the figures are recomputed here from each earlier operation's trace.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/serve.ts';
import { cli } from './support.ts';


describe('hitch explain: the recent normal', () => {
  let srv: RunningServer;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hitch-normal-'));
    srv = await startServer({ dataDir: dir, port: 0, scenario: 'healthy-multipath', simSpeed: 0, logLevel: 'silent' }, {}, () => undefined);
    env = { HITCH_DATA_DIR: dir };
  });
  afterAll(async () => {
    await srv?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('has nothing to compare the first attach with, and says so', async () => {
    expect((await cli(['attach', 'demo-server', 'demo-volume'], env)).code).toBe(0);
    const r = await cli(['explain', 'demo-server', 'demo-volume'], env);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^recent normal: no earlier done attach on \S+ to compare with$/m);
    expect((await cli(['detach', 'demo-server', 'demo-volume'], env)).code).toBe(0);
  });

  it('gives p50 and p95 of every step over the earlier attaches on the same backend', async () => {
    for (let i = 0; i < 5; i++) {
      expect((await cli(['attach', 'demo-server', 'demo-volume'], env)).code).toBe(0);
      expect((await cli(['detach', 'demo-server', 'demo-volume'], env)).code).toBe(0);
    }
    expect((await cli(['attach', 'demo-server', 'demo-volume'], env)).code).toBe(0);
    const j = JSON.parse((await cli(['explain', 'demo-server', 'demo-volume', '--kind', 'attach', '--json'], env)).out);
    expect(j.normal).toMatchObject({ kind: 'attach', sample: 6, backend: expect.stringMatching(/\S/) });

    // The same figures from the history, by hand: nearest-rank percentiles of each earlier attach's step.
    const hist = JSON.parse((await cli(['operations', 'list', '--kind', 'attach', '--status', 'done', '--json'], env)).out) as { operations: { id: string }[] };
    const earlier = hist.operations.filter((o) => o.id !== j.operation.id);
    expect(earlier).toHaveLength(6);
    const durations = new Map<string, number[]>();
    for (const o of earlier) {
      const spans = (JSON.parse((await cli(['explain', o.id, '--json'], env)).out) as { report: { rows: { name: string; depth: number; durationMs: number; outcome: string }[] } }).report.rows;
      for (const s of spans.filter((x) => x.depth === 0 && x.outcome === 'ok')) durations.set(s.name, [...(durations.get(s.name) ?? []), s.durationMs]);
    }
    const rank = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.max(1, Math.ceil((p / 100) * xs.length)) - 1];
    const steps = j.normal.steps as { step: string; n: number; p50Ms: number; p95Ms: number }[];
    expect(steps.map((s) => s.step)).toEqual(expect.arrayContaining(['reserve', 'initialize-connection', 'connect-volume', 'hotplug', 'complete']));
    for (const s of steps) {
      const xs = durations.get(s.step) ?? [];
      expect({ step: s.step, n: s.n, p50: s.p50Ms, p95: s.p95Ms }).toEqual({ step: s.step, n: xs.length, p50: rank(xs, 50), p95: rank(xs, 95) });
    }
    // The connect takes real (virtual) time: its normal is not zero.
    expect(steps.find((s) => s.step === 'connect-volume')?.p50Ms).toBeGreaterThan(0);

    const r = await cli(['explain', 'demo-server', 'demo-volume'], env);
    expect(r.out).toMatch(new RegExp(`^recent normal: the last 6 done attaches on ${j.normal.backend.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(p50, p95 from the operation history\\)$`, 'm'));
    expect(r.out).toMatch(/^ {2}connect-volume +\S+ m?s +\S+ m?s +\S+ m?s +6$/m);

    // A detach is compared with detaches.
    expect((await cli(['detach', 'demo-server', 'demo-volume'], env)).code).toBe(0);
    const d = JSON.parse((await cli(['explain', 'demo-server', 'demo-volume', '--json'], env)).out);
    expect(d.normal).toMatchObject({ kind: 'detach', sample: 6 });
    expect((d.normal.steps as { step: string }[]).map((s) => s.step)).toContain('disconnect-volume');
  });
});
