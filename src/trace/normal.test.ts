/** The recent normal of steps (p50, p95 by nearest rank), the backend a trace names, and a step above its p95. */
import { describe, expect, it } from 'vitest';
import { formatMs } from './explain.ts';
import { againstNormal, backendOf, nearestRank, recentNormal, renderNormal } from './normal.ts';
import type { SpanRecord } from './span.ts';

let id = 1;
const step = (name: string, start: number, end: number, attrs: SpanRecord['attrs'] = {}, parentId: number | null = null): SpanRecord => ({ id: id++, parentId, name, startMs: start, endMs: end, outcome: 'ok', attrs });

/** An attach whose connect took `connectMs`, on backend `host`. */
function attach(connectMs: number, host = 'hitch@sim#array-1'): SpanRecord[] {
  const init = step('initialize-connection', 0, 100);
  return [step('reserve', 0, 0), init, step('backend sim export', 0, 100, { backend: 'sim', backend_host: host }, init.id), step('connect-volume', 100, 100 + connectMs)];
}

describe('recent normal', () => {
  it('takes nearest-rank percentiles of each step over earlier traces', () => {
    expect(nearestRank([5, 1, 4, 2, 3], 50)).toBe(3);
    expect(nearestRank([5, 1, 4, 2, 3], 95)).toBe(5);
    const n = recentNormal('attach', 'hitch@sim#array-1', [1000, 1100, 1200, 1300, 5000].map((ms) => attach(ms)));
    expect(n.sample).toBe(5);
    expect(n.steps.find((s) => s.step === 'connect-volume')).toEqual({ step: 'connect-volume', n: 5, p50Ms: 1200, p95Ms: 5000 });
    expect(n.steps.find((s) => s.step === 'initialize-connection')).toEqual({ step: 'initialize-connection', n: 5, p50Ms: 100, p95Ms: 100 });
  });

  it('names the backend from the trace: the backend host, else the protocol', () => {
    expect(backendOf(attach(1))).toBe('hitch@sim#array-1');
    expect(backendOf([step('initialize-connection', 0, 1, { driver_volume_type: 'iscsi' })])).toBe('iscsi');
    expect(backendOf([step('reserve', 0, 0)])).toBeNull();
  });

  it('says which step ran past its p95, only with enough history', () => {
    const normal = recentNormal('attach', 'hitch@sim#array-1', [1000, 1100, 1200, 1300, 1250].map((ms) => attach(ms)));
    expect(againstNormal(attach(4000), normal, formatMs)).toEqual(['connect-volume took 4.0 s, above its recent p95 of 1.3 s (p50 1.2 s; the last 5 attaches on hitch@sim#array-1)']);
    expect(againstNormal(attach(1200), normal, formatMs)).toEqual([]);
    const few = recentNormal('attach', 'hitch@sim#array-1', [1000, 1100].map((ms) => attach(ms)));
    expect(againstNormal(attach(4000), few, formatMs)).toEqual([]);
    const table = renderNormal(attach(4000), normal, formatMs).split('\n');
    expect(table[0]).toBe('recent normal: the last 5 done attaches on hitch@sim#array-1 (p50, p95 from the operation history)');
    expect(table.find((l) => l.includes('connect-volume'))).toMatch(/^ {2}connect-volume +4\.0 s +1\.2 s +1\.3 s +5 +above p95$/);
    expect(renderNormal(attach(4000), recentNormal('attach', null, []), formatMs)).toBe('recent normal: no earlier done attach on this backend to compare with');
  });
});
