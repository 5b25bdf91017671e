/**
 * `explain --log` on whatever a log can hold: real lines (the samples'), lines cut anywhere,
 * lines of several logs interleaved, foreign text, and secrets in every shape OpenStack has
 * logged them. It never throws; every input line is counted once (placed, unplaced or about
 * other work) and the unplaced ones are all listed; no secret reaches any output.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { renderExplain } from '../../src/trace/explain.ts';
import { readLogText, selectOperations } from '../../src/trace/oslog/index.ts';
import { ROOT } from '../cli/support.ts';

const SAMPLES = join(ROOT, 'test/oslog/samples');
const REAL: string[] = [];
for (const dir of ['public', 'guest']) {
  let files: string[] = [];
  try {
    files = readdirSync(join(SAMPLES, dir)).filter((f) => f.endsWith('.txt'));
  } catch {
    continue;
  }
  for (const f of files) REAL.push(...readFileSync(join(SAMPLES, dir, f), 'utf8').split('\n').filter((l) => l !== ''));
}

const T = '2026-12-05 09:11:56.432';
const CTX = '[None req-c263f766-45d3-4638-9dde-40eb2a87c586 d599e3a44889417a9ef1c35ae66e2124 19704c1384b44092ba44ced60fe23da1 - - - -]';

/** Real message formats (processutils, os-brick's trace and iscsiadm logging, keystoneauth, oslo.config) with a secret in its usual place. */
const WITH_SECRET: readonly ((s: string) => string)[] = [
  (s) => `${T} 18037 DEBUG oslo_concurrency.processutils [-] Running cmd (subprocess): iscsiadm -m node -T iqn.2010-10.org.openstack:volume-x -p 127.0.0.1:3260 --op update -n node.session.auth.password -v ${s} execute /usr/lib/python3/dist-packages/oslo_concurrency/processutils.py:384`,
  (s) => `${T} 18037 DEBUG oslo_concurrency.processutils [-] CMD "iscsiadm -m node -T iqn.2010-10.org.openstack:volume-x -p 127.0.0.1:3260 --op update -n node.session.auth.password -v ${s}" returned: 0 in 0.125s execute /usr/lib/python3/dist-packages/oslo_concurrency/processutils.py:422`,
  (s) => `${T} 17902 DEBUG os_brick.initiator.connectors.iscsi ${CTX} iscsiadm ('--op', 'update', '-n', 'node.session.auth.password', '-v', '${s}'): stdout= stderr= _run_iscsiadm /usr/lib/python3/dist-packages/os_brick/initiator/connectors/iscsi.py:1026`,
  (s) => `${T} 17902 DEBUG os_brick.initiator.connectors.iscsi ${CTX} ==> connect_volume: call "{'self': <os_brick.initiator.connectors.iscsi.ISCSIConnector object at 0x7fcc30b37810>, 'connection_properties': {'target_portal': '127.0.0.1:3260', 'target_iqn': 'iqn.2010-10.org.openstack:volume-x', 'target_lun': 1, 'auth_method': 'CHAP', 'auth_username': 'u1', 'auth_password': '${s}', 'volume_id': '5ed0cc5c-158c-4857-9bd5-3556884a23f0'}}" trace_logging_wrapper /usr/lib/python3/dist-packages/os_brick/utils.py:174`,
  (s) => `${T} 17902 DEBUG keystoneauth.session ${CTX} REQ: curl -g -i -X GET http://10.0.0.5:8776/v3/5b4c1d2155004acf849cd3aac03b8f36/volumes/5ed0cc5c-158c-4857-9bd5-3556884a23f0 -H "Accept: application/json" -H "User-Agent: python-cinderclient" -H "X-Auth-Token: ${s}" _http_log_request /usr/lib/python3/dist-packages/keystoneauth1/session.py:517`,
  (s) => `${T} 17902 DEBUG keystoneauth.session ${CTX} RESP BODY: {"connection_info": {"driver_volume_type": "iscsi", "data": {"auth_method": "CHAP", "auth_username": "u1", "auth_password": "${s}", "target_portal": "10.0.0.5:3260"}}} _http_log_response /usr/lib/python3/dist-packages/keystoneauth1/session.py:550`,
  (s) => `${T} 17902 DEBUG oslo_service.service [-] transport_url                  = rabbit://openstack:${s}@10.10.31.166:5672/ log_opt_values /usr/lib/python3/dist-packages/oslo_config/cfg.py:2609`,
];

const secretArb = fc.stringMatching(/^[A-Za-z0-9]{10,16}$/).map((x) => `Zq${x}`);

interface Line {
  readonly text: string;
  readonly secret: string | null;
}

const lineArb: fc.Arbitrary<Line> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...REAL).map((text) => ({ text, secret: null })) },
  { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 0, max: WITH_SECRET.length - 1 }), secretArb).map(([i, s]) => ({ text: (WITH_SECRET[i] as (x: string) => string)(s), secret: s })) },
  { weight: 1, arbitrary: fc.string({ maxLength: 80 }).map((text) => ({ text: text.replace(/[\r\n]/g, ' '), secret: null })) },
);

/** A line cut at some point (a log truncated, a line written half): only its start stays. */
const cutArb: fc.Arbitrary<Line> = fc.tuple(lineArb, fc.option(fc.nat(), { nil: undefined })).map(([l, cut]) => (cut === undefined ? l : { ...l, text: l.text.slice(0, cut % (l.text.length + 1)) }));

/** Several logs interleaved line by line (two services writing one file, `cat a b | sort`-ish). */
const logArb = fc.array(fc.array(cutArb, { maxLength: 40 }), { minLength: 1, maxLength: 3 }).chain((streams) =>
  fc.array(fc.nat(), { minLength: streams.flat().length, maxLength: streams.flat().length }).map((picks) => {
    const queues = streams.map((s) => [...s]);
    const out: Line[] = [];
    for (const p of picks) {
      const live = queues.filter((q) => q.length > 0);
      const q = live[p % live.length];
      const l = q?.shift();
      if (l) out.push(l);
    }
    return out;
  }),
);

describe('explain --log on random, cut and interleaved lines', () => {
  it('the sample lines are there to draw from', () => {
    expect(REAL.length).toBeGreaterThan(20);
  });

  it('never throws, counts every line once, lists every unplaced line, and shows no secret', () => {
    fc.assert(
      fc.property(logArb, (lines) => {
        // As in a file, the text after the last newline is a line only when it is not empty.
        const text = lines.map((l) => l.text).join('\n');
        const parts = text.split('\n');
        const expected = parts[parts.length - 1] === '' ? parts.length - 1 : parts.length;
        const r = readLogText(text);
        expect(r.lines.total).toBe(expected);
        expect(r.lines.placed + r.lines.unplaced + r.lines.other).toBe(expected);
        expect(r.unplaced.length).toBe(r.lines.unplaced);
        const output = [JSON.stringify(r), ...selectOperations(r).map((o) => renderExplain(o.report, { maxDepth: 9 }))].join('\n');
        for (const l of lines) if (l.secret) expect(output.includes(l.secret), `secret of: ${l.text.slice(0, 160)}`).toBe(false);
      }),
      { numRuns: Number(process.env["HITCH_PROPERTY_RUNS"] ?? 300) },
    );
  });

  it('loses no unplaced line: foreign text before any record is listed, line by line', () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[a-z ]{1,30}$/), { minLength: 1, maxLength: 10 }), fc.array(fc.constantFrom(...REAL), { maxLength: 20 }), (junk, real) => {
        const r = readLogText([...junk, ...real].join('\n'));
        expect(r.unplaced.slice(0, junk.length).map((u) => u.text)).toEqual(junk);
        expect(r.unplaced.slice(0, junk.length).map((u) => u.lineNo)).toEqual(junk.map((_, i) => i + 1));
      }),
      { numRuns: 100 },
    );
  });
});
