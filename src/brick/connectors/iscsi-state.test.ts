/**
 * What the reaper may look at: owned targets with no claim and no background work. The set is
 * kept up to date as targets are owned, claimed, released and disowned, so a pass costs what
 * there is to reap rather than what the host has attached.
 */
import { describe, expect, it } from 'vitest';
import { IscsiHostState, volumeKey } from './iscsi-state.ts';

const A = { portal: '192.0.2.10:3260', iqn: 'iqn.2010-10.org.openstack:volume-a', lun: 1 };
const A2 = { ...A, lun: 2 };
const B = { portal: '[2001:db8::1]:3260', iqn: 'iqn.2010-10.org.openstack:volume-b', lun: 0 };
const keys = (s: IscsiHostState): string[] => s.reapable().map((t) => `${t.portal},${t.iqn}`);

describe('IscsiHostState.reapable', () => {
  it('follows own, claim, unclaim and disown, per target and across LUNs', () => {
    const s = new IscsiHostState();
    s.claim([A]);
    s.own(A);
    expect(keys(s)).toEqual([]);
    s.claim([A2]);
    s.unclaim([A]);
    // LUN 2 of the same target is still claimed.
    expect(keys(s)).toEqual([]);
    s.own(B);
    expect(keys(s)).toEqual([`${B.portal},${B.iqn}`]);
    s.unclaim([A2]);
    expect(keys(s).sort()).toEqual([`${A.portal},${A.iqn}`, `${B.portal},${B.iqn}`].sort());
    s.disown(A);
    s.disown(B);
    expect(keys(s)).toEqual([]);
    // Releasing a claim on a target nobody owns does not make it reapable.
    s.claim([A]);
    s.unclaim([A]);
    expect(keys(s)).toEqual([]);
  });

  it('keeps a target with a map to flush, and one with background work until that work settles', async () => {
    const s = new IscsiHostState();
    s.unflushedMap(A, 'mpatha');
    s.disown(A);
    expect(keys(s)).toEqual([`${A.portal},${A.iqn}`]);
    s.mapsFlushed(A);
    s.disown(A);
    expect(keys(s)).toEqual([]);

    s.own(A);
    s.own(B);
    let finish!: () => void;
    const done = new Promise<void>((r) => (finish = r));
    s.setBackground(volumeKey([A, B]), new AbortController(), done);
    expect(s.backgroundOn(A) && s.backgroundOn(B)).toBe(true);
    expect(keys(s)).toEqual([]);
    // A second connect of the same volume replaces the first one's entry; counts stay right.
    let finish2!: () => void;
    const done2 = new Promise<void>((r) => (finish2 = r));
    s.setBackground(volumeKey([A, B]), new AbortController(), done2);
    finish();
    await done;
    await Promise.resolve();
    expect(keys(s)).toEqual([]);
    finish2();
    await s.settled();
    await Promise.resolve();
    expect(s.backgroundOn(A)).toBe(false);
    expect(keys(s).sort()).toEqual([`${A.portal},${A.iqn}`, `${B.portal},${B.iqn}`].sort());
  });
});

describe('IscsiHostState.startLogin', () => {
  it('guesses nothing before a session is known, then the next numbers by order among the logins in flight', () => {
    const s = new IscsiHostState();
    const first = s.startLogin();
    expect(first.guesses).toEqual([]);
    first.end();
    s.rememberSession(A, 3);
    // One login at a time: the next number, then the one after it.
    const alone = s.startLogin();
    expect(alone.guesses).toEqual([4, 5]);
    alone.end();
    // A volume's two portals logging in together: each its own number first, the other's second.
    const p1 = s.startLogin();
    const p2 = s.startLogin();
    expect(p1.guesses).toEqual([4, 5]);
    expect(p2.guesses).toEqual([5, 4]);
    p1.end();
    p1.end(); // idempotent: one login counted once
    p2.end();
    expect(s.startLogin().guesses).toEqual([4, 5]);
  });
});
