/**
 * The all-in-one cloud for benchmarks: `createCloud` on a scenario and a database, listening on
 * loopback, driven over its real HTTP APIs (identity, volumes, compute) like a client would.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCloud, type Cloud, type CloudOptions } from '../../src/server/cloud.ts';
import { resolveConfig } from '../../src/server/config.ts';
import { TINY_IMAGE_ID } from '../../src/compute/images.ts';

/** The bench clouds' passwords (throwaway clouds on loopback). */
export const BENCH_ADMIN_PASSWORD = 'bench-Admin-Secret-1';
export const BENCH_DEMO_PASSWORD = 'bench-Demo-Secret-2';

/** A demo-project session on a cloud's HTTP APIs (in this process or another). */
export interface BenchApi {
  readonly url: string;
  readonly token: string;
  readonly projectId: string;
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
  close(): Promise<void>;
}

/** Log in as the demo user of the cloud at `url` (loopback) and a client for its APIs. */
export async function demoSession(url: string): Promise<Pick<BenchApi, 'token' | 'projectId' | 'api'>> {
  const r = await fetch(`${url}/identity/v3/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: { methods: ['password'], password: { user: { name: 'demo', domain: { id: 'default' }, password: BENCH_DEMO_PASSWORD } } },
        scope: { project: { name: 'demo', domain: { id: 'default' } } },
      },
    }),
  });
  if (r.status !== 201) throw new Error(`token: ${r.status} ${await r.text()}`);
  const token = r.headers.get('x-subject-token') ?? '';
  const projectId = ((await r.json()) as { token: { project: { id: string } } }).token.project.id;
  const api: BenchApi['api'] = async (method, path, body) => {
    const headers: Record<string, string> = { accept: 'application/json', 'x-auth-token': token };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${url}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as unknown) : null };
  };
  return { token, projectId, api };
}

export interface BenchCloud extends BenchApi {
  readonly cloud: Cloud;
}

export interface BenchCloudOptions {
  readonly scenario: string;
  /** `sqlite` (a file in a temp dir) or a `postgres://` URL. */
  readonly database?: string;
  readonly onFinished?: CloudOptions['onFinished'];
}

/** Compute quota values that let a project create as many servers as a bench or test needs. */
export const UNLIMITED_SERVERS = Object.freeze({ instances: -1, cores: -1, ram: -1 });

export async function startBenchCloud(opts: BenchCloudOptions): Promise<BenchCloud> {
  const dir = mkdtempSync(join(tmpdir(), 'hitch-bench-'));
  const config = resolveConfig(
    { dataDir: dir, port: 0, logLevel: 'silent', scenario: opts.scenario, ...(opts.database && opts.database !== 'sqlite' ? { databaseUrl: opts.database } : {}) },
    {},
  );
  const cloud = await createCloud({ config, credentials: { adminPassword: BENCH_ADMIN_PASSWORD, demoPassword: BENCH_DEMO_PASSWORD }, ...(opts.onFinished ? { onFinished: opts.onFinished } : {}) });
  const addr = await cloud.app.listen({ host: '127.0.0.1', port: 0 });
  const url = addr.replace('localhost', '127.0.0.1');
  const { token, projectId, api } = await demoSession(url);
  // The bench's servers outnumber Nova's default quota of 10 instances.
  await cloud.compute.quotas.set(projectId, UNLIMITED_SERVERS);
  // The bench makes thousands of volumes, far over Cinder's default quota (10 a project): as an
  // operator would, lift the demo project's volume quotas.
  await cloud.volumes.quotas.setProject(projectId, { volumes: -1, gigabytes: -1, snapshots: -1 });
  return {
    cloud,
    url,
    token,
    projectId,
    api,
    async close() {
      await cloud.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function field(body: unknown, ...path: string[]): string {
  let v: unknown = body;
  for (const k of path) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined;
  if (typeof v !== 'string') throw new Error(`no ${path.join('.')} in ${JSON.stringify(body).slice(0, 300)}`);
  return v;
}

export async function createVolume(c: BenchApi, name = 'bench'): Promise<string> {
  const r = await c.api('POST', `/volume/v3/${c.projectId}/volumes`, { volume: { size: 1, name } });
  if (r.status !== 202) throw new Error(`volume create: ${r.status} ${JSON.stringify(r.body)}`);
  return field(r.body, 'volume', 'id');
}

export async function createServer(c: BenchApi, name = 'vm'): Promise<string> {
  const r = await c.api('POST', '/compute/v2.1/servers', { server: { name, imageRef: TINY_IMAGE_ID, flavorRef: '1' } });
  if (r.status !== 202) throw new Error(`server create: ${r.status} ${JSON.stringify(r.body)}`);
  return field(r.body, 'server', 'id');
}

export async function attach(c: BenchApi, serverId: string, volumeId: string): Promise<void> {
  const r = await c.api('POST', `/compute/v2.1/servers/${serverId}/os-volume_attachments`, { volumeAttachment: { volumeId } });
  if (r.status !== 200) throw new Error(`attach: ${r.status} ${JSON.stringify(r.body)}`);
}

export async function detach(c: BenchApi, serverId: string, volumeId: string): Promise<void> {
  const r = await c.api('DELETE', `/compute/v2.1/servers/${serverId}/os-volume_attachments/${volumeId}`);
  if (r.status !== 202) throw new Error(`detach: ${r.status} ${JSON.stringify(r.body)}`);
}

export async function volumeStatus(c: BenchApi, volumeId: string): Promise<string> {
  const r = await c.api('GET', `/volume/v3/${c.projectId}/volumes/${volumeId}`);
  return field(r.body, 'volume', 'status');
}
