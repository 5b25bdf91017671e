/**
 * The layer rule, checked on every import under src/: a folder imports only folders below it
 * (or beside it, when no cycle results), `ports/` imports nothing and holds types only, and no
 * production module reaches a test helper. The order is LAYERS below; README.md's "Layout"
 * line and each folder's README say the same, and this test holds them to it.
 *
 * Imports are read with TypeScript's own pre-processor (static, `export … from`, dynamic
 * `import()`), so a string in a comment is not an import and a dynamic one is not missed.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const SRC = join(ROOT, 'src');

/**
 * Bottom to top. A module may import from its own level or any level below; same-level imports
 * must not form a cycle between folders. `errors` is `src/errors.ts`, the one catalog.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['ports'],
  ['errors'],
  ['host'],
  ['trace', 'db', 'http'],
  ['virt', 'brick'],
  ['identity', 'compute', 'volume'],
  ['sim'],
  ['server'],
  ['cli', 'fuzz', 'test-support'],
];

const rank = new Map(LAYERS.flatMap((level, i) => level.map((f) => [f, i] as const)));

/** `src/<folder>/…` → folder; `src/errors.ts` → `errors`. */
function unitOf(file: string): string {
  const rel = relative(SRC, file).split('/');
  return rel.length === 1 ? (rel[0] ?? '').replace(/\.ts$/, '') : (rel[0] ?? '');
}

/** Tests, suites shared by tests, and their helpers: they may import anything, and nothing else may import them. */
function isTestCode(file: string): boolean {
  const rel = relative(SRC, file);
  return /\.(test|suite|conformance|test-helpers)\.ts$/.test(rel) || rel.split('/').includes('testing') || rel.startsWith('test-support/');
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

interface Edge {
  readonly from: string;
  readonly to: string;
}

function importsOf(file: string): Edge[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return info.importedFiles
    .map((f) => f.fileName)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => ({ from: file, to: resolve(dirname(file), spec) }));
}

const files = sourceFiles(SRC);
const edges = files.flatMap(importsOf).filter((e) => e.to.startsWith(`${SRC}/`));
const production = edges.filter((e) => !isTestCode(e.from));
const show = (e: Edge): string => `${relative(ROOT, e.from)} → ${relative(ROOT, e.to)}`;

/** Folder-level cycles among production imports (Tarjan's strongly connected components). */
function folderCycles(list: readonly Edge[]): string[][] {
  const graph = new Map<string, Set<string>>();
  for (const e of list) {
    const [a, b] = [unitOf(e.from), unitOf(e.to)];
    if (a === b) continue;
    if (!graph.has(a)) graph.set(a, new Set());
    graph.get(a)?.add(b);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string | undefined;
      do {
        w = stack.pop();
        if (w !== undefined) {
          on.delete(w);
          scc.push(w);
        }
      } while (w !== undefined && w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

describe('layers', () => {
  it('every folder of src/ has a place in the order', () => {
    const units = [...new Set(files.map(unitOf))].filter((u) => !u.endsWith('.test'));
    expect(units.filter((u) => !rank.has(u)).sort()).toEqual([]);
  });

  it('no production module imports a folder above its own', () => {
    const upward = production.filter((e) => (rank.get(unitOf(e.to)) ?? Infinity) > (rank.get(unitOf(e.from)) ?? -1));
    expect(upward.map(show)).toEqual([]);
  });

  it('no cycle between folders', () => {
    expect(folderCycles(production)).toEqual([]);
  });

  it('ports/ imports nothing outside itself and holds only types', () => {
    const portFiles = files.filter((f) => unitOf(f) === 'ports' && !isTestCode(f));
    expect(edges.filter((e) => unitOf(e.from) === 'ports' && unitOf(e.to) !== 'ports').map(show)).toEqual([]);
    // Types only: after TypeScript strips the types, nothing is left that runs.
    const runnable = portFiles.filter((f) => {
      const js = ts.transpileModule(readFileSync(f, 'utf8'), { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false } }).outputText;
      return js.replace(/\/\/[^\n]*|\/\*[\s\S]*?\*\//g, '').replace(/export\s*\{\s*\};?/g, '').trim() !== '';
    });
    expect(runnable.map((f) => relative(ROOT, f))).toEqual([]);
  });

  it('no production module imports test code', () => {
    expect(production.filter((e) => isTestCode(e.to)).map(show)).toEqual([]);
  });

  it('README.md lists the layers in this order', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const line = /Layers point down only:\n(.+)$/m.exec(readme)?.[1] ?? '';
    const levels = line.split('→').map((l) => l.replace(/`/g, '').trim().split(/\s+/).map((u) => u.replace(/\/$/, '').replace(/\.ts$/, '')));
    expect(levels.reverse()).toEqual(LAYERS.map((l) => [...l]));
  });

  it('the check sees an upward import and a cycle (it is not vacuous)', () => {
    const fake = (from: string, to: string): Edge => ({ from: join(SRC, from), to: join(SRC, to) });
    const up = [fake('host/x.ts', 'compute/y.ts')].filter((e) => (rank.get(unitOf(e.to)) ?? 0) > (rank.get(unitOf(e.from)) ?? 0));
    expect(up).toHaveLength(1);
    expect(folderCycles([fake('virt/a.ts', 'brick/b.ts'), fake('brick/b.ts', 'virt/a.ts')])).toEqual([['brick', 'virt']]);
    expect(edges.length).toBeGreaterThan(500);
  });
});
