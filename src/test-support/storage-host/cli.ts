/**
 * Boot the storage host guest by hand with some cases of a case module and print their results:
 *
 *   npx tsx src/test-support/storage-host/cli.ts test/storage-host/cases.guest.ts smoke 'seed={"liftAfterMs":20000}'
 *
 * The module may be several, comma-separated (`test/storage-host/cases.guest.ts,test/storage-host/fidelity.guest.ts`).
 * HITCH_GUEST_TIMEOUT_MS bounds the whole boot, the wait for the guest lock included (default 30 min).
 * Each argument after the module is `NAME[:CASE][=JSON]`: a result name, the case to run (default NAME), its parameters. The console goes
 * to stderr as it comes; the results (JSON) to stdout. Takes the guest lock like every boot.
 */
import { runGuest, storageHostImage } from './guest.ts';

const [entry, ...specs] = process.argv.slice(2);
if (!entry || specs.length === 0) {
  console.error('usage: cli.ts CASE_MODULE CASE[=JSON] ...');
  process.exit(2);
}
const cases = specs.map((s) => {
  // NAME[:CASE][=JSON]
  const i = s.indexOf('=');
  const head = i < 0 ? s : s.slice(0, i);
  const [name = head, c] = head.split(':');
  return { name, ...(c ? { case: c } : {}), ...(i < 0 ? {} : { params: JSON.parse(s.slice(i + 1)) as unknown }) };
});
const image = storageHostImage();
const timeoutMs = Number(process.env['HITCH_GUEST_TIMEOUT_MS'] ?? 30 * 60_000);
const run = runGuest({ image, entry: entry.includes(',') ? entry.split(',') : entry, cases, timeoutMs, onLine: (l) => process.stderr.write(`${l}\n`) });
const { results, wallMs } = await run.done;
console.log(JSON.stringify({ image: image.versions, marks: run.marks, wallMs, jobDir: run.jobDir, results }, null, 2));
process.exit(results.length === cases.length && results.every((r) => r.ok) ? 0 : 1);
