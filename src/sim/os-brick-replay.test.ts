/**
 * Replays os-brick 6.1's own command traces (fixtures `os-brick-iscsi-*-trace.jsonl`: a real
 * single-path, multipath and no-device connect + disconnect) against the simulator: every
 * command must exit with a code os-brick accepted, and every glob, exists, realpath and read
 * must show what os-brick saw on the real host. udev and multipathd are asynchronous on a real
 * host too, so a file-system answer may take a little virtual time to match (bounded below).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SimHost } from './sim-host.ts';
import type { FaultSpec } from './faults.ts';
import type { Scenario } from './scenario.ts';
import { Simulation } from './simulation.ts';

const TARGET = 'iqn.2010-10.org.openstack:volume-0001';
const WWN = '360000000000000000e00000000010001';

function scenario(multipathd: boolean, faults: FaultSpec[] = []): Scenario {
  return {
    name: 'os-brick-capture',
    arrays: [
      {
        name: 'tgt',
        portals: ['127.0.0.1:3260', '127.0.0.2:3261'],
        targets: [
          {
            iqn: TARGET,
            tpgt: 1,
            portals: ['127.0.0.1:3260', '127.0.0.2:3261'],
            luns: [{ lun: 1, wwn: WWN, sizeBytes: 67108864 }],
            acl: [{ initiator: 'iqn.1993-08.org.debian:01:brick', chapUser: 'u', chapPassword: 'p' }],
          },
        ],
      },
    ],
    // The capture host had a root disk sda, so the first iSCSI disk was sdb.
    hosts: [{ name: 'brick', initiator: 'iqn.1993-08.org.debian:01:brick', multipathd, findMultipaths: 'no', localDisks: [{ name: 'sda' }, { name: 'vda' }] }],
    faults,
  };
}

type Entry = [string, ...unknown[]];

function trace(name: string): Entry[] {
  return readFileSync(new URL(`./testdata/host/${name}`, import.meta.url), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('['))
    .map((l) => JSON.parse(l) as Entry);
}

function okCodes(opts: { check_exit_code?: unknown }): number[] | 'any' {
  const c = opts.check_exit_code;
  if (c === false) return 'any';
  if (typeof c === 'number') return [c];
  if (Array.isArray(c)) return c as number[];
  return [0];
}

/** Re-ask until the sim agrees, within `boundMs` of virtual time (udev and multipathd lag). */
async function eventually<T>(host: SimHost, ask: () => Promise<T>, want: T, boundMs = 5_000): Promise<T> {
  let got = await ask();
  for (let waited = 0; waited < boundMs && JSON.stringify(got) !== JSON.stringify(want); waited += 100) {
    await host.clock.sleep(100);
    got = await ask();
  }
  return got;
}

async function replay(host: SimHost, entries: Entry[]): Promise<number> {
  let steps = 0;
  for (const [kind, a, b] of entries) {
    const where = `${kind} ${String(a)}`;
    switch (kind) {
      case 'time.sleep':
        await host.clock.sleep(Number(a) * 1000);
        break;
      case 'execute': {
        const opts = (b ?? {}) as { check_exit_code?: unknown; process_input?: string };
        const [cmd = '', ...args] = String(a).split(' ');
        const r = await host.exec(cmd, args, { okCodes: 'any', timeoutMs: 300_000, ...(opts.process_input !== undefined ? { input: opts.process_input } : {}) });
        const ok = okCodes(opts);
        if (ok !== 'any') expect(ok, `${where} → ${r.code} ${r.stderr}`).toContain(r.code);
        break;
      }
      case 'glob': {
        // The captures' answers came from a sysfs os-brick ran against, not a kernel; where the
        // kernel answers otherwise the simulator follows the kernel. A session's SCSI target
        // appears with the first device a scan finds (fidelity scene attach-detach,
        // p1/logged-in): each trace looks for it right after the login, before any scan, so the
        // kernel has none yet (os-brick then scans `- - L`; the trace's `0 0 L` finds the LUN too).
        const want = /\/device\/session\d+\/target\*$/.test(String(a)) ? [] : b;
        expect(await eventually(host, () => host.glob(String(a)), want), where).toEqual(want);
        break;
      }
      case 'os.path.exists':
        expect(await eventually(host, () => host.exists(String(a)), b), where).toBe(b);
        break;
      case 'os.path.realpath':
        // Python's realpath returns a missing path unchanged; the Host port reports it missing.
        expect(await host.realpath(String(a)).catch(() => String(a)), where).toBe(b);
        break;
      case 'open':
        expect(await host.readFile(String(a)), where).toMatch(/^naa\.|^[0-9a-f]/);
        break;
      default:
        continue;
    }
    steps++;
  }
  return steps;
}

describe('os-brick’s real command traces replay on the simulator', () => {
  it('single path: connect, disconnect, nothing left', async () => {
    const host = new SimHost(Simulation.create(scenario(false)));
    expect(await replay(host, trace('os-brick-iscsi-singlepath-trace.jsonl'))).toBeGreaterThan(30);
    expect(host.model.leftovers()).toEqual([]);
  });

  it('multipath: two portals, dm-0 over sdb and sdc, flushed and cleaned', async () => {
    const host = new SimHost(Simulation.create(scenario(true)));
    expect(await replay(host, trace('os-brick-iscsi-multipath-trace.jsonl'))).toBeGreaterThan(50);
    expect(host.model.leftovers()).toEqual([]);
  });

  it('no device: three sessions in turn, the LUN never appears, every session cleaned', async () => {
    const host = new SimHost(Simulation.create(scenario(true, [{ fault: 'device-never-appears' }])));
    expect(await replay(host, trace('os-brick-iscsi-nodevice-trace.jsonl'))).toBeGreaterThan(300);
    expect(host.model.leftovers()).toEqual([]);
  });
});
