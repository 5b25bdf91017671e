#!/usr/bin/env node
// `npm run build` (also run by `npm install` through `prepare`, and by `npm test`): compile
// src/ to plain JavaScript in dist/, so `hitch` starts without compiling TypeScript on every
// call. Type errors are not this step's business (`npx tsc --noEmit` checks them): it only
// transpiles (tsconfig.build.json: noCheck, .ts imports rewritten to .js).
//
// dist/ mirrors src/ one level below the repository, like src/, so the paths the code finds
// beside itself (`../../package.json`, `../../web/dist/`) hold in both. Files that are read at
// run time rather than imported (the built-in scenarios) are copied beside the code.
//
// dist/.sources, written last, lists every compiled source file and when the build started:
// bin/hitch.js runs dist/ only while no listed file has changed since (see bin/compiled.js),
// and falls back to compiling on the fly through tsx otherwise.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');

let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  // An install without dev dependencies: bin/hitch.js runs the sources through tsx instead.
  console.error('hitch build: typescript is not installed; skipping (hitch will compile on the fly)');
  process.exit(0);
}

const started = Date.now();
rmSync(DIST, { recursive: true, force: true });
const r = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
if (r.status !== 0) {
  rmSync(DIST, { recursive: true, force: true });
  console.error('hitch build: tsc failed');
  process.exit(1);
}

const sources = [];
for (const f of readdirSync(join(ROOT, 'src'), { recursive: true, withFileTypes: true })) {
  if (!f.isFile()) continue;
  const path = join(f.parentPath ?? f.path, f.name);
  const rel = relative(join(ROOT, 'src'), path);
  if (rel.endsWith('.ts') && existsSync(join(DIST, rel.replace(/\.ts$/, '.js')))) sources.push(`src/${rel}`);
  else if (/^sim\/scenarios\/[^/]+\.json$/.test(rel)) {
    mkdirSync(dirname(join(DIST, rel)), { recursive: true });
    copyFileSync(path, join(DIST, rel));
    sources.push(`src/${rel}`);
  }
}
sources.sort();
writeFileSync(join(DIST, '.sources'), `${JSON.stringify({ startedMs: started, files: sources })}\n`);
console.error(`hitch build: ${sources.length} files into dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s`);
