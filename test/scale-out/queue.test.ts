/**
 * Scale-out on PostgreSQL, in one process: an API cloud with no compute host of its own and
 * three agents (compute-1..3) sharing the database and one simulated world. Work reaches the
 * owning agent through the queue; a host whose agent is gone fails fast with a clear error; an
 * agent that comes back takes work again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompiledQuery } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkInvariants } from '../../src/fuzz/invariants.ts';
import type { Cloud } from '../../src/server/cloud.ts';
import { resolveConfig } from '../../src/server/config.ts';
import { createDataPlane, type DataPlane } from '../../src/server/data-plane.ts';
import { startAgent, startApi, type RunningAgent } from '../../src/server/scale-out.ts';
import { findPgBin, peerRequired, startPostgres, type PgCluster } from '../../src/test-support/postgres.ts';
import { ADMIN_PASSWORD, DEMO_PASSWORD, freePort } from '../support/cloud.ts';
import { TINY_IMAGE_ID } from '../../src/compute/images.ts';

const missing = !findPgBin() && !process.env['HITCH_TEST_PG_URL'];
if (missing && !peerRequired()) console.warn('[hitch] skipping scale-out queue test: PostgreSQL not installed (scripts/install-test-peers.sh)');

(missing && !peerRequired() ? describe.skip : describe)('scale-out through the PostgreSQL queue (in process)', () => {
  let pg: PgCluster;
  let api: Cloud;
  let plane: DataPlane;
  let dir: string;
  const agents = new Map<string, RunningAgent>();
  let config: ReturnType<typeof resolveConfig>;

  beforeAll(async () => {
    pg = await startPostgres();
    dir = mkdtempSync(join(tmpdir(), 'hitch-scale-'));
    const port = await freePort();
    // Host-down after 120 s, not 6: on a loaded 2-core machine a starved agent could miss two
    // 3-s heartbeats, and a request would fail for a timing. (Down on purpose is a sign-off.)
    config = resolveConfig({ dataDir: dir, port, databaseUrl: await pg.createDatabase(), scenario: 'three-hosts', hostDownAfterMs: 120_000 }, {});
    plane = await createDataPlane(config);
    // The first process to start migrates and seeds; the agents find the schema in place.
    api = await startApi({ config, credentials: { adminPassword: ADMIN_PASSWORD, demoPassword: DEMO_PASSWORD }, dataPlane: plane });
    await api.app.listen({ host: '127.0.0.1', port });
    // The cases make more volumes in the demo project than Cinder's default quota of 10.
    await api.volumes.quotas.setClass('default', { volumes: -1 });
    for (const host of ['compute-1', 'compute-2', 'compute-3']) agents.set(host, await startAgent({ config, host, dataPlane: plane }));
  }, 600_000);
  afterAll(async () => {
    for (const a of agents.values()) await a.stop();
    await api?.close();
    await pg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const call = async (method: string, path: string, token: string, body?: unknown) => {
    const r = await fetch(`${config.publicUrl}${path}`, { method, headers: { 'x-auth-token': token, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : null };
  };
  const login = async () => {
    const r = await fetch(`${config.publicUrl}/identity/v3/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: 'demo', domain: { id: 'default' }, password: DEMO_PASSWORD } } }, scope: { project: { name: 'demo', domain: { id: 'default' } } } } }),
    });
    return { token: r.headers.get('x-subject-token') as string, projectId: ((await r.json()) as { token: { project: { id: string } } }).token.project.id };
  };
  /**
   * Bounded wait on state other workers (the agents) change; the API is the only view of it. The
   * bound is generous (a loaded 2-core machine), and it bounds a hang, it times nothing.
   */
  const until = async <T>(what: string, probe: () => Promise<T | undefined>): Promise<T> => {
    for (let i = 0; i < 4000; i++) {
      const v = await probe();
      if (v !== undefined) return v;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`timed out waiting for ${what}`);
  };

  it('places servers on every live host and runs their attaches and detaches on the owning agent', async () => {
    const { token, projectId } = await login();
    const servers: string[] = [];
    for (let i = 0; i < 6; i++) servers.push((await call('POST', '/compute/v2.1/servers', token, { server: { name: `s${i}`, imageRef: TINY_IMAGE_ID, flavorRef: '1' } })).body.server.id);
    for (const s of servers) await until(`server ${s} ACTIVE`, async () => ((await call('GET', `/compute/v2.1/servers/${s}`, token)).body.server.status === 'ACTIVE' ? true : undefined));
    const placed = await api.computeRepository.listServers(undefined);
    expect(new Set(placed.map((s) => s.host))).toEqual(new Set(['compute-1', 'compute-2', 'compute-3']));

    const volumes: string[] = [];
    for (let i = 0; i < 6; i++) volumes.push((await call('POST', `/volume/v3/${projectId}/volumes`, token, { volume: { size: 1 } })).body.volume.id);
    const posts = await Promise.all(servers.map((s, i) => call('POST', `/compute/v2.1/servers/${s}/os-volume_attachments`, token, { volumeAttachment: { volumeId: volumes[i] } })));
    expect(posts.map((p) => p.status)).toEqual(Array(6).fill(200));
    expect(posts.map((p) => p.body.volumeAttachment.device)).toEqual(Array(6).fill('/dev/vdb'));
    for (const v of volumes) await until(`volume ${v} in-use`, async () => ((await call('GET', `/volume/v3/volumes/${v}`, token)).body.volume.status === 'in-use' ? true : undefined));
    // Each attach ran on its server's host: that host's kernel has the sessions.
    for (const h of ['compute-1', 'compute-2', 'compute-3']) expect(plane.sim!.inspectHost(h).sessions.length).toBeGreaterThan(0);
    const tasks = await api.queue.get((await api.db.db.selectFrom('compute_tasks' as never).select('id' as never).execute() as Array<{ id: string }>)[0]!.id);
    expect(tasks).toBeDefined();

    const dels = await Promise.all(servers.map((s, i) => call('DELETE', `/compute/v2.1/servers/${s}/os-volume_attachments/${volumes[i]}`, token)));
    expect(dels.map((d) => d.status)).toEqual(Array(6).fill(202));
    for (const v of volumes) await until(`volume ${v} available`, async () => ((await call('GET', `/volume/v3/volumes/${v}`, token)).body.volume.status === 'available' ? true : undefined));
    for (const a of agents.values()) await a.services.settle();
    // The invariants, from each agent's view: its host's kernel and hypervisor, the shared database and array.
    for (const a of agents.values()) expect((await checkInvariants(a.services)).join(" | "), a.agent.host).toBe("");
    // A bound on a hang (every wait inside is bounded too), not a timing.
  }, 900_000);

  it('a host is down after hostDownAfterMs without a heartbeat, not before (the configured value, read by the API process)', async () => {
    const { token, projectId } = await login();
    const servers = await api.computeRepository.listServers(undefined);
    const s = servers.find((x) => x.host === 'compute-3')!;
    const age = async (ms: number): Promise<void> => {
      await api.db.db.executeQuery(CompiledQuery.raw(`update compute_hosts set heartbeat_ms = (extract(epoch from clock_timestamp()) * 1000)::bigint - ${ms} where name = 'compute-3'`));
    };
    // Last heard of 60 s ago: down by the default 6 s, still up by this cloud's 120 s.
    await age(60_000);
    expect(await api.dispatch.liveHosts()).toContain('compute-3');
    const vol = (await call('POST', `/volume/v3/${projectId}/volumes`, token, { volume: { size: 1 } })).body.volume.id;
    expect((await call('POST', `/compute/v2.1/servers/${s.id}/os-volume_attachments`, token, { volumeAttachment: { volumeId: vol } })).status).toBe(200);
    await until('volume in-use', async () => ((await call('GET', `/volume/v3/volumes/${vol}`, token)).body.volume.status === 'in-use' ? true : undefined));
    // 100 s ago: still up.
    await age(100_000);
    expect(await api.dispatch.liveHosts()).toContain('compute-3');
    // 115 s ago: down already — a check calls a host down at eleven twelfths of the bound
    // (110 s), so the host is known down within hostDownAfterMs of its last heartbeat, not just
    // after it. (Its agent heartbeats every 60 s: one landing between the two statements makes
    // it live again, so it is aged again each round.)
    await until('compute-3 down', async () => {
      await age(115_000);
      return (await api.dispatch.liveHosts()).includes('compute-3') ? undefined : true;
    });
    // Its agent's heartbeat brings it back (written here as the agent writes it, not waited for).
    const three = agents.get('compute-3')!;
    await three.services.queue.heartbeatMany(['compute-3'], three.agent.id);
    expect(await api.dispatch.liveHosts()).toContain('compute-3');
    expect((await call('DELETE', `/compute/v2.1/servers/${s.id}/os-volume_attachments/${vol}`, token)).status).toBe(202);
    await until('volume available', async () => ((await call('GET', `/volume/v3/volumes/${vol}`, token)).body.volume.status === 'available' ? true : undefined));
  }, 900_000);

  it('a host whose agent is gone fails fast with a clear error; its agent back, work resumes', async () => {
    const { token, projectId } = await login();
    const servers = await api.computeRepository.listServers(undefined);
    const victim = servers.find((s) => s.host === 'compute-2')!;
    await agents.get('compute-2')!.stop();
    agents.delete('compute-2');
    const vol = (await call('POST', `/volume/v3/${projectId}/volumes`, token, { volume: { size: 1 } })).body.volume.id;
    const r = await call('POST', `/compute/v2.1/servers/${victim.id}/os-volume_attachments`, token, { volumeAttachment: { volumeId: vol } });
    expect(r.status).toBe(409);
    expect(r.body.conflictingRequest.message).toContain('compute-2');
    expect((await call('GET', `/volume/v3/volumes/${vol}`, token)).body.volume.status).toBe('available');
    // New servers go to live hosts only.
    const s = (await call('POST', '/compute/v2.1/servers', token, { server: { name: 'late', imageRef: TINY_IMAGE_ID, flavorRef: '1' } })).body.server.id;
    expect((await api.computeRepository.getServerAny(s))!.host).not.toBe('compute-2');

    agents.set('compute-2', await startAgent({ config, host: 'compute-2', dataPlane: plane }));
    const again = await call('POST', `/compute/v2.1/servers/${victim.id}/os-volume_attachments`, token, { volumeAttachment: { volumeId: vol } });
    expect(again.status).toBe(200);
    await until('volume in-use', async () => ((await call('GET', `/volume/v3/volumes/${vol}`, token)).body.volume.status === 'in-use' ? true : undefined));
    // A bound on a hang (every wait inside is bounded too), not a timing.
  }, 900_000);

  it('one agent process serves several hosts, each with its own manager and claims', async () => {
    const { token, projectId } = await login();
    for (const a of agents.values()) await a.stop();
    agents.clear();
    const many = await startAgent({ config, hosts: ['compute-1', 'compute-2', 'compute-3'], dataPlane: plane });
    agents.set('all', many);
    expect(many.agent.hosts.sort()).toEqual(['compute-1', 'compute-2', 'compute-3']);
    expect(many.services.hosts.map((h) => h.name).sort()).toEqual(['compute-1', 'compute-2', 'compute-3']);
    const servers = await api.computeRepository.listServers(undefined);
    const one = ['compute-1', 'compute-2', 'compute-3'].map((h) => servers.find((s) => s.host === h)!);
    const vols: string[] = [];
    for (let i = 0; i < 3; i++) vols.push((await call('POST', `/volume/v3/${projectId}/volumes`, token, { volume: { size: 1 } })).body.volume.id);
    const posts = await Promise.all(one.map((s, i) => call('POST', `/compute/v2.1/servers/${s.id}/os-volume_attachments`, token, { volumeAttachment: { volumeId: vols[i] } })));
    expect(posts.map((p) => p.status)).toEqual([200, 200, 200]);
    for (const v of vols) await until(`volume ${v} in-use`, async () => ((await call('GET', `/volume/v3/volumes/${v}`, token)).body.volume.status === 'in-use' ? true : undefined));
    // Each attach ran on its own server's host, all claimed by the one process.
    for (const [i, s] of one.entries()) {
      const bdm = await api.computeRepository.getBdm(s.id, vols[i]!);
      const info = JSON.parse(bdm!.connection_info!) as { data: { target_iqn: string } };
      expect(plane.sim!.inspectHost(s.host).sessions.map((x) => x.target), s.host).toContain(info.data.target_iqn);
    }
    const claimers = await api.db.db.selectFrom('compute_tasks' as never).select('claimed_by' as never).where('kind' as never, '=', 'attach' as never).execute() as Array<{ claimed_by: string }>;
    expect(claimers.filter((c) => c.claimed_by === many.agent.id)).toHaveLength(3);
    for (const [i, s] of one.entries()) expect((await call('DELETE', `/compute/v2.1/servers/${s.id}/os-volume_attachments/${vols[i]}`, token)).status).toBe(202);
    for (const v of vols) await until(`volume ${v} available`, async () => ((await call('GET', `/volume/v3/volumes/${v}`, token)).body.volume.status === 'available' ? true : undefined));
    // A bound on a hang (every wait inside is bounded too), not a timing.
  }, 900_000);

  it('a killed listening connection does not stall the queue: work goes on, the listener comes back', async () => {
    const { token, projectId } = await login();
    const many = agents.get('all')!;
    const agentListener = many.agent.listener!;
    const apiListener = (api.dispatch as unknown as { listener: { connects: number; backendPid: number | null } }).listener;
    const before = { agent: agentListener.connects, api: apiListener.connects };
    // End both listening connections from the server side, as an administrator or a failover would.
    const killed = await api.db.db.executeQuery<{ pid: number }>(
      CompiledQuery.raw(`select pid, pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and application_name like 'hitch-listen %'`),
    );
    expect(killed.rows.length).toBe(2);
    // Work queued right away, while the listeners may still be down: it must still run.
    const servers = await api.computeRepository.listServers(undefined);
    const vols: string[] = [];
    for (let i = 0; i < 3; i++) vols.push((await call('POST', `/volume/v3/${projectId}/volumes`, token, { volume: { size: 1 } })).body.volume.id);
    const posts = await Promise.all(vols.map((v, i) => call('POST', `/compute/v2.1/servers/${servers[i]!.id}/os-volume_attachments`, token, { volumeAttachment: { volumeId: v } })));
    expect(posts.map((p) => p.status)).toEqual([200, 200, 200]);
    for (const v of vols) await until(`volume ${v} in-use`, async () => ((await call('GET', `/volume/v3/volumes/${v}`, token)).body.volume.status === 'in-use' ? true : undefined));
    await until('both listeners reconnected', async () => (agentListener.connects > before.agent && apiListener.connects > before.api ? true : undefined));
    expect(killed.rows.map((r) => r.pid)).not.toContain(agentListener.backendPid);
    for (const [i, v] of vols.entries()) expect((await call('DELETE', `/compute/v2.1/servers/${servers[i]!.id}/os-volume_attachments/${v}`, token)).status).toBe(202);
    for (const v of vols) await until(`volume ${v} available`, async () => ((await call('GET', `/volume/v3/volumes/${v}`, token)).body.volume.status === 'available' ? true : undefined));
    // A bound on a hang (every wait inside is bounded too), not a timing.
  }, 900_000);

  it('a multiattach volume on three servers on two hosts: one connection per host, kept until the host\'s last detach (agents)', async () => {
    const r = await fetch(`${config.publicUrl}/identity/v3/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: 'admin', domain: { id: 'default' }, password: ADMIN_PASSWORD } } }, scope: { project: { name: 'admin', domain: { id: 'default' } } } } }),
    });
    const admin = r.headers.get('x-subject-token') as string;
    const mv = (v: string) => ({ 'x-auth-token': admin, 'content-type': 'application/json', 'openstack-api-version': `compute ${v}` });
    const post = async (path: string, body: unknown, v = '2.74') => {
      const res = await fetch(`${config.publicUrl}${path}`, { method: 'POST', headers: mv(v), body: JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as { server?: { id: string } } };
    };
    const vol = (await call('POST', '/volume/v3/volumes', admin, { volume: { size: 1, name: 'shared-agents', volume_type: 'multiattach' } })).body.volume.id as string;
    const place: Record<'a' | 'b' | 'c', string> = { a: 'compute-1', b: 'compute-1', c: 'compute-2' };
    const ids: Record<string, string> = {};
    for (const [name, host] of Object.entries(place)) ids[name] = (await post('/compute/v2.1/servers', { server: { name: `ma-${name}`, imageRef: TINY_IMAGE_ID, flavorRef: '1', networks: 'none', host } })).body.server?.id as string;
    for (const id of Object.values(ids)) await until(`server ${id} ACTIVE`, async () => ((await call('GET', `/compute/v2.1/servers/${id}`, admin)).body.server.status === 'ACTIVE' ? true : undefined));
    const attachments = async () => ((await call('GET', `/volume/v3/volumes/${vol}`, admin)).body.volume.attachments as Array<{ server_id: string }>).map((a) => a.server_id).sort();
    for (const id of Object.values(ids)) {
      expect((await post(`/compute/v2.1/servers/${id}/os-volume_attachments`, { volumeAttachment: { volumeId: vol } }, '2.60')).status).toBe(200);
      await until(`attached to ${id}`, async () => ((await attachments()).includes(id) ? true : undefined));
    }
    const footprint = (host: string) => {
      const h = plane.sim!.inspectHost(host);
      const disks = h.disks.filter((d) => d.target.endsWith(vol));
      const wwns = new Set(disks.map((d) => d.wwn));
      return { sessions: h.sessions.filter((x) => x.target.endsWith(vol)).length, disks: disks.length, maps: h.maps.filter((m) => wwns.has(m.wwn)).length };
    };
    const exported = () => plane.sim!.arrays().flatMap((a) => a.exports()).filter((e) => e.target.endsWith(vol)).flatMap((e) => e.acls.map((a) => a.initiator));
    const initiator = (host: string) => plane.sim!.host(host).config.initiator;
    expect(footprint('compute-1')).toEqual({ sessions: 2, disks: 2, maps: 1 });
    expect(footprint('compute-2')).toEqual({ sessions: 2, disks: 2, maps: 1 });
    const left = new Set(['a', 'b', 'c'] as const);
    for (const name of ['a', 'c', 'b'] as const) {
      expect((await call('DELETE', `/compute/v2.1/servers/${ids[name]}/os-volume_attachments/${vol}`, admin)).status).toBe(202);
      await until(`detached from ${name}`, async () => ((await attachments()).includes(ids[name]!) ? undefined : true));
      for (const a of agents.values()) await a.services.settle();
      left.delete(name);
      for (const host of ['compute-1', 'compute-2']) {
        const inUse = [...left].some((x) => place[x] === host);
        expect(footprint(host), `${host} after detaching ${name}`).toEqual(inUse ? { sessions: 2, disks: 2, maps: 1 } : { sessions: 0, disks: 0, maps: 0 });
        expect(exported().includes(initiator(host)), `export to ${host} after detaching ${name}`).toBe(inUse);
      }
    }
    // A bound on a hang (every wait inside is bounded too), not a timing.
  }, 900_000);
});
