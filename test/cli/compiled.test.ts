/**
 * `hitch` runs compiled JavaScript (dist/) only while it matches the sources: a file edited
 * after the build sends it back to the sources (through tsx), so nobody runs stale code.
 */
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { compiledEntry } from '../../bin/compiled.js';
import { hitchBin } from './support.ts';

describe('compiledEntry', () => {
  let root = '';
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const tree = (startedMs: number, files: string[]): void => {
    root = mkdtempSync(join(tmpdir(), 'hitch-compiled-'));
    mkdirSync(join(root, 'src/cli'), { recursive: true });
    mkdirSync(join(root, 'dist/cli'), { recursive: true });
    for (const f of files) writeFileSync(join(root, f), '');
    writeFileSync(join(root, 'dist/.sources'), JSON.stringify({ startedMs, files }));
  };
  const age = (f: string, ms: number): void => utimesSync(join(root, f), ms / 1000, ms / 1000);

  it('is dist/cli/main.js while every listed source is older than the build', () => {
    tree(2_000_000, ['src/cli/main.ts', 'src/errors.ts']);
    age('src/cli/main.ts', 1_000_000);
    age('src/errors.ts', 1_999_000);
    expect(compiledEntry(root)).toBe(`file://${join(root, 'dist/cli/main.js')}`);
  });

  it('is null once a source changed after the build started', () => {
    tree(2_000_000, ['src/cli/main.ts', 'src/errors.ts']);
    age('src/cli/main.ts', 1_000_000);
    age('src/errors.ts', 2_000_001);
    expect(compiledEntry(root)).toBeNull();
  });

  it('is null when a listed source is gone, or there was no build', () => {
    tree(2_000_000, ['src/cli/main.ts', 'src/gone.ts']);
    age('src/cli/main.ts', 1_000_000);
    rmSync(join(root, 'src/gone.ts'));
    expect(compiledEntry(root)).toBeNull();
    rmSync(join(root, 'dist/.sources'));
    expect(compiledEntry(root)).toBeNull();
  });

  it('trusts dist/ in a package shipped without src/', () => {
    tree(2_000_000, ['src/cli/main.ts']);
    rmSync(join(root, 'src'), { recursive: true });
    expect(compiledEntry(root)).toBe(`file://${join(root, 'dist/cli/main.js')}`);
  });
});

describe('bin/hitch.js', () => {
  it('prints the version and exits 0 (compiled or not)', async () => {
    const r = await hitchBin(['--version']);
    expect(r.code).toBe(0);
    expect(r.out.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
