/**
 * `explain` on traces shaped like the real ones (names and attributes as compute and brick
 * record them): the seed's dead portal, a missing multipath map, a slow storage call, a
 * hypervisor refusal, a failed step, a running operation — and the critical path walk.
 */
import { describe, expect, it } from 'vitest';
import { explain, formatMs, renderExplain } from './explain.ts';
import type { SpanRecord } from './span.ts';

let nextId = 1;
function span(name: string, startMs: number, endMs: number | null, parentId: number | null = null, attrs: SpanRecord['attrs'] = {}, error?: SpanRecord['error']): SpanRecord {
  return { id: nextId++, parentId, name, startMs, endMs, outcome: endMs === null ? 'running' : error ? 'error' : 'ok', attrs, ...(error ? { error } : {}) };
}

/** The seed: .59 dead (120 s login timeout, exit 8), .60 healthy; the connect returns at the healthy path. */
function seedTrace(): SpanRecord[] {
  nextId = 1;
  const t = 1000;
  const spans: SpanRecord[] = [];
  const add = (s: SpanRecord) => (spans.push(s), s);
  add(span('reserve', t, t, null, { step: 1, device: '/dev/vdb' }));
  add(span('lock-instance', t, t));
  add(span('get-volume', t, t));
  add(span('connector-properties', t, t + 10));
  const init = add(span('initialize-connection', t + 10, t + 7010));
  add(span('block-storage PUT /v3/attachments/{id}', t + 10, t + 7010, init.id, { method: 'PUT', url: '/v3/attachments/x' }));
  const conn = add(span('connect-volume', t + 7010, t + 7230, null, { path: '/dev/disk/by-id/dm-uuid-mpath-36006016' }));
  const cv = add(span('connect_volume', t + 7010, t + 7230, conn.id));
  const dead = add(span('connect_path', t + 7010, t + 127055, cv.id, { portal: '192.168.1.59:3260', iqn: 'iqn.a0', lun: 192 }, { code: 'HITCH_ISCSI_LOGIN_TIMEOUT', message: 'iSCSI login to 192.168.1.59:3260 timed out after 120 s (iscsiadm exit 8)' }));
  add(span('exec iscsiadm', t + 7045, t + 127050, dead.id, { command: 'iscsiadm -m node -T iqn.a0 -p 192.168.1.59:3260 --login', exitCode: 8 }, { code: 'HITCH_EXEC_FAILED', message: 'exit code 8' }));
  const ok = add(span('connect_path', t + 7010, t + 7215, cv.id, { portal: '192.168.1.60:3260', iqn: 'iqn.b0', lun: 192 }));
  add(span('exec iscsiadm', t + 7045, t + 7090, ok.id, { command: 'iscsiadm -m node -T iqn.b0 -p 192.168.1.60:3260 --login', exitCode: 0 }));
  add(span('wait device', t + 7110, t + 7210, ok.id, { path: '/dev/disk/by-path/ip-192.168.1.60:3260-iscsi-iqn.b0-lun-192' }));
  add(span('log', t + 7215, t + 7215, cv.id, { level: 'info', message: 'connect_volume: return' }));
  add(span('find_device', t + 7215, t + 7230, cv.id));
  const hp = add(span('hotplug', t + 7230, t + 7265));
  add(span('virt.attach_disk', t + 7230, t + 7265, hp.id, { target: 'vdb' }));
  add(span('complete', t + 7265, t + 7265));
  add(span('unlock-instance', t + 7265, t + 7265));
  return spans;
}

/** A detach that ran 220 ms, every span ended before its last step. */
function detachTrace(): SpanRecord[] {
  nextId = 1;
  const spans = [span('begin-detaching', 0, 5), span('lock-instance', 5, 5), span('unplug', 5, 150), span('disconnect-volume', 150, 200), span('detach-volume', 200, 220), span('unlock-instance', 220, 220)];
  return spans;
}

describe('explain', () => {
  it('shows no background line for a detach that left no background work, however late it is asked', () => {
    const r = explain(detachTrace(), 204_000);
    expect(r.totalMs).toBe(220);
    expect(r.background).toEqual({ state: 'none' });
    expect(r.spanMs).toBe(220);
    expect(renderExplain(r).split('\n')[0]).toBe('total 220 ms');
  });

  it('says background work is still running, without a made-up end', () => {
    const spans = seedTrace().map((s) => (s.name === 'connect_path' && s.attrs['portal'] === '192.168.1.59:3260' ? { ...s, endMs: null, outcome: 'running' as const, error: undefined } : s));
    const r = explain(spans.map(({ error, ...s }) => (error ? { ...s, error } : s)), 60_000);
    expect(r.background).toEqual({ state: 'running' });
    expect(renderExplain(r).split('\n')[0]).toBe('total 7.3 s (background work still running)');
    expect(r.diagnosis).toContain('attached on 1 of 2 paths; 192.168.1.59:3260 not answering');
  });

  it('names the seed’s dead portal, when the volume was usable and through which portal', () => {
    const r = explain(seedTrace());
    expect(r.diagnosis[0]).toBe('login to 192.168.1.59:3260 timed out after 120 s (iscsiadm exit 8); the volume was usable at 7.2 s through 192.168.1.60:3260');
    expect(r.diagnosis).toContain('192.168.1.59:3260 was left to fail in the background: it did not hold the attach');
    expect(r.diagnosis).toContain('the storage API call PUT /v3/attachments/{id} took 7.0 s of 7.3 s (96%)');
  });

  it('breaks the storage call down into the backend’s export when it ran in process', () => {
    const spans = seedTrace();
    const call = spans.find((s) => s.name.startsWith('block-storage PUT'));
    spans.push(span('backend sim export', 1010, 7990, call?.id ?? null, { backend: 'sim', backend_host: 'hitch@sim#pool' }));
    const r = explain(spans);
    expect(r.diagnosis).toContain("the storage API call PUT /v3/attachments/{id} took 7.0 s of 7.3 s (96%), of which the sim backend's export 7.0 s");
    expect(r.rows.find((x) => x.name === 'backend sim export')).toMatchObject({ depth: 2, durationMs: 6980 });
  });

  it('says the redundancy the dead portal cost, and what to check', () => {
    const r = explain(seedTrace());
    expect(r.diagnosis).toContain('attached on 1 of 2 paths; 192.168.1.59:3260 unreachable');
    expect(r.diagnosis).toContain('next step: check the network path or the target at 192.168.1.59:3260: every attach to this array will try it');
  });

  it('ends the operation at its last step: background work is marked, not counted, and ends when its last span did', () => {
    const r = explain(seedTrace());
    expect(r.totalMs).toBe(7265);
    expect(r.spanMs).toBe(127055);
    expect(r.background).toEqual({ state: 'ended', endMs: 127055 });
    // Asked again much later, the same answer: the trace's times, not the reader's clock.
    expect(explain(seedTrace(), 900_000)).toEqual(r);
    expect(renderExplain(r).split('\n')[0]).toBe('total 7.3 s (background work went on until 127 s)');
    const dead = r.rows.find((x) => x.label === 'connect_path 192.168.1.59:3260');
    expect(dead).toMatchObject({ background: true, critical: false, outcome: 'error', depth: 2 });
    expect(r.rows.some((x) => x.name === 'log')).toBe(false);
  });

  it('walks the critical path back through the healthy portal, not the dead one', () => {
    const r = explain(seedTrace());
    const crit = r.rows.filter((x) => x.critical).map((x) => x.label);
    expect(crit).toEqual(expect.arrayContaining(['initialize-connection', 'connect_path 192.168.1.60:3260', 'wait device /dev/disk/by-path/ip-192.168.1.60:3260-iscsi-iqn.b0-lun-192', 'find_device', 'hotplug']));
    expect(crit).not.toContain('connect_path 192.168.1.59:3260');
    // The login gated the device wait: both are on the path, in order.
    const ok = r.rows.filter((x) => x.parentId === r.rows.find((y) => y.label === 'connect_path 192.168.1.60:3260')?.id);
    expect(ok.map((x) => x.critical)).toEqual([true, true]);
  });

  it('reports a missing multipath map and the single-path fallback', () => {
    nextId = 1;
    const conn = span('connect-volume', 0, 7000, null, { path: '/dev/disk/by-path/ip-192.168.1.60:3260-iscsi-iqn.b0-lun-192' });
    const fd = span('find_device', 100, 6100, conn.id);
    const spans = [
      conn,
      fd,
      span('wait multipath', 100, 6100, fd.id, { path: '/dev/disk/by-id/dm-uuid-mpath-36006016074e03a008d3cf25b04e2daae', found: false }),
      span('connect_volume', 0, 7000, conn.id, { scsi_wwn: '36006016074e03a008d3cf25b04e2daae' }),
    ];
    expect(explain(spans).diagnosis[0]).toBe(
      'multipathd did not create a map for WWN 36006016074e03a008d3cf25b04e2daae (waited 6.0 s); fell back to single path /dev/disk/by-path/ip-192.168.1.60:3260-iscsi-iqn.b0-lun-192',
    );
  });

  it('reports a hypervisor refusal and a failed step', () => {
    nextId = 1;
    const hp = span('hotplug', 0, 30, null, {}, { code: 'HITCH_HYPERVISOR_ERROR', message: 'Hypervisor error: target vdb already exists' });
    expect(explain([span('reserve', 0, 0), hp]).diagnosis).toEqual(['the hypervisor refused the disk: Hypervisor error: target vdb already exists']);
    nextId = 1;
    const r = explain([span('reserve', 0, 5), span('get-volume', 5, 9, null, {}, { code: 'HITCH_NOT_FOUND', message: 'Volume x could not be found.' })]);
    expect(r.diagnosis).toEqual(['step get-volume failed: HITCH_NOT_FOUND: Volume x could not be found.']);
  });

  it('sizes a running operation to now and says it is running', () => {
    nextId = 1;
    const conn = span('connect-volume', 100, null);
    const r = explain([span('reserve', 0, 100), conn, span('connect_path', 100, null, conn.id, { portal: '10.0.0.1:3260' })], 12_100);
    expect(r.totalMs).toBe(12_100);
    expect(r.rows.find((x) => x.name === 'connect_path')?.durationMs).toBeNull();
    expect(r.diagnosis).toContain('the operation is still running');
  });

  it('names a login still hanging when the attach ended without it', () => {
    const hanging = (s: SpanRecord) => s.attrs['portal'] === '192.168.1.59:3260' || String(s.attrs['command'] ?? '').includes('192.168.1.59:3260');
    const spans = seedTrace().map((s) => (hanging(s) ? { ...s, endMs: null, outcome: 'running' as const } : s));
    expect(explain(spans, 1000 + 19_010).diagnosis[0]).toBe('login to 192.168.1.59:3260 had not answered after 12 s; the attach went on without it (usable at 7.2 s through 192.168.1.60:3260)');
  });

  it('without a fault names the step that took the most time', () => {
    nextId = 1;
    expect(explain([span('reserve', 0, 10), span('initialize-connection', 10, 510), span('connect-volume', 510, 730)]).diagnosis).toEqual([
      'no fault seen; initialize-connection took the most time: 500 ms of 730 ms (68%)',
    ]);
  });

  it('survives empty and truncated traces', () => {
    expect(explain([]).diagnosis).toEqual(['no spans recorded']);
    nextId = 1;
    const orphan = span('connect_path', 5, 10, 99, { portal: 'p' });
    const r = explain([span('reserve', 0, 10), orphan]);
    expect(r.rows.map((x) => x.name)).toEqual(['reserve', 'connect_path']);
  });

  it('renders a text Gantt scaled to the operation, background work cut with >', () => {
    const text = renderExplain(explain(seedTrace()), { width: 40, maxDepth: 2 });
    const lines = text.split('\n');
    expect(lines[0]).toBe('total 7.3 s (background work went on until 127 s)');
    const dead = lines.find((l) => l.includes('connect_path 192.168.1.59:3260'));
    expect(dead).toMatch(/x>\| +\+7\.0 s +120 s {2}FAILED {2}\(background\)$/);
    const init = lines.find((l) => l.startsWith('initialize-connection'));
    expect(init).toMatch(/\|#{39} \| +\+10 ms +7\.0 s$/);
    expect(text).toContain('diagnosis:\n  - login to 192.168.1.59:3260 timed out after 120 s');
    for (const step of ['reserve', 'lock-instance', 'get-volume', 'connector-properties', 'initialize-connection', 'connect-volume', 'hotplug', 'complete', 'unlock-instance']) {
      expect(lines.some((l) => l.startsWith(step))).toBe(true);
    }
  });

  it('formats durations as a person reads them', () => {
    expect([formatMs(0), formatMs(850), formatMs(7230), formatMs(120_005)]).toEqual(['0 ms', '850 ms', '7.2 s', '120 s']);
  });
});
