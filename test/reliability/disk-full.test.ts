/**
 * Issue 23, defect 2: a disk that filled during an attach left the volume `reserved` for good.
 * The operation ended `rolled_back` ("cannot rollback - no transaction is active"), its
 * `release-volume` undo failed three times and was never tried again, and after a restart the
 * volume still had an orphan attachment and no mapping.
 *
 * Here the database's disk fills as the attach reaches its hot-plug (every write fails with
 * SQLITE_FULL, reads work, as on a full file system), so the attach fails and its undo cannot
 * write. The operation must stay unfinished in the journal — not `rolled_back` — until every
 * undo really happened; once space is back, the retried compensation (or, after a restart,
 * recovery) ends it, with the volume `available` and nothing left anywhere.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DbFaultKind, DbFaults } from '../../src/db/faults.ts';
import { openDatabase, type HitchDb } from '../../src/db/open-database.ts';
import { checkInvariants } from '../../src/fuzz/invariants.ts';
import type { AuthContext } from '../../src/identity/identity-service.ts';
import { createServices, type Services } from '../../src/server/cloud.ts';
import { resolveConfig } from '../../src/server/config.ts';

/** A file system that is full while `full` is set: writes fail, reads and BEGIN work. */
class FullDisk implements DbFaults {
  full = false;
  injected = 0;
  draw(sql: string): DbFaultKind | null {
    if (!this.full || /^\s*(select|begin|pragma)\b/i.test(sql)) return null;
    this.injected++;
    return 'SQLITE_FULL';
  }
}

const caller = { userId: 'u1', projectId: 'p1', isAdmin: false };
const ctx: AuthContext = { userId: 'u1', userName: 'u1', projectId: 'p1', projectName: 'p1', roles: ['member'], isAdmin: false, tokenMask: '', expiresAt: '' };

let db: HitchDb | undefined;
afterEach(async () => {
  await db?.close();
  db = undefined;
});

async function world(disk: FullDisk, flow: 'attachments' | 'legacy') {
  db = await openDatabase('sqlite::memory:', { faults: disk });
  const config = resolveConfig({ scenario: 'healthy-multipath', seed: 7, cinderFlow: flow, dataDir: '/nonexistent-hitch-test', databaseUrl: 'sqlite::memory:' }, {});
  const database = db;
  const build = (plane?: Services['dataPlane']): Promise<Services> =>
    createServices({
      config,
      database,
      ...(plane ? { dataPlane: plane } : {}),
      // The disk fills as the hot-plug starts: the attach fails there, and its undo cannot write.
      onStep: (op, step) => {
        if (op.kind === 'attach' && step === 'hotplug' && !plane) disk.full = true;
      },
    });
  const s = await build();
  const volumeId = (await s.volumes.create(caller, { size: 1, name: 'v' })).id;
  const serverId = (await s.compute.createServer(ctx, { name: 'vm', imageRef: 'hitch-tiny', flavorRef: '1' })).id;
  await s.settle();
  return { s, volumeId, serverId, build };
}

describe.each(['attachments', 'legacy'] as const)('a disk that fills during an attach (%s flow)', (flow) => {
  it('keeps the operation unfinished while its undo cannot write, and rolls it back once space is back', async () => {
    const disk = new FullDisk();
    const { s, volumeId, serverId } = await world(disk, flow);
    const h = await s.compute.attachVolume(ctx, serverId, volumeId, null, 'req-full-1');
    // The flow ends (its rollback retried each undo three times on the host clock) while the
    // disk is still full: the journal must still say the operation is running.
    await h.done;
    expect(disk.injected).toBeGreaterThan(0);
    const during = await s.computeRepository.getOperation(h.operationId);
    expect(during?.state).toBe('running');
    expect((await s.volumes.get({ ...caller, isAdmin: true }, volumeId)).status).not.toBe('available');

    disk.full = false;
    await s.settle();
    const op = await s.computeRepository.getOperation(h.operationId);
    expect(op?.state).toBe('rolled_back');
    expect((await s.volumes.get(caller, volumeId)).status).toBe('available');
    expect(await s.volumes.listAttachments({ ...caller, isAdmin: true }, { allTenants: true })).toEqual([]);
    expect(await s.computeRepository.listAllBdms()).toEqual([]);
    expect(await checkInvariants(s)).toEqual([]);
  });

  it('finishes the undo after a restart when the process stopped before the disk was freed', async () => {
    const disk = new FullDisk();
    const { s, volumeId, serverId, build } = await world(disk, flow);
    const h = await s.compute.attachVolume(ctx, serverId, volumeId, null, 'req-full-2');
    await h.done;
    expect((await s.computeRepository.getOperation(h.operationId))?.state).toBe('running');
    // The process stops (its retries stop with it); space is freed; a new one starts.
    for (const host of s.hosts) host.manager.stopReaping();
    await s.settle();
    disk.full = false;
    const again = await build(s.dataPlane);
    await again.settle();
    expect((await again.computeRepository.getOperation(h.operationId))?.state).toBe('rolled_back');
    expect((await again.volumes.get(caller, volumeId)).status).toBe('available');
    expect(await again.volumes.listAttachments({ ...caller, isAdmin: true }, { allTenants: true })).toEqual([]);
    expect(await checkInvariants(again)).toEqual([]);
  });
});
