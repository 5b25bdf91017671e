#!/usr/bin/env node
// `npm test`: typecheck, lint, build (the compiled CLI that the tests' `bin/hitch.js` runs), then vitest; ends with one plain line "N passed, N failed" so a
// reader (or CI) sees at a glance what ran. Exits non-zero when anything failed or nothing ran.
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
const report = 'test-output/vitest.json';
const status = run('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)]);
let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  passed = r.numPassedTests;
  // A file that fails to load has no tests to fail: count it once; a file whose tests failed
  // is already counted by its tests.
  const unloaded = (r.testResults ?? []).filter((f) => f.status === 'failed' && (f.assertionResults ?? []).length === 0).length;
  failed = r.numFailedTests + unloaded;
  skipped = r.numPendingTests + (r.numTodoTests ?? 0);
} catch {
  failed = Math.max(failed, 1);
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(status !== 0 || failed > 0 || passed === 0 ? 1 : 0);
