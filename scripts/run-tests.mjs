#!/usr/bin/env node
// `npm test`: typecheck, lint, build (the compiled CLI that the tests' `bin/hitch.js` runs), then
// vitest in two phases — every suite but the storage host's, then the storage host's alone (its
// guest needs both cores) — and one plain line "N passed, N failed" over both, so a reader (or
// CI) sees at a glance what ran. Exits non-zero when anything failed or nothing ran.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';

const run = (cmd, args) => spawnSync(cmd, args, { stdio: 'inherit', env: process.env }).status ?? 1;

for (const [cmd, args] of [
  ['npx', ['tsc', '--noEmit']],
  ['npx', ['eslint', '.']],
  [process.execPath, ['scripts/build.mjs']],
]) {
  if (run(cmd, args) !== 0) {
    console.error(`${cmd} ${args.join(' ')} failed`);
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
}

mkdirSync('test-output', { recursive: true });

/** One vitest run; its counts from the JSON report. */
function vitest(name, args) {
  const report = `test-output/vitest-${name}.json`;
  const t0 = Date.now();
  const status = run('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...args]);
  const c = { status, passed: 0, failed: 0, skipped: 0, seconds: Math.round((Date.now() - t0) / 1000) };
  try {
    const r = JSON.parse(readFileSync(report, 'utf8'));
    c.passed = r.numPassedTests;
    // A file that fails to load has no tests to fail: count it once; a file whose tests failed
    // is already counted by its tests.
    const unloaded = (r.testResults ?? []).filter((f) => f.status === 'failed' && (f.assertionResults ?? []).length === 0).length;
    c.failed = r.numFailedTests + unloaded;
    c.skipped = r.numPendingTests + (r.numTodoTests ?? 0);
  } catch {
    c.failed = Math.max(c.failed, 1);
  }
  return c;
}

// The storage-host suite boots a QEMU guest (TCG) that needs both cores for itself: it runs in a
// phase of its own, after everything else. Arguments (a file filter) run one vitest as given.
const STORAGE_HOST = 'test/storage-host';
const phases = process.argv.length > 2
  ? [vitest('all', process.argv.slice(2))]
  : [vitest('main', ['--exclude', `${STORAGE_HOST}/**`]), vitest('storage-host', [STORAGE_HOST])];
if (phases.length === 2) {
  const sh = phases[1];
  console.log(`storage-host suite: ${sh.passed} passed, ${sh.failed} failed${sh.skipped ? `, ${sh.skipped} skipped` : ''} in ${sh.seconds} s`);
}
const passed = phases.reduce((n, p) => n + p.passed, 0);
const failed = phases.reduce((n, p) => n + p.failed, 0);
const skipped = phases.reduce((n, p) => n + p.skipped, 0);
const status = phases.some((p) => p.status !== 0) ? 1 : 0;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(status !== 0 || failed > 0 || passed === 0 ? 1 : 0);
