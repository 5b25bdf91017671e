import { describe, expect, it } from 'vitest';
import { isHitchError } from '../errors.ts';
import { VirtualClock } from './clock.ts';
import { SeededRandom } from './random.ts';

describe('VirtualClock', () => {
  it('jumps straight to the next timer when everything is idle: 120 s cost no wall time', async () => {
    const clock = new VirtualClock();
    await clock.sleep(120_000);
    expect(clock.now()).toBe(120_000);
  }); // a real 120 s timer would outlive the suite's 60 s test timeout

  it('fires timers in (time, registration) order', async () => {
    const clock = new VirtualClock();
    const seen: string[] = [];
    await Promise.all([
      clock.sleep(30).then(() => seen.push('a30')),
      clock.sleep(10).then(() => seen.push('b10')),
      clock.sleep(30).then(() => seen.push('c30')),
      clock.sleep(0).then(() => seen.push('d0')),
    ]);
    expect(seen).toEqual(['d0', 'b10', 'a30', 'c30']);
    expect(clock.now()).toBe(30);
  });

  it('lets a chain of work finish before time moves', async () => {
    const clock = new VirtualClock();
    const seen: Array<[string, number]> = [];
    const worker = async (): Promise<void> => {
      for (let i = 0; i < 3; i++) {
        await Promise.resolve();
        await clock.sleep(5);
        seen.push(['worker', clock.now()]);
      }
    };
    await Promise.all([worker(), clock.sleep(12).then(() => seen.push(['timer', clock.now()]))]);
    expect(seen).toEqual([
      ['worker', 5],
      ['worker', 10],
      ['timer', 12],
      ['worker', 15],
    ]);
  });

  it('does not advance while held (real I/O in flight), and resumes on release', async () => {
    const clock = new VirtualClock();
    const release = clock.hold();
    let fired = false;
    const p = clock.sleep(1000).then(() => (fired = true));
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(fired).toBe(false);
    expect(clock.now()).toBe(0);
    release();
    await p;
    expect(clock.now()).toBe(1000);
  });

  it('rejects an aborted sleep with HITCH_ABORTED and forgets its timer', async () => {
    const clock = new VirtualClock();
    const ac = new AbortController();
    const p = clock.sleep(50_000, ac.signal);
    ac.abort();
    await expect(p).rejects.toSatisfy((e: unknown) => isHitchError(e, 'HITCH_ABORTED'));
    expect(clock.pendingTimers).toBe(0);
    await expect(clock.sleep(1, AbortSignal.abort())).rejects.toSatisfy((e: unknown) => isHitchError(e, 'HITCH_ABORTED'));
  });

  it('advance() and runUntilIdle() drive a clock without auto-advance', async () => {
    const clock = new VirtualClock({ autoAdvance: false });
    const seen: number[] = [];
    void clock.sleep(100).then(() => seen.push(clock.now()));
    void clock.sleep(300).then(() => seen.push(clock.now()));
    await clock.advance(150);
    expect(seen).toEqual([100]);
    expect(clock.now()).toBe(150);
    await clock.runUntilIdle();
    expect(seen).toEqual([100, 300]);
  });
});

describe('SeededRandom', () => {
  it('repeats for a seed, differs across seeds, and makes NAA WWNs shaped like the seed', () => {
    const a = new SeededRandom(42);
    const b = new SeededRandom(42);
    const c = new SeededRandom(43);
    const wa = a.naaWwn('006016');
    expect(wa).toBe(b.naaWwn('006016'));
    expect(wa).not.toBe(c.naaWwn('006016'));
    expect(wa).toMatch(/^36006016[0-9a-f]{25}$/);
    expect(wa).toHaveLength('36006016074e03a008d3cf25b04e2daae'.length);
  });
});
