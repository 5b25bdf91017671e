/**
 * Record the guest samples: boot the storage host guest once with the cases of
 * `cases.guest.ts` and write each case's log to `test/oslog/samples/guest/<case>.txt`, with
 * what os-brick returned beside it (`<case>.result.json`). Root, and the guest's image
 * (`scripts/build-storage-host.sh`); takes the machine's guest lock like every boot.
 *
 *   npx tsx test/oslog/recorder/record.ts                  # every case
 *   npx tsx test/oslog/recorder/record.ts seed lock-wait   # some
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, runGuest, storageHostImage } from '../../../src/test-support/storage-host/guest.ts';

const ALL = ['healthy-multipath', 'seed', 'map-never-created', 'lock-wait', 'failed-attach'];
const names = process.argv.slice(2).length ? process.argv.slice(2) : ALL;
const out = join(REPO, 'test/oslog/samples/guest');
mkdirSync(out, { recursive: true });

const image = storageHostImage();
const run = runGuest({ image, entry: 'test/oslog/recorder/cases.guest.ts', cases: names.map((name) => ({ name })), onLine: (l) => process.stderr.write(`${l}\n`) });
const { results } = await run.done;
let failed = 0;
for (const r of results) {
  if (!r.ok) {
    failed++;
    console.error(`${r.name}: FAILED ${String(r.error ?? '').split('\n')[0]}`);
    continue;
  }
  const data = r.data as { exit: number; wallMs: number; log: string; result: unknown; leftovers: unknown };
  writeFileSync(join(out, `${r.name}.txt`), data.log);
  writeFileSync(join(out, `${r.name}.result.json`), `${JSON.stringify({ case: r.name, recorder_exit: data.exit, wall_ms: data.wallMs, image: image.versions, calls: data.result, leftovers: data.leftovers }, null, 2)}\n`);
  console.error(`${r.name}: ${data.log.split('\n').length - 1} lines, ${data.wallMs} ms`);
}
process.exit(failed ? 1 : 0);
