/**
 * Build a Fastify app with identity (`/identity`), image discovery (`/image`) and block
 * storage (`/volume`) on one database, as the all-in-one server will; and start it on a
 * loopback port for tests that drive real clients.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { openDatabase, type HitchDb } from '../db/open-database.ts';
import { identityPlugin, imageDiscoveryPlugin } from '../identity/identity-plugin.ts';
import { IdentityService } from '../identity/identity-service.ts';
import type { VolumeBackend } from '../ports/volume-backend.ts';
import { FakeBackend } from './fake-backend.ts';
import { volumePlugin } from '../volume/volume-plugin.ts';
import { VolumeService } from '../volume/volume-service.ts';

export const ADMIN_PASSWORD = 'hitch-admin-secret';
export const DEMO_PASSWORD = 'hitch-demo-secret';
/** Fixed ids, as in the client fixtures, so recorded requests read the same. */
export const ADMIN_PROJECT_ID = '8e6b6c4a8a0f4b9e9f1d2c3b4a596877';
export const ADMIN_USER_ID = '2b4f2f6a7c8d4e1f9a0b1c2d3e4f5a6b';

export interface HitchTestApp {
  readonly app: FastifyInstance;
  readonly db: HitchDb;
  readonly identity: IdentityService;
  readonly volumes: VolumeService;
  readonly backend: VolumeBackend;
  /** `http://127.0.0.1:port` once `listen` was called. */
  url: string;
  listen(): Promise<string>;
  close(): Promise<void>;
}

export interface BuildAppOptions {
  readonly dbUrl: string;
  readonly backend?: VolumeBackend;
  readonly tokenTtlMs?: number;
  /**
   * Answer `GET /compute/v2.1/servers/{id}` with a stub server: OpenStackClient looks the
   * server up before `volume attachment create`, and the compute API is not mounted here.
   */
  readonly computeStub?: boolean;
  readonly bodyLimit?: number;
}

export async function buildApp(opts: BuildAppOptions): Promise<HitchTestApp> {
  const db = await openDatabase(opts.dbUrl);
  const identity = new IdentityService(db.db, { tokenTtlMs: opts.tokenTtlMs });
  await identity.seed({ adminPassword: ADMIN_PASSWORD, demoPassword: DEMO_PASSWORD, adminProjectId: ADMIN_PROJECT_ID, adminUserId: ADMIN_USER_ID });
  const backend = opts.backend ?? new FakeBackend();
  const volumes = new VolumeService(db.db, backend);
  await volumes.init();
  const app = Fastify({ logger: false });
  await app.register(identityPlugin, { prefix: '/identity', identity });
  await app.register(imageDiscoveryPlugin, { prefix: '/image' });
  await app.register(volumePlugin, { prefix: '/volume', service: volumes, auth: identity, bodyLimit: opts.bodyLimit });
  if (opts.computeStub) {
    await app.register(
      async (c) => {
        c.get('/v2.1', async () => ({ version: { id: 'v2.1', status: 'CURRENT', version: '2.90', min_version: '2.1', updated: '2013-07-23T11:33:21Z', links: [] } }));
        c.get('/v2.1/servers/detail', async () => ({ servers: [] }));
        c.get<{ Params: { id: string } }>('/v2.1/servers/:id', async (req) => ({ server: { id: req.params.id, name: 'stub', status: 'ACTIVE', links: [] } }));
      },
      { prefix: '/compute' },
    );
  }
  const t: HitchTestApp = {
    app,
    db,
    identity,
    volumes,
    backend,
    url: '',
    async listen() {
      const addr = await app.listen({ host: '127.0.0.1', port: 0 });
      t.url = addr.replace('localhost', '127.0.0.1');
      return t.url;
    },
    async close() {
      await app.close();
      await volumes.close();
      await db.close();
    },
  };
  return t;
}
