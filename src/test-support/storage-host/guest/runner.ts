/**
 * Inside the storage host guest: the one Node process of a boot. It reads the job (which cases,
 * with which parameters), starts tgtd, and runs the cases in order — each from a clean start
 * (`GuestStorage.reset` with the case's setup), each result written to
 * `<job>/results/<case, URI-encoded>.json` and announced on the console (`HITCH-CASE-END <case>`), where
 * `guest.ts` on the machine's side picks it up while the guest goes on with the next case.
 *
 * A case module (bundled with this file by `guest.ts`) exports
 * ```ts
 * export const cases: GuestCases = {
 *   'healthy-single': {
 *     setup: (params) => ({ findMultipaths: 'no', targets: [{ iqn: IQN }] }),
 *     run: async (ctx) => { ...; return { device, leftovers } },    // JSON, the case's `data`
 *   },
 * };
 * ```
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { GuestStorage, type StorageSetup } from './storage.ts';
import { caseEndLine, resultFileName } from '../result-file.ts';

export interface GuestContext {
  readonly name: string;
  readonly params: unknown;
  readonly storage: GuestStorage;
  /** A line on the console, prefixed with the case's name. */
  log(line: string): void;
}

export interface GuestCase {
  /** The clean start this case needs (default: find_multipaths no, short login timeouts, no targets). */
  readonly setup?: (params: unknown) => StorageSetup;
  readonly run: (ctx: GuestContext) => Promise<unknown>;
}

export type GuestCases = Readonly<Record<string, GuestCase>>;

interface Job {
  readonly cases: readonly { readonly name: string; readonly case?: string; readonly params?: unknown }[];
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

export async function runGuestJob(cases: GuestCases, jobFile: string): Promise<void> {
  const job = JSON.parse(readFileSync(jobFile, 'utf8')) as Job;
  const resultsDir = join(dirname(jobFile), 'results');
  mkdirSync(resultsDir, { recursive: true });
  say(`HITCH-RUNNER-START ${job.cases.length} case(s), node ${process.version}`);
  const storage = new GuestStorage();
  await storage.boot();
  for (const spec of job.cases) {
    const c = cases[spec.case ?? spec.name];
    const t0 = Date.now();
    let resetMs = 0;
    say(`HITCH-CASE-START ${spec.name}`);
    let result: Record<string, unknown>;
    try {
      if (!c) throw new Error(`no such case: ${spec.case ?? spec.name} (known: ${Object.keys(cases).join(', ')})`);
      await storage.reset(c.setup ? c.setup(spec.params) : {});
      resetMs = Date.now() - t0;
      const data = await c.run({ name: spec.name, params: spec.params, storage, log: (l) => say(`[${spec.name}] ${l}`) });
      result = { name: spec.name, ok: true, data: data ?? null, ms: Date.now() - t0, resetMs };
    } catch (e) {
      const error = e instanceof Error ? (e.stack ?? e.message) : String(e);
      say(`[${spec.name}] FAILED: ${error.split('\n')[0] ?? ''}`);
      result = { name: spec.name, ok: false, error, ms: Date.now() - t0, resetMs };
    }
    writeFileSync(join(resultsDir, resultFileName(spec.name)), JSON.stringify(result, null, 2));
    say(caseEndLine(spec.name, result['ok'] === true, Date.now() - t0));
  }
  say('HITCH-RUNNER-END');
  // Background work of the last case (a late login's cleanup) must not hold the power-off.
  process.exit(0);
}
