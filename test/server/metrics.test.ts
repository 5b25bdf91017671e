/**
 * /metrics tells an SRE what the seed's author had to dig out of logs: the dead portal as a
 * login-failure series (counted when its login fails, minutes after the attach returned), the
 * attach's duration in a real bucket (not +Inf), the operations in flight, and every step that
 * has a duration also counted as started.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCloud, volumeAndServer, type TestCloud } from '../support/cloud.ts';
import { ROOT } from '../cli/support.ts';

const metric = (text: string, name: string, labels: Record<string, string>): number | null => {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    const m = /^(\w+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = (m[2] ?? '').split(',');
    if (want.every((w) => have.includes(w))) return Number(m[3]);
  }
  return null;
};

const labelValues = (text: string, name: string, label: string): Set<string> =>
  new Set([...text.matchAll(new RegExp(`^${name}\\{[^}]*${label}="([^"]+)"`, 'gm'))].map((m) => m[1] as string));

describe('metrics on the seed', () => {
  let t: TestCloud;
  let release: () => void = () => undefined;
  let holdAt: string | null = null;
  let reached: () => void = () => undefined;
  beforeAll(async () => {
    t = await startTestCloud({ scenario: 'seed' }, {
      onStep: async (_op, step) => {
        if (step !== holdAt) return;
        reached();
        await new Promise<void>((r) => (release = r));
      },
    });
  });
  afterAll(async () => {
    release();
    await t?.close();
  });

  it('counts the attach in flight, then the dead portal, the steps and the duration', async () => {
    const { token, volumeId, serverId } = await volumeAndServer(t);
    holdAt = 'hotplug';
    const atHotplug = new Promise<void>((r) => (reached = r));
    const r = await t.api('POST', `/compute/v2.1/servers/${serverId}/os-volume_attachments`, { token, body: { volumeAttachment: { volumeId } } });
    expect(r.status).toBe(200);
    await atHotplug;
    const during = await (await fetch(`${t.url}/metrics`)).text();
    expect(metric(during, 'hitch_operations_in_flight', { kind: 'attach' })).toBe(1);
    holdAt = null;
    release();
    await t.cloud.settle();

    const text = await (await fetch(`${t.url}/metrics`)).text();
    expect(metric(text, 'hitch_operations_in_flight', { kind: 'attach' })).toBe(0);
    // The dead portal's login failed 120 s (virtual) in, long after the attach returned.
    expect(metric(text, 'hitch_iscsi_login_failures_total', { portal: '192.168.1.59:3260', reason: 'timeout' })).toBe(1);
    expect(metric(text, 'hitch_iscsi_login_failures_total', { portal: '192.168.1.60:3260', reason: 'timeout' })).toBeNull();
    // Buckets reach 10 minutes; the attach (7 s virtual) is in the 10 s bucket, not only +Inf.
    expect(metric(text, 'hitch_operation_duration_seconds_bucket', { kind: 'attach', outcome: 'done', le: '600' })).toBe(1);
    expect(metric(text, 'hitch_operation_duration_seconds_bucket', { kind: 'attach', outcome: 'done', le: '10' })).toBe(1);
    expect(metric(text, 'hitch_operation_duration_seconds_bucket', { kind: 'attach', outcome: 'done', le: '5' })).toBe(0);
    // Every step that has a duration was counted when it started, lock and unlock included.
    const timed = labelValues(text, 'hitch_step_duration_seconds_count', 'step');
    const started = labelValues(text, 'hitch_steps_started_total', 'step');
    expect([...timed].sort()).toEqual(expect.arrayContaining(['lock-instance', 'unlock-instance', 'connect-volume', 'hotplug']));
    for (const s of timed) expect(started, s).toContain(s);
  });
});

describe('metrics of a rolled-back attach', () => {
  let t: TestCloud;
  let dir: string;
  beforeAll(async () => {
    // The seed with both portals dead behind a 30 s login timeout: the attach rolls back.
    dir = mkdtempSync(join(tmpdir(), 'hitch-metrics-'));
    const seed = JSON.parse(readFileSync(join(ROOT, 'src/sim/scenarios/seed.json'), 'utf8'));
    for (const p of Object.values(seed.portals) as { state: string; loginTimeoutMs?: number }[]) Object.assign(p, { state: 'dead', loginTimeoutMs: 30_000 });
    writeFileSync(join(dir, 'dead.json'), JSON.stringify(seed));
    t = await startTestCloud({ scenario: join(dir, 'dead.json') });
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('counts each portal’s failed login and the rollback as a step', async () => {
    const { token, volumeId, serverId } = await volumeAndServer(t);
    await t.api('POST', `/compute/v2.1/servers/${serverId}/os-volume_attachments`, { token, body: { volumeAttachment: { volumeId } } });
    await t.cloud.settle();
    const text = await (await fetch(`${t.url}/metrics`)).text();
    expect(metric(text, 'hitch_operations_total', { kind: 'attach', outcome: 'rolled_back' })).toBe(1);
    for (const portal of ['192.168.1.59:3260', '192.168.1.60:3260']) expect(metric(text, 'hitch_iscsi_login_failures_total', { portal, reason: 'timeout' })).toBe(1);
    expect(metric(text, 'hitch_steps_started_total', { kind: 'attach', step: 'rollback' })).toBe(1);
    expect(metric(text, 'hitch_operations_in_flight', { kind: 'attach' })).toBe(0);
  });
});
