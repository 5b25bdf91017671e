/**
 * Test helpers for the whole cloud: build the all-in-one composition on a scenario, listen on
 * loopback, and talk to it over its real HTTP APIs as a client would.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCloud, type Cloud, type CloudOptions } from '../../src/server/cloud.ts';
import { resolveConfig, type HitchConfig } from '../../src/server/config.ts';
import { freePort as freePortOn } from '../../src/server/serve.ts';
import { TINY_IMAGE_ID } from '../../src/compute/images.ts';

export const ADMIN_PASSWORD = 'admin-Test-Secret-1';
export const DEMO_PASSWORD = 'demo-Test-Secret-2';

export interface TestCloud {
  readonly cloud: Cloud;
  readonly url: string;
  readonly config: HitchConfig;
  /** A project-scoped token for `demo` (or `admin`). */
  token(user?: 'demo' | 'admin'): Promise<{ token: string; projectId: string }>;
  api(method: string, path: string, opts?: { token?: string; body?: unknown; headers?: Record<string, string> }): Promise<{ status: number; body: any; headers: Headers }>;
  close(): Promise<void>;
}

export async function startTestCloud(
  over: Partial<Record<keyof HitchConfig, unknown>> = {},
  extra: Partial<Pick<CloudOptions, 'wrapStorage' | 'onStep' | 'onFinished'>> = {},
): Promise<TestCloud> {
  const dir = mkdtempSync(join(tmpdir(), 'hitch-cloud-'));
  // The catalog advertises the public URL, so the port must be known before the cloud is built.
  const port = await freePort();
  const config = resolveConfig({ dataDir: dir, port, logLevel: 'silent', ...over }, {});
  const cloud = await createCloud({ config, credentials: { adminPassword: ADMIN_PASSWORD, demoPassword: DEMO_PASSWORD }, ...extra });
  await cloud.app.listen({ host: '127.0.0.1', port });
  const url = config.publicUrl;
  const tokens = new Map<string, { token: string; projectId: string }>();
  const api: TestCloud['api'] = async (method, path, opts = {}) => {
    const headers: Record<string, string> = { accept: 'application/json', ...(opts.headers ?? {}) };
    if (opts.token) headers['x-auth-token'] = opts.token;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(`${url}${path}`, { method, headers, ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}) });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : null, headers: r.headers };
  };
  return {
    cloud,
    url,
    config,
    api,
    async token(user = 'demo') {
      const cached = tokens.get(user);
      if (cached) return cached;
      const r = await fetch(`${url}/identity/v3/auth/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          auth: {
            identity: { methods: ['password'], password: { user: { name: user, domain: { id: 'default' }, password: user === 'admin' ? ADMIN_PASSWORD : DEMO_PASSWORD } } },
            scope: { project: { name: user, domain: { id: 'default' } } },
          },
        }),
      });
      if (r.status !== 201) throw new Error(`token for ${user}: ${r.status} ${await r.text()}`);
      const body = (await r.json()) as { token: { project: { id: string } } };
      const t = { token: r.headers.get('x-subject-token') as string, projectId: body.token.project.id };
      tokens.set(user, t);
      return t;
    },
    async close() {
      await cloud.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Create a volume and a server as `demo`, wait for the server to be ACTIVE. */
export async function volumeAndServer(t: TestCloud): Promise<{ token: string; projectId: string; volumeId: string; serverId: string }> {
  const { token, projectId } = await t.token('demo');
  const v = await t.api('POST', `/volume/v3/${projectId}/volumes`, { token, body: { volume: { size: 1, name: 'vol' } } });
  if (v.status !== 202) throw new Error(`volume create: ${v.status} ${JSON.stringify(v.body)}`);
  const s = await t.api('POST', '/compute/v2.1/servers', { token, body: { server: { name: 'vm', imageRef: TINY_IMAGE_ID, flavorRef: '1' } } });
  if (s.status !== 202) throw new Error(`server create: ${s.status} ${JSON.stringify(s.body)}`);
  await t.cloud.settle();
  return { token, projectId, volumeId: v.body.volume.id, serverId: s.body.server.id };
}

/** A TCP port free on loopback right now. */
export function freePort(): Promise<number> {
  return freePortOn('127.0.0.1');
}
