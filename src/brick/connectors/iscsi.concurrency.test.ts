import { describe, expect, it } from 'vitest';
import { isHitchError } from '../../errors.ts';
import { rig } from './iscsi.test-helpers.ts';

describe('20 concurrent attaches on one host, 20 targets, one dead', () => {
  it('every healthy attach returns at the single-attach time: per-target locks, no host-wide lock', async () => {
    const targets = Array.from({ length: 20 }, (_, i) => ({
      iqn: `iqn.2010-10.org.openstack:volume-${String(i).padStart(4, '0')}`,
      portals: [`10.0.${i}.1:3260`],
      luns: { 1: { wwn: `3600000000000000000000000000${String(i).padStart(5, '0')}` } },
    }));
    const dead = targets[7]?.portals[0] ?? '';
    const r = rig({ targets, deadPortals: [dead] });
    const done: Array<{ i: number; at: number; ok: boolean; code?: string }> = [];
    const infos = targets.map((t) => ({ target_portal: t.portals[0], target_iqn: t.iqn, target_lun: 1 }));

    // The time one healthy attach takes alone on an idle host.
    const solo = rig({ targets: targets.slice(0, 1) });
    await solo.conn.connectVolume(solo.trace.root(), infos[0]);
    const single = solo.now();

    await Promise.all(
      infos.map((ci, i) =>
        r.conn.connectVolume(r.trace.root(), ci).then(
          () => done.push({ i, at: r.now(), ok: true }),
          (e: unknown) => done.push({ i, at: r.now(), ok: false, ...(isHitchError(e) ? { code: e.code } : {}) }),
        ),
      ),
    );
    const healthy = done.filter((d) => d.i !== 7);
    expect(healthy.every((d) => d.ok)).toBe(true);
    const slowest = Math.max(...healthy.map((d) => d.at));
    // ≈ one attach, not 19 of them in a row (which would be ≥ 19 × single).
    expect(slowest).toBe(single);
    expect(slowest).toBeLessThan(2 * single);
    // The dead one fails on its own clock (iscsid's 120 s) without having held anybody up.
    const deadOne = done.find((d) => d.i === 7);
    expect(deadOne).toMatchObject({ ok: false, code: 'HITCH_ISCSI_LOGIN_FAILED' });
    expect(deadOne?.at).toBeGreaterThanOrEqual(120_000);
    const snap = r.state();
    expect(snap.sessions).toHaveLength(19);
    expect(snap.nodes.some((n) => n.startsWith(dead))).toBe(false);
  });
});
