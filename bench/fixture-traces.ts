/**
 * Faithfulness of the os-brick harness: os-brick's command sequence in our simulator against
 * the sequences os-brick 6.1 recorded (`../shared/fixtures/host/os-brick-iscsi-*-trace.jsonl`).
 * Names differ between runs (IQNs, portals, `sdX`), so both sides are normalised: each distinct
 * IQN, portal and SCSI disk name becomes `<iqnN>`, `<portalN>`, `<sdN>` in order of appearance.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { OsBrickJob, OsBrickTraceEntry } from './peers/os-brick-peer.ts';

// The repository's copies of ../shared/fixtures/host (src/sim/fixtures.test.ts checks they are identical).
export const FIXTURES_DIR = fileURLToPath(new URL('../src/sim/testdata/host/', import.meta.url));
export const BENCH_SCENARIOS_DIR = fileURLToPath(new URL('./scenarios/', import.meta.url));

export type FixtureName = 'singlepath' | 'multipath' | 'nodevice';

const IQN = 'iqn.2010-10.org.openstack:volume-0001';
const CHAP = { auth_method: 'CHAP', auth_username: 'u', auth_password: 'p' } as const;

/** The scenario file (under bench/scenarios) and the job that replays each fixture. */
export const FIXTURE_RUNS: Readonly<Record<FixtureName, { scenario: string; job: OsBrickJob }>> = {
  singlepath: {
    scenario: `${BENCH_SCENARIOS_DIR}fixture-singlepath.json`,
    job: {
      multipath: false,
      connectorProperties: false,
      disconnect: true,
      volumePaths: true,
      volumes: [{ target_portal: '127.0.0.1:3260', target_iqn: IQN, target_lun: 1, target_discovered: false, ...CHAP }],
    },
  },
  multipath: {
    scenario: `${BENCH_SCENARIOS_DIR}fixture-multipath.json`,
    job: {
      multipath: true,
      connectorProperties: false,
      disconnect: true,
      volumePaths: true,
      volumes: [
        {
          target_portal: '127.0.0.1:3260',
          target_iqn: IQN,
          target_lun: 1,
          target_portals: ['127.0.0.1:3260', '127.0.0.2:3261'],
          target_iqns: [IQN, IQN],
          target_luns: [1, 1],
          target_discovered: false,
          ...CHAP,
        },
      ],
    },
  },
  nodevice: {
    scenario: `${BENCH_SCENARIOS_DIR}fixture-nodevice.json`,
    job: {
      multipath: false,
      connectorProperties: false,
      disconnect: false,
      volumes: [{ target_portal: '127.0.0.1:3260', target_iqn: IQN, target_lun: 1, target_discovered: false, ...CHAP }],
    },
  },
};

/** The `execute` command lines of a fixture trace, in order. */
export function fixtureExecutes(name: FixtureName): string[] {
  const text = readFileSync(`${FIXTURES_DIR}os-brick-iscsi-${name}-trace.jsonl`, 'utf8');
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const rec = JSON.parse(line) as unknown;
    if (Array.isArray(rec) && rec[0] === 'execute' && typeof rec[1] === 'string') out.push(rec[1]);
  }
  return out;
}

/**
 * The command lines os-brick ran through the connector's `execute=` (the fixture recorder saw
 * only those; helpers that call privsep's rootwrap directly are recorded as `rootwrap`).
 */
export function harnessExecutes(trace: readonly OsBrickTraceEntry[]): string[] {
  return trace.filter((t) => t[0] === 'execute').map((t) => t[1]);
}

/** Replace IQNs, portals and sdX names by stable placeholders, in order of first appearance. */
export function normalizeCommands(cmds: readonly string[]): string[] {
  const maps = { iqn: new Map<string, string>(), portal: new Map<string, string>(), sd: new Map<string, string>() };
  const name = (kind: keyof typeof maps, v: string): string => {
    const m = maps[kind];
    if (!m.has(v)) m.set(v, `<${kind}${m.size + 1}>`);
    return m.get(v) as string;
  };
  return cmds.map((c) =>
    c
      .replace(/\biqn\.\d{4}-\d{2}\.[^\s,]+/g, (v) => name('iqn', v))
      .replace(/\b\d{1,3}(?:\.\d{1,3}){3}:\d+\b/g, (v) => name('portal', v))
      .replace(/\bsd[a-z]+\b/g, (v) => name('sd', v)),
  );
}
