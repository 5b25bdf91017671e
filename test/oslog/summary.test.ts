/**
 * The summary mode — `hitch explain --log FILE` with no filter, as an operator first runs it — on
 * every sample: one row per attach and detach, slowest first, each with the volume, server,
 * duration and outcome that a reader of the lines finds (`facts.ts`). The text table shows the
 * duration rounded as everywhere in Hitch; `--json` carries it to the millisecond.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatMs } from '../../src/trace/explain.ts';
import { cli } from '../cli/support.ts';
import { GUEST_RECORDINGS, PUBLIC_FACTS, SAMPLES, guestFacts, type Fact } from './facts.ts';

const SAMPLE_FACTS: [string, readonly Fact[]][] = [...Object.entries(PUBLIC_FACTS), ...GUEST_RECORDINGS.map((n): [string, readonly Fact[]] => [`guest/${n}.txt`, guestFacts(n)])];

/** Slowest first; equal durations in the log's order (the facts are listed in it). */
const slowestFirst = (fs: readonly Fact[]): Fact[] => [...fs].sort((a, b) => b.durationMs - a.durationMs);
const pick = (f: Fact): Fact => ({ kind: f.kind, volume: f.volume, server: f.server, outcome: f.outcome, durationMs: f.durationMs });

/** The table's rows: DURATION KIND OUTCOME VOLUME SERVER START REQUEST, columns two spaces apart. */
function rows(out: string): string[][] {
  const lines = out.split('\n');
  const head = lines.findIndex((l) => /^DURATION +KIND +OUTCOME +VOLUME +SERVER +START +REQUEST$/.test(l));
  expect(head, out).toBeGreaterThan(0);
  const end = lines.indexOf('', head);
  return lines.slice(head + 1, end).map((l) => l.trim().split(/\s{2,}/));
}

describe('hitch explain --log, summary mode, on every sample', () => {
  it.each(SAMPLE_FACTS)('%s: each attach and detach with its volume, server, duration and outcome', async (file, facts) => {
    const path = join(SAMPLES, file);
    const text = await cli(['explain', '--log', path]);
    expect(text.code, text.err).toBe(0);
    expect(text.out.split('\n')[0]).toMatch(new RegExp(`^${facts.length} (attach or detach|attaches and detaches) in `));
    expect(rows(text.out).map((r) => r.slice(0, 5))).toEqual(slowestFirst(facts).map((f) => [formatMs(f.durationMs), f.kind, f.outcome, f.volume ?? '-', f.server ?? '-']));

    const json = await cli(['explain', '--log', path, '--json']);
    expect(json.code, json.err).toBe(0);
    const ops = (JSON.parse(json.out) as { operations: Fact[] }).operations;
    expect(ops.map(pick)).toEqual(slowestFirst(facts).map(pick));
  });

  it('all samples at once: the same rows, merged slowest first, none lost or joined across files', async () => {
    const all = SAMPLE_FACTS.flatMap(([, f]) => f);
    const r = await cli(['explain', '--log', ...SAMPLE_FACTS.map(([f]) => join(SAMPLES, f)), '--json']);
    expect(r.code, r.err).toBe(0);
    const ops = (JSON.parse(r.out) as { operations: (Fact & { sources: string[] })[] }).operations;
    expect(ops).toHaveLength(all.length);
    expect(ops.every((o) => o.sources.length === 1)).toBe(true);
    const key = (f: Fact): string => `${f.kind} ${f.volume} ${f.server} ${f.outcome} ${f.durationMs}`;
    expect(ops.map((o) => key(o)).sort()).toEqual(all.map(key).sort());
    expect(ops.map((o) => o.durationMs)).toEqual([...ops.map((o) => o.durationMs)].sort((a, b) => b - a));
  });
});
