/**
 * The os-brick harness is faithful: os-brick 6.1, run by bench/peers/ against the simulator on
 * the fixtures' scenarios, issues the same commands the fixture recordings hold (modulo IQN,
 * portal and disk names). Needs Debian's python3-os-brick (/usr/bin/python3); skipped with a
 * message when it is missing, except under CI=true where a missing peer is a failure.
 */
import { describe, expect, it } from 'vitest';
import { createSimHost } from '../../src/sim/sim-host.ts';
import { FIXTURE_RUNS, fixtureExecutes, harnessExecutes, normalizeCommands, type FixtureName } from '../../bench/fixture-traces.ts';
import { osBrickAvailable, runOsBrick, type OsBrickResult } from '../../bench/peers/os-brick-peer.ts';

const peer = osBrickAvailable();
const ci = process.env['CI'] === 'true';
if (!peer.ok && !ci) console.warn(`os-brick harness tests skipped: python3-os-brick not importable by /usr/bin/python3 (${peer.reason}); install it with scripts/install-test-peers.sh`);

interface Replay {
  readonly expected: string[];
  readonly actual: string[];
  readonly result: OsBrickResult;
}

const firstRuns = new Map<FixtureName, Replay>();

async function replay(name: FixtureName): Promise<Replay> {
  const r = await replayFresh(name);
  if (!firstRuns.has(name)) firstRuns.set(name, r);
  return r;
}

async function replayFresh(name: FixtureName): Promise<Replay> {
  const run = FIXTURE_RUNS[name];
  const result = await runOsBrick(createSimHost(run.scenario), run.job, { wallTimeoutMs: 60_000 });
  return { expected: normalizeCommands(fixtureExecutes(name)), actual: normalizeCommands(harnessExecutes(result.trace)), result };
}

// Each replay starts a Python process (os-brick's imports take most of its second or two).
describe.skipIf(!peer.ok && !ci)('os-brick 6.1 on the simulator replays the fixture traces', { timeout: 60_000 }, () => {
  it('python3-os-brick is installed (required under CI)', () => {
    expect(peer.reason ?? '').toBe('');
    expect(peer.version).toMatch(/^6\.1\./);
  });

  it('single path: connect + disconnect, the same commands in the same order', async () => {
    const { expected, actual, result } = await replay('singlepath');
    expect(actual).toEqual(expected);
    expect(result.connects[0]).toMatchObject({ ok: true, device: { type: 'block', scsi_wwn: '360000000000000000e00000000010001' } });
    expect(result.disconnects?.[0]?.ok).toBe(true);
  });

  it('device never appears: three attempts of rescans, cleanups, then VolumeDeviceNotFound', async () => {
    const { expected, actual, result } = await replay('nodevice');
    expect(actual).toEqual(expected);
    expect(result.connects[0]?.error).toBe('VolumeDeviceNotFound: Volume device not found at .');
  });

  it('multipath: the same commands; per portal in the same order (the two login threads interleave)', async () => {
    const { expected, actual, result } = await replay('multipath');
    expect([...actual].sort()).toEqual([...expected].sort());
    for (const p of ['<portal1>', '<portal2>']) {
      expect(actual.filter((c) => c.includes(p))).toEqual(expected.filter((c) => c.includes(p)));
    }
    expect(result.connects[0]).toMatchObject({ ok: true, device: { path: '/dev/dm-0', multipath_id: '360000000000000000e00000000010001' } });
  });

  it('is deterministic: the same scenario gives the same trace and virtual times', async () => {
    const a = firstRuns.get('multipath') ?? (await replayFresh('multipath'));
    const b = await replayFresh('multipath');
    expect(b.result.trace).toEqual(a.result.trace);
    expect(b.result.connects).toEqual(a.result.connects);
  });
});
