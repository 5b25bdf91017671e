/**
 * Run one attach on a simulated scenario, in memory: the whole cloud in this process on virtual
 * time (the seed's 120 s login costs milliseconds), one volume, one server, one attach through
 * the real HTTP APIs on loopback. What `hitch scenario run` prints the waterfall of; loaded only
 * when that command runs (it needs the whole server).
 */
import { TINY_IMAGE_ID } from '../compute/images.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCloud } from '../server/cloud.ts';
import { resolveConfig } from '../server/config.ts';
import { freePort } from '../server/serve.ts';
import { loadScenario } from '../sim/scenario.ts';
import { HitchClient } from './client.ts';
import { getOperation, type ApiOperation } from './resources.ts';

const PASSWORD = 'scenario-run-only';

export interface ScenarioRun {
  readonly scenario: string;
  readonly seed: number;
  readonly operation: ApiOperation;
}

/** Run one attach on `scenario` in memory and return its operation (with spans). */
export async function runScenario(scenario: string, seed: number, debug?: (line: string) => void): Promise<ScenarioRun> {
  loadScenario(scenario); // fail fast, with the list of known names
  const dir = mkdtempSync(join(tmpdir(), 'hitch-scenario-'));
  try {
    const port = await freePort('127.0.0.1');
    const config = resolveConfig({ dataDir: dir, bind: '127.0.0.1', port, scenario, seed, logLevel: 'silent' }, {});
    const cloud = await createCloud({ config, credentials: { adminPassword: PASSWORD, demoPassword: PASSWORD } });
    try {
      await cloud.app.listen({ host: '127.0.0.1', port });
      const url = config.publicUrl;
      const c = new HitchClient(
        { authUrl: `${url}/identity/v3`, username: 'demo', password: PASSWORD, projectName: 'demo', userDomain: 'Default', projectDomain: 'Default', source: 'scenario run' },
        debug ? { debug } : {},
      );
      const vol = (await c.call<{ volume: { id: string } }>('volume', 'POST', '/volumes', { volume: { name: 'vol', size: 1 } })).body.volume;
      const srv = (await c.call<{ server: { id: string } }>('compute', 'POST', '/servers', { server: { name: 'vm', flavorRef: '1', imageRef: TINY_IMAGE_ID, networks: 'none' } })).body.server;
      await cloud.settle();
      const r = await c.call('compute', 'POST', `/servers/${srv.id}/os-volume_attachments`, { volumeAttachment: { volumeId: vol.id } });
      await cloud.settle();
      const operation = await getOperation(c, r.headers.get('x-hitch-operation-id') ?? '');
      return { scenario, seed, operation };
    } finally {
      await cloud.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
