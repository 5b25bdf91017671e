/**
 * What a reader of each sample's lines knows about its attaches and detaches — kind, volume,
 * server, outcome, and the duration from the log's own timestamps — written down once for the
 * tests that check `hitch explain --log` against it (`samples.test.ts`, `guest-samples.test.ts`,
 * `summary.test.ts`).
 *
 * Public samples: read off the excerpt (the timestamps quoted are its first and last lines of
 * the operation). Guest recordings: from what the recorder saw os-brick return (the
 * `.result.json` beside each log: request id, success) and the lines of that request id, read
 * here with a regular expression of their own, independently of the parser.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../cli/support.ts';
import { VOLUMES } from './recorder/cases.guest.ts';

export const SAMPLES = join(ROOT, 'test/oslog/samples');
export const GUEST = join(SAMPLES, 'guest');

export interface Fact {
  readonly kind: 'attach' | 'detach';
  readonly volume: string | null;
  readonly server: string | null;
  readonly outcome: 'ok' | 'failed' | 'incomplete';
  readonly durationMs: number;
}

const at = (t: string): number => Date.parse(`${t.replace(' ', 'T')}Z`);
export const between = (a: string, b: string): number => at(b) - at(a);

export interface CallResult {
  readonly request_id: string;
  readonly ok: boolean;
  readonly device?: { readonly path: string; readonly scsi_wwn: string; readonly multipath_id?: string } | null;
  readonly error?: string;
}

/** What os-brick returned to the recorder, by call id. */
export function guestResult(name: string): Record<string, CallResult> {
  return (JSON.parse(readFileSync(join(GUEST, `${name}.result.json`), 'utf8')) as { calls: Record<string, CallResult> }).calls;
}

/**
 * The operation's extent read straight off the log, independently of the parser: from the first
 * line logged for its request to os-brick's `<== …: return|exception` line of that request.
 */
export function ownTimes(name: string, requestId: string): { first: string; last: string; ms: number } {
  const lines = readFileSync(join(GUEST, `${name}.txt`), 'utf8').split('\n').filter((l) => l.includes(`[None ${requestId} `));
  const stamp = (l: string | undefined): string => /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) /.exec(l ?? '')?.[1] ?? '';
  const first = stamp(lines[0]);
  const last = stamp([...lines].reverse().find((l) => / <== (connect|disconnect)_volume: (return|exception) /.test(l)));
  return { first, last, ms: between(first, last) };
}

/** The recorder's call ids, by recording, with the volume each call was about. */
const GUEST_CALLS: Record<string, Record<string, string>> = {
  seed: { seed: VOLUMES.seed },
  'healthy-multipath': { healthy: VOLUMES.healthy, 'healthy:disconnect': VOLUMES.healthy },
  'map-never-created': { 'no-map': VOLUMES.noMap },
  'lock-wait': { first: VOLUMES.lockFirst, second: VOLUMES.lockSecond },
  'failed-attach': { failed: VOLUMES.failed },
};

/** A guest recording's operations: os-brick alone, so no server is named in its lines. */
export function guestFacts(name: string): (Fact & { requestId: string; start: string })[] {
  const res = guestResult(name);
  return Object.entries(GUEST_CALLS[name] ?? {}).map(([id, volume]) => {
    const call = res[id] as CallResult;
    const own = ownTimes(name, call.request_id);
    return { kind: id.endsWith(':disconnect') ? 'detach' : 'attach', volume, server: null, outcome: call.ok ? 'ok' : 'failed', durationMs: own.ms, requestId: call.request_id, start: own.first };
  });
}

export const GUEST_RECORDINGS = Object.keys(GUEST_CALLS);

const ATMOS_VOL1 = '16409427-718d-47c2-a224-dcae611c9e34';
const ATMOS_VOL2 = 'c2e52f3d-4e43-4692-8c3c-a64f611baed5';
const ATMOS_SERVER = 'b6d86451-8ad3-4224-ac3a-b23e146f3e64';

/** The public excerpts (provenance in samples/README.md), each operation in the log's order. */
export const PUBLIC_FACTS: Record<string, readonly Fact[]> = {
  // first line (the first portal's failed login) to the last (Nova's "Failed to resume instance")
  'public/open-iscsi-2019-two-dead-portals.txt': [{ kind: 'attach', volume: null, server: '15c064ca-8bd0-40be-b384-c796db1da953', outcome: 'failed', durationMs: between('2019-10-07 16:09:52.456', '2019-10-07 16:11:52.790') }],
  'public/conjure-up-884-failed-attach.txt': [{ kind: 'attach', volume: '9036101a-8833-448f-8cdf-21ff1bc7dd76', server: '1a8a00fb-94b6-4109-ae58-f44291626a46', outcome: 'failed', durationMs: between('2017-05-12 08:31:26.623', '2017-05-12 08:31:27.337') }],
  // INFO only: Nova's start lines and libvirt's detach lines, none of them seen to its end
  'public/vexxhost-atmosphere-547-nova-attach-detach.txt': [
    { kind: 'detach', volume: ATMOS_VOL1, server: ATMOS_SERVER, outcome: 'incomplete', durationMs: between('2023-08-18 14:27:06.197', '2023-08-18 14:27:06.275') },
    { kind: 'attach', volume: ATMOS_VOL2, server: ATMOS_SERVER, outcome: 'incomplete', durationMs: 0 },
    { kind: 'attach', volume: ATMOS_VOL2, server: ATMOS_SERVER, outcome: 'incomplete', durationMs: 0 },
    { kind: 'detach', volume: ATMOS_VOL2, server: ATMOS_SERVER, outcome: 'incomplete', durationMs: 0 },
  ],
};
