import { describe, expect, it } from 'vitest';
import type { ExecOptions, ExecResult, Host } from '../../ports/host.ts';
import { isHitchError } from '../../errors.ts';
import { Trace } from '../../trace/span.ts';
import { FakeIscsiHost } from '../testing/fake-iscsi-host.ts';
import { IscsiConnector } from './iscsi.ts';

const IQN = 'iqn.2010-10.org.openstack:volume-0001';
const P1 = '127.0.0.1:3260';
const P2 = '127.0.0.2:3261';
const W1 = '360000000000000000e00000000010001';
const two = { target_portals: [P1, P2], target_iqns: [IQN, IQN], target_luns: [1, 1] };

/** The fake host, with some commands made to fail (exit 1) from the moment `broken` is filled. */
function faulty(): { host: Host; fake: FakeIscsiHost; broken: Set<string>; busy: string[]; commands: string[] } {
  const fake = new FakeIscsiHost({ targets: [{ iqn: IQN, portals: [P1, P2], luns: { 1: { wwn: W1 } } }] });
  const broken = new Set<string>();
  const commands: string[] = [];
  // What the next `multipath -f` calls answer (exit 1) before the fake flushes the map.
  const busy: string[] = [];
  const host = Object.create(fake) as Host;
  Object.assign(host, {
    exec: async (cmd: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult> => {
      const line = [cmd, ...args].join(' ');
      commands.push(line);
      if ([...broken].some((b) => line.startsWith(b))) return { code: 1, stdout: '', stderr: `${cmd}: injected failure\n` };
      const answer = line.startsWith('multipath -f') ? busy.shift() : undefined;
      if (answer !== undefined) return { code: 1, stdout: '', stderr: answer };
      return fake.exec(cmd, args, opts);
    },
  });
  for (const m of ['readFile', 'writeFile', 'writeFileAtomic', 'exists', 'readlink', 'realpath', 'readdir', 'glob', 'waitForPath', 'onExec'] as const) {
    Object.assign(host, { [m]: (fake[m] as (...a: unknown[]) => unknown).bind(fake) });
  }
  return { host, fake, broken, busy, commands };
}

describe('disconnectVolume options', () => {
  it('a failed flush without force stops before removing anything (HITCH_DISCONNECT_FAILED)', async () => {
    const f = faulty();
    const conn = new IscsiConnector({ host: f.host, multipath: true });
    const span = new Trace(f.host.clock).root();
    await conn.connectVolume(span, two);
    await conn.settled();
    f.broken.add('blockdev --flushbufs');
    const err = await conn.disconnectVolume(span, two).catch((e: unknown) => e);
    expect(isHitchError(err, 'HITCH_DISCONNECT_FAILED')).toBe(true);
    expect(String(err)).toContain('nothing removed');
    expect(f.fake.snapshot().disks).toHaveLength(2);
    expect(f.fake.snapshot().maps).toHaveLength(1);
  });

  it('force goes on, and every problem is reported together', async () => {
    const f = faulty();
    const conn = new IscsiConnector({ host: f.host, multipath: true });
    const trace = new Trace(f.host.clock);
    await conn.connectVolume(trace.root(), two);
    await conn.settled();
    f.broken.add('blockdev --flushbufs');
    f.broken.add(`iscsiadm -m node -T ${IQN} -p ${P2} --logout`);
    const err = await conn.disconnectVolume(trace.root(), two, { force: true }).catch((e: unknown) => e);
    expect(isHitchError(err, 'HITCH_DISCONNECT_FAILED')).toBe(true);
    if (isHitchError(err)) {
      // The flush, the logout, and the record the session still uses (iscsiadm: session exists).
      expect(err.details['count']).toBe(3);
      expect(String(err.details['detail'])).toContain('flush /dev/dm-0');
      expect(String(err.details['detail'])).toContain(`logout ${P2}`);
      expect(String(err.details['detail'])).toContain(`delete node ${P2}`);
    }
    // Everything that could go, went.
    const snap = f.fake.snapshot();
    expect(snap.disks).toEqual([]);
    expect(snap.maps).toEqual([]);
    expect(snap.sessions).toEqual([`${P2},${IQN}`]);
    expect(snap.nodes).toEqual([`${P2},${IQN}`]);
  });

  it('ignoreErrors: no throw; the problems are in the trace and the log', async () => {
    const f = faulty();
    const logs: string[] = [];
    const conn = new IscsiConnector({ host: f.host, multipath: true, logger: (l) => logs.push(l.message) });
    const trace = new Trace(f.host.clock);
    await conn.connectVolume(trace.root(), two);
    await conn.settled();
    f.broken.add('multipath -f');
    await conn.disconnectVolume(trace.root(), two, { ignoreErrors: true });
    const span = trace.spans.find((s) => s.name === 'disconnect_volume');
    expect(span?.outcome).toBe('ok');
    expect(String(span?.attrs['failures'])).toContain(`multipath -f ${W1}`);
    expect(logs.some((l) => l.startsWith('disconnect_volume: 1 problem(s)'))).toBe(true);
  });

  it('a map busy for a moment (both of multipath-tools 0.9.4\'s answers) is flushed once it is free', async () => {
    const f = faulty();
    const logs: string[] = [];
    const conn = new IscsiConnector({ host: f.host, multipath: true, logger: (l) => logs.push(l.message) });
    const trace = new Trace(f.host.clock);
    await conn.connectVolume(trace.root(), two);
    await conn.settled();
    // As the storage host guest answered: udev's probe opened the map before multipath's
    // open-count check, then between the check and the remove ioctl (main's CI, healthy-multipath-no).
    f.busy.push(
      `Dec 05 11:02:13 | ${W1}: map in use\n`,
      `Dec 05 11:02:13 | libdevmapper: ioctl/libdm-iface.c(1980): device-mapper: remove ioctl on ${W1}  failed: Device or resource busy\nDec 05 11:02:13 | failed to remove multipath map ${W1}\n`,
    );
    const t0 = f.host.clock.now();
    await conn.disconnectVolume(trace.root(), two);
    expect(f.commands.filter((c) => c === `multipath -f ${W1}`)).toHaveLength(3);
    // Two pauses on the host's clock, the first two of the schedule.
    expect(f.host.clock.now() - t0).toBeGreaterThanOrEqual(750);
    expect(logs.filter((l) => l.includes('the map is busy'))).toHaveLength(2);
    const snap = f.fake.snapshot();
    expect(snap).toEqual({ nodes: [], sessions: [], disks: [], maps: [] });
  });

  it('a map that stays busy: the flush gives up after its last pause, with multipath\'s words', async () => {
    const f = faulty();
    const conn = new IscsiConnector({ host: f.host, multipath: true });
    const trace = new Trace(f.host.clock);
    await conn.connectVolume(trace.root(), two);
    await conn.settled();
    for (let i = 0; i < 10; i++) f.busy.push(`${W1}: map in use\n`);
    const err = await conn.disconnectVolume(trace.root(), two).catch((e: unknown) => e);
    expect(isHitchError(err, 'HITCH_DISCONNECT_FAILED')).toBe(true);
    expect(String(isHitchError(err) ? err.details['detail'] : '')).toContain(`${W1}: map in use`);
    // The first try and one after each of the five pauses.
    expect(f.commands.filter((c) => c === `multipath -f ${W1}`)).toHaveLength(6);
  });
});
