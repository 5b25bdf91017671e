/**
 * Record the fidelity suite's fixtures on the real host: boot the storage host guest once, run
 * every scene of src/sim/fidelity/scenes.ts there (and the latency calibration), and write what
 * the real host answered into src/sim/fidelity/fixtures/ — the record the unit suite holds the
 * simulator to (`src/sim/fidelity/fidelity.test.ts`). As root, on a machine that can boot the
 * guest (`bash scripts/install-test-peers.sh`):
 *
 *   npx tsx scripts/record-fidelity.ts                 every scene and the calibration
 *   npx tsx scripts/record-fidelity.ts attach-detach   some scenes only (`calibrate` for the calibration)
 *
 * Takes the guest lock (/tmp/hitch-guest.lock) like every boot.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SCENES } from '../src/sim/fidelity/scenes.ts';
import { REPO, runGuest, storageHostImage } from '../src/test-support/storage-host/guest.ts';

const want = process.argv.slice(2);
const names = want.length > 0 ? want : [...Object.keys(SCENES), 'calibrate'];
for (const n of names) if (n !== 'calibrate' && !SCENES[n]) throw new Error(`no scene ${n}; known: ${Object.keys(SCENES).join(', ')}, calibrate`);
const dir = join(REPO, 'src', 'sim', 'fidelity', 'fixtures');
mkdirSync(dir, { recursive: true });
const image = storageHostImage();
const commit = spawnSync('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
const machineTrue = ((): number => {
  // This machine's own command start, measured now (for the calibration's one scale factor).
  const ms: number[] = [];
  for (let i = 0; i < 21; i++) {
    const t0 = process.hrtime.bigint();
    spawnSync('true');
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return ms.sort((a, b) => a - b)[10] ?? 0;
})();
const run = runGuest({
  image,
  entry: 'test/storage-host/fidelity.guest.ts',
  cases: names.map((n) => ({ name: `fidelity:${n}` })),
  onLine: (l) => process.stderr.write(`${l}\n`),
});
const { results, wallMs } = await run.done.catch((e: unknown) => {
  console.error(String(e));
  return { results: [] as Awaited<typeof run.done>['results'], wallMs: 0 };
});
const recorded = {
  at: new Date().toISOString(),
  by: `npx tsx scripts/record-fidelity.ts ${want.join(' ')}`.trim(),
  commit,
  image: image.versions,
  guest: 'QEMU/TCG, 2 vCPUs, 2 GiB, on a 2-core shared machine (storage host guest, src/test-support/storage-host/)',
};
let failed = 0;
for (const r of results) {
  const name = r.name.replace(/^fidelity:/, '');
  if (!r.ok) {
    failed++;
    console.error(`${name}: FAILED\n${r.error ?? ''}`);
    continue;
  }
  const file = join(dir, `${name}.json`);
  let body: unknown;
  if (name === 'calibrate') {
    // Calibration runs accumulate (the 5 latest): a shared 2-core machine is noisy, medians over runs are steadier.
    const runs = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { runs: unknown[] }).runs : [];
    body = { runs: [...runs, { recorded: { ...recorded, machineTrueMs: machineTrue }, raw: r.data }].slice(-5) };
  } else {
    body = { recorded, ...(r.data as object) };
  }
  writeFileSync(file, `${JSON.stringify(body, null, 1)}\n`);
  console.error(`${name}: ${file}`);
}
console.error(`guest boot ${Math.round(wallMs / 1000)} s; console ${run.consoleLog}`);
process.exit(failed > 0 || results.length !== names.length ? 1 : 0);
