/**
 * Issue 23, defect 2, on a real file system: the data dir on an 8 MB tmpfs, filled by another
 * file the moment the attach reaches its hot-plug. SQLite then meets a real ENOSPC (SQLITE_FULL)
 * on every write, the undo of the attach among them — as the report reproduced it (the volume
 * stayed `reserved` for good, with an orphan attachment). disk-full.test.ts models the same with
 * injected faults; this one lets the kernel say it.
 *
 * While the disk is full the operation must stay unfinished (not `rolled_back`). Once the filler
 * is removed: freed in process, the retried compensation ends it; or the process stops first and
 * the next start's recovery ends it. Either way the volume is `available` with no attachment
 * left, and can be attached and deleted.
 *
 * 8 MB, not the report's 2: a fresh cloud's hitch.db and its WAL (which grows to ~4 MB before
 * SQLite's automatic checkpoint) filled 2 MB by themselves before the attach reached its hot-plug,
 * so the disk was full at another step than the one this test means.
 *
 * Needs root (mount). Under CI=true a failed mount is a failure, not a skip.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkInvariants } from '../../src/fuzz/invariants.ts';
import { peerRequired } from '../../src/test-support/postgres.ts';
import { startTestCloud, volumeAndServer, type TestCloud } from '../support/cloud.ts';

const mnt = mkdtempSync(join(tmpdir(), 'hitch-tmpfs-'));
let mounted = false;
let mountError = '';
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0700', 'tmpfs', mnt], { stdio: 'pipe' });
  mounted = true;
} catch (e) {
  mountError = e instanceof Error ? e.message : String(e);
}
if (!mounted && !peerRequired()) console.warn(`[hitch] skipping the tmpfs disk-full test: cannot mount a tmpfs (${mountError.split('\n')[0]}); it needs root`);

/** Fill the file system of `dir` to its last byte with one file; its path. */
function fill(dir: string): string {
  const f = join(dir, 'filler');
  const fd = openSync(f, 'w');
  const chunk = Buffer.alloc(16 * 1024, 0x5a);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd);
  }
  // What is left is smaller than a chunk: take it too.
  const fd2 = openSync(f, 'a');
  try {
    for (;;) writeSync(fd2, Buffer.alloc(512, 0x5a));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd2);
  }
  return f;
}

(mounted || peerRequired() ? describe : describe.skip)('a data dir on an 8 MB tmpfs that fills during an attach', () => {
  beforeAll(() => {
    if (!mounted) throw new Error(`mount -t tmpfs failed: ${mountError} (the test runs as root, as CI does)`);
  });
  afterAll(() => {
    if (mounted) execFileSync('umount', ['-l', mnt]);
    rmSync(mnt, { recursive: true, force: true });
  });

  for (const when of ['in process', 'after a restart'] as const) {
    it(`ends with the volume available and nothing left, the space freed ${when}`, async () => {
      const dir = join(mnt, when === 'in process' ? 'a' : 'b');
      mkdirSync(dir, { mode: 0o700 });
      let filler: string | null = null;
      const armed = { value: true };
      const t: TestCloud = await startTestCloud(
        { dataDir: dir },
        {
          onStep: (op, step) => {
            if (armed.value && op.kind === 'attach' && step === 'hotplug') {
              armed.value = false;
              filler = fill(mnt);
            }
          },
        },
      );
      let again: TestCloud | undefined;
      try {
        const { token, volumeId, serverId } = await volumeAndServer(t);
        const ctx = await t.cloud.identity.authenticate(token);
        const h = await t.cloud.compute.attachVolume(ctx, serverId, volumeId, null, `req-tmpfs-${when.replace(/ /g, '-')}`);
        // The flow ends (its rollback tried each undo on the host clock) while the disk is full.
        await h.done;
        const op0 = await t.cloud.computeRepository.getOperation(h.operationId);
        expect(filler, JSON.stringify(op0)).not.toBeNull();
        // The journal cannot say rolled_back, and the volume is not free yet.
        expect((await t.cloud.computeRepository.getOperation(h.operationId))?.state).toBe('running');
        expect((await t.cloud.volumes.get({ userId: ctx.userId, projectId: ctx.projectId ?? '', isAdmin: true }, volumeId)).status).not.toBe('available');

        let c = t;
        if (when === 'in process') {
          unlinkSync(filler as unknown as string);
          await t.cloud.settle();
        } else {
          for (const host of t.cloud.hosts) host.manager.stopReaping();
          await t.cloud.close({ drainMs: 0 }).catch(() => undefined);
          unlinkSync(filler as unknown as string);
          again = await startTestCloud({ dataDir: dir });
          await again.cloud.settle();
          c = again;
        }
        const ctoken = (await c.token('demo')).token;
        const op = (await c.api('GET', `/compute/v2.1/servers/${serverId}/os-volume_attachments/${volumeId}/trace`, { token: ctoken })).body.operations.find((o: { kind: string }) => o.kind === 'attach');
        expect(op.state).toBe('rolled_back');
        expect((await c.api('GET', `/volume/v3/volumes/${volumeId}`, { token: ctoken })).body.volume.status).toBe('available');
        expect(await c.cloud.volumes.listAttachments({ userId: 'x', projectId: 'x', isAdmin: true }, { allTenants: true })).toEqual([]);
        expect(await c.cloud.computeRepository.listAllBdms()).toEqual([]);
        expect(await checkInvariants(c.cloud)).toEqual([]);
        // Attachable again, and deletable once detached.
        const again2 = await c.api('POST', `/compute/v2.1/servers/${serverId}/os-volume_attachments`, { token: ctoken, body: { volumeAttachment: { volumeId } } });
        expect(again2.status, JSON.stringify(again2.body)).toBe(200);
        await c.cloud.settle();
        expect((await c.api('GET', `/volume/v3/volumes/${volumeId}`, { token: ctoken })).body.volume.status).toBe('in-use');
        expect((await c.api('DELETE', `/compute/v2.1/servers/${serverId}/os-volume_attachments/${volumeId}`, { token: ctoken })).status).toBe(202);
        await c.cloud.settle();
        expect((await c.api('DELETE', `/volume/v3/volumes/${volumeId}`, { token: ctoken })).status).toBe(202);
        await c.cloud.settle();
        expect((await c.api('GET', `/volume/v3/volumes/${volumeId}`, { token: ctoken })).status).toBe(404);
      } finally {
        await again?.close().catch(() => undefined);
        await t.close().catch(() => undefined);
        rmSync(dir, { recursive: true, force: true });
      }
    }, 120_000);
  }
});
