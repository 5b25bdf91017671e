/**
 * A real host's record of a scene beside the simulator's, state by state, after `normalize.ts`:
 * every command's exit code and text, every file read, listing, wait and snapshot (field by
 * field: a session's attributes, a disk's, a map's, each udev link, each node record file).
 * A difference is either listed in `EXPLAINED` with its reason, or unexplained — and the suite
 * allows none of those.
 */
import { normalizeObservations, type Comparable } from './normalize.ts';
import type { SceneRecord } from './scenes.ts';

export interface Difference {
  readonly scene: string;
  readonly id: string;
  /** Where in the answer: `stdout`, `code`, `value.sessions[0].attrs.recovery_tmo`, … */
  readonly field: string;
  readonly real: unknown;
  readonly sim: unknown;
  /** The reason from `EXPLAINED`, when the difference is a known and accepted one. */
  readonly explained?: string;
}

/**
 * A difference the suite accepts, with its reason. `scene` and `id` name the states it covers
 * (an exact id, or a RegExp); `field` the part of the answer. Keep it short: each entry is a
 * place where the simulator is knowingly not the real host.
 */
export interface ExplainedDifference {
  readonly scene: string | RegExp;
  readonly id: string | RegExp;
  readonly field: string | RegExp;
  readonly reason: string;
  /**
   * The real host answers this state one way or the other from run to run (a race inside it):
   * the difference may or may not show, and the live check against the fixture allows it too.
   */
  readonly sometimes?: boolean;
}

export interface SceneComparison {
  readonly scene: string;
  /** States compared (observations the real host recorded). */
  readonly states: number;
  readonly differences: readonly Difference[];
}

function matches(p: string | RegExp, s: string): boolean {
  return typeof p === 'string' ? p === s : p.test(s);
}

function diffValues(path: string, a: unknown, b: unknown, out: Array<{ field: string; real: unknown; sim: unknown }>): void {
  if (a === b) return;
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x) => x !== null && typeof x === 'object')) {
    a.forEach((x, i) => diffValues(`${path}[${i}]`, x, b[i], out));
    return;
  }
  if (isObj(a) && isObj(b)) {
    for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])]) {
      const sub = /^[A-Za-z_][\w]*$/.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`;
      if (!(k in b)) out.push({ field: sub, real: a[k], sim: '(absent)' });
      else if (!(k in a)) out.push({ field: sub, real: '(absent)', sim: b[k] });
      else diffValues(sub, a[k], b[k], out);
    }
    return;
  }
  if (JSON.stringify(a) === JSON.stringify(b)) return;
  out.push({ field: path, real: a, sim: b });
}

/** Compare one scene: the real host's record with the simulator's. */
export function compareScene(real: SceneRecord, sim: SceneRecord, explained: readonly ExplainedDifference[] = []): SceneComparison {
  const scene = real.scene;
  const a = normalizeObservations(real.observations);
  const b = new Map<string, Comparable>(normalizeObservations(sim.observations).map((o) => [o.id, o]));
  const differences: Difference[] = [];
  const push = (id: string, field: string, r: unknown, s: unknown): void => {
    const why = explained.find((e) => matches(e.scene, scene) && matches(e.id, id) && matches(e.field, field));
    differences.push({ scene, id, field, real: r, sim: s, ...(why ? { explained: why.reason } : {}) });
  };
  if (real.error !== undefined) push('(scene)', 'error', real.error.split('\n')[0], sim.error?.split('\n')[0] ?? null);
  if (sim.error !== undefined && real.error === undefined) push('(scene)', 'error', null, sim.error.split('\n')[0]);
  for (const o of a) {
    const s = b.get(o.id);
    if (!s) {
      push(o.id, '(state)', o.what, '(not reached)');
      continue;
    }
    if (s.what !== o.what) push(o.id, 'what', o.what, s.what);
    const fields: Array<{ field: string; real: unknown; sim: unknown }> = [];
    diffValues('', o.answer, s.answer, fields);
    for (const f of fields) push(o.id, f.field.replace(/^\./, ''), f.real, f.sim);
  }
  const realIds = new Set(a.map((o) => o.id));
  for (const id of b.keys()) if (!realIds.has(id)) push(id, '(state)', '(not reached)', b.get(id)?.what);
  return { scene, states: a.length, differences };
}

/** Entries of `explained` that no difference used: stale explanations, to be removed. */
export function unusedExplanations(comparisons: readonly SceneComparison[], explained: readonly ExplainedDifference[]): ExplainedDifference[] {
  const used = new Set(comparisons.flatMap((c) => c.differences.map((d) => d.explained)).filter((x): x is string => x !== undefined));
  return explained.filter((e) => !e.sometimes && !used.has(e.reason));
}

/** Two texts of several lines: the lines only one side has (`-` real, `+` simulator), in order. */
function lineDiff(a: string, b: string): string {
  const x = a.split('\n');
  const y = b.split('\n');
  // Longest common subsequence, small texts only.
  const L: number[][] = Array.from({ length: x.length + 1 }, () => new Array<number>(y.length + 1).fill(0));
  for (let i = x.length - 1; i >= 0; i--) for (let j = y.length - 1; j >= 0; j--) L[i]![j] = x[i] === y[j] ? L[i + 1]![j + 1]! + 1 : Math.max(L[i + 1]![j]!, L[i]![j + 1]!);
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    if (i < x.length && j < y.length && x[i] === y[j]) {
      i++;
      j++;
    } else if (j >= y.length || (i < x.length && L[i + 1]![j]! >= L[i]![j + 1]!)) out.push(`    - ${x[i++]}`);
    else out.push(`    + ${y[j++]}`);
  }
  return out.join('\n');
}

/** One entry per difference, for a failing test or a report. */
export function renderDifferences(ds: readonly Difference[]): string {
  const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? 'undefined').slice(0, 400);
  return ds
    .map((d) => {
      const why = d.explained ? `\n    explained: ${d.explained}` : '';
      if (typeof d.real === 'string' && typeof d.sim === 'string' && (d.real.includes('\n') || d.sim.includes('\n')) && d.real.length + d.sim.length < 40_000) {
        return `${d.scene} ${d.id} ${d.field} (- real, + simulator):\n${lineDiff(d.real, d.sim)}${why}`;
      }
      return `${d.scene} ${d.id} ${d.field}:\n    real: ${show(d.real)}\n    sim:  ${show(d.sim)}${why}`;
    })
    .join('\n');
}

/** `N states compared, M unexplained differences` and the table of explained ones. */
export function summary(comparisons: readonly SceneComparison[]): string {
  const states = comparisons.reduce((n, c) => n + c.states, 0);
  const all = comparisons.flatMap((c) => c.differences);
  const unexplained = all.filter((d) => d.explained === undefined);
  const reasons = new Map<string, number>();
  for (const d of all) if (d.explained) reasons.set(d.explained, (reasons.get(d.explained) ?? 0) + 1);
  const table = [...reasons].map(([r, k]) => `  ${String(k).padStart(3)} × ${r}`);
  return [`fidelity: ${states} states compared in ${comparisons.length} scenes, ${unexplained.length} unexplained differences, ${all.length - unexplained.length} explained:`, ...table].join('\n');
}
