/**
 * A client command loads only what it needs: the server (HTTP, database, data plane), the
 * simulator and heavy parsers are imported when `serve`, `api`, `agent`, `sim` or `scenario` run,
 * never at start-up. Checked on the static import graph from the CLI's entry, so a new static
 * import of a heavy module fails here rather than slowing every `hitch` call.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support.ts';

/** Static, value (not `import type`) imports of a module: relative files and package names. */
function staticImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^import\s+(?!type\b)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm)) {
    // `import { type A, type B } from` loads nothing at run time either.
    const named = /^import\s+\{([^}]*)\}\s+from/.exec(m[0])?.[1];
    if (named !== undefined && named.split(',').every((n) => n.trim() === '' || n.trim().startsWith('type '))) continue;
    out.push(m[1] as string);
  }
  return out;
}

function reachable(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const todo = [entry];
  while (todo.length > 0) {
    const f = todo.pop() as string;
    if (files.has(f)) continue;
    files.add(f);
    for (const spec of staticImports(f)) {
      if (spec.startsWith('.')) todo.push(resolve(dirname(f), spec));
      else if (!spec.startsWith('node:')) packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string));
    }
  }
  return { files, packages };
}

describe('hitch start-up', () => {
  const { files, packages } = reachable(join(ROOT, 'src/cli/main.ts'));
  const rel = [...files].map((f) => f.slice(ROOT.length + 1)).sort();

  it('reaches the CLI and its pure helpers only', () => {
    expect(rel.length).toBeGreaterThan(5);
    for (const f of rel) expect(f, f).toMatch(/^src\/(cli\/|errors\.ts$|trace\/explain\.ts$)/);
  });

  it('loads commander and nothing heavier', () => {
    expect([...packages].sort()).toEqual(['commander']);
  });
});
