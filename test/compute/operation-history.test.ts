/**
 * The operation history API (`/compute/v2.1/os-hitch-operations`): every attach and detach of
 * the project, newest first, failed (rolled back) ones included, filtered by status, kind,
 * server and volume, paged with limit and marker; another project's are not there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCloud, volumeAndServer, type TestCloud } from '../support/cloud.ts';

describe('operation history', () => {
  let t: TestCloud;
  let token: string;
  let serverId: string;
  const vols: string[] = [];
  const ops: string[] = [];
  beforeAll(async () => {
    t = await startTestCloud();
    const first = await volumeAndServer(t);
    token = first.token;
    serverId = first.serverId;
    vols.push(first.volumeId);
    for (let i = 0; i < 2; i++) {
      const v = await t.api('POST', `/volume/v3/${first.projectId}/volumes`, { token, body: { volume: { size: 1, name: `h${i}` } } });
      vols.push(v.body.volume.id);
    }
    await t.cloud.settle();
    // Three attaches, then a detach.
    for (const v of vols) {
      const r = await t.api('POST', `/compute/v2.1/servers/${serverId}/os-volume_attachments`, { token, body: { volumeAttachment: { volumeId: v } } });
      ops.push(r.headers.get('x-hitch-operation-id') as string);
      await t.cloud.settle();
    }
    const d = await t.api('DELETE', `/compute/v2.1/servers/${serverId}/os-volume_attachments/${vols[0]}`, { token });
    ops.push(d.headers.get('x-hitch-operation-id') as string);
    await t.cloud.settle();
  });
  afterAll(async () => t?.close());

  const list = async (q: string, tok = token) => t.api('GET', `/compute/v2.1/os-hitch-operations${q ? `?${q}` : ''}`, { token: tok });

  it('lists every operation newest first, with outcome and times, without spans', async () => {
    const r = await list('');
    expect(r.status).toBe(200);
    expect(r.body.operations.map((o: { id: string }) => o.id)).toEqual([...ops].reverse());
    const detach = r.body.operations[0];
    expect(detach).toMatchObject({ kind: 'detach', state: 'done', server_id: serverId, volume_id: vols[0], request_id: expect.stringMatching(/^req-/) });
    expect(detach.duration_ms).toBeGreaterThanOrEqual(0);
    expect(detach.created_at).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(detach.spans).toBeUndefined();
  });

  it('filters by kind, volume and status, and pages with limit and marker', async () => {
    expect((await list('kind=detach')).body.operations.map((o: { id: string }) => o.id)).toEqual([ops[3]]);
    expect((await list(`volume_id=${vols[0]}`)).body.operations).toHaveLength(2);
    expect((await list('status=failed')).body.operations).toEqual([]);
    expect((await list('status=done')).body.operations).toHaveLength(4);
    const p1 = await list('limit=3');
    expect(p1.body.operations).toHaveLength(3);
    const next = new URL(p1.body.operations_links[0].href);
    expect(next.searchParams.get('marker')).toBe(p1.body.operations[2].id);
    const p2 = await list(`limit=3&marker=${next.searchParams.get('marker')}`);
    expect(p2.body.operations.map((o: { id: string }) => o.id)).toEqual([ops[0]]);
    expect(p2.body.operations_links).toBeUndefined();
  });

  it('refuses what it cannot answer, in words', async () => {
    expect((await list('status=broken')).body.badRequest.message).toMatch(/^Invalid argument: status must be running, done or failed \(got broken\)/);
    expect((await list('limit=0')).status).toBe(400);
    expect((await list('server_id=nope')).status).toBe(400);
    expect((await list('marker=00000000-0000-4000-8000-000000000000')).body.badRequest.message).toBe('marker [00000000-0000-4000-8000-000000000000] not found');
  });

  it('shows a project only its own; an admin every project when asked', async () => {
    const admin = (await t.token('admin')).token;
    expect((await list('', admin)).body.operations).toEqual([]);
    expect((await list('all_projects=true', admin)).body.operations).toHaveLength(4);
  });
});
