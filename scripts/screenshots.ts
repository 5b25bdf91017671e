/**
 * The README's screenshots of the dashboard, at a desktop width (1280 px) and a phone's (390 px):
 * `npx tsx scripts/screenshots.ts` starts the seed in memory, makes a small fleet, attaches a
 * volume behind the seed's dead portal, and writes docs/screenshots/*.png. Needs Chromium
 * (scripts/install-test-peers.sh). Not part of the tests: the images are committed.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { TINY_IMAGE_ID } from '../src/compute/images.ts';
import { startServer } from '../src/server/serve.ts';

const ROOT = resolve(import.meta.dirname, '..');
const OUT = join(ROOT, 'docs', 'screenshots');
mkdirSync(OUT, { recursive: true });
const dir = mkdtempSync(join(tmpdir(), 'hitch-shots-'));
const srv = await startServer({ dataDir: dir, port: 0, scenario: 'seed', simSpeed: 0, logLevel: 'silent' }, {}, () => undefined);
try {
  const password = (JSON.parse(readFileSync(join(dir, 'credentials.json'), 'utf8')) as { demo: { password: string } }).demo.password;
  const tok = await fetch(`${srv.url}/identity/v3/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: 'demo', domain: { id: 'default' }, password } } }, scope: { project: { name: 'demo', domain: { id: 'default' } } } } }),
  });
  const token = tok.headers.get('x-subject-token') ?? '';
  const api = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${srv.url}${path}`, { method, headers: { 'x-auth-token': token, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
    return { headers: r.headers, body: (await r.json().catch(() => null)) as Record<string, unknown> | null };
  };
  for (const [i, name] of ['pg-data', 'pg-wal', 'analytics-warehouse-production-shard-0001-data', 'analytics-warehouse-production-shard-0002-data', 'scratch', 'backup-2026-01'].entries()) {
    await api('POST', '/volume/v3/volumes', { volume: { name, size: [10, 2, 500, 500, 1, 200][i] } });
  }
  await api('POST', '/compute/v2.1/servers', { server: { name: 'db-1', imageRef: TINY_IMAGE_ID, flavorRef: '1', networks: 'none' } });
  await srv.cloud.settle();
  const servers = (await api('GET', '/compute/v2.1/servers?name=demo-server')).body as { servers: { id: string }[] };
  const vols = (await api('GET', '/volume/v3/volumes?name=pg-data')).body as { volumes: { id: string }[] };
  const r = await api('POST', `/compute/v2.1/servers/${servers.servers[0]?.id}/os-volume_attachments`, { volumeAttachment: { volumeId: vols.volumes[0]?.id } });
  const op = r.headers.get('x-hitch-operation-id');
  await srv.cloud.settle();

  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
  const shoot = async (width: number, height: number, tag: string): Promise<void> => {
    const page: Page = await browser.newPage({ viewport: { width, height } });
    await page.goto(`${srv.url}/`);
    await page.fill('input[name=password]', password);
    await page.click('#login button[type=submit]');
    await page.waitForSelector('#volumes tbody tr');
    await page.screenshot({ path: join(OUT, `${tag}-volumes.png`), fullPage: true });
    await page.goto(`${srv.url}/#/operations/${op}`);
    await page.waitForSelector('#op-state.done');
    await page.waitForSelector('svg.waterfall g.error.background');
    await page.screenshot({ path: join(OUT, `${tag}-attach.png`), fullPage: true });
    await page.close();
  };
  await shoot(1280, 900, 'desktop');
  await shoot(390, 844, 'phone');
  await browser.close();
  console.log(`screenshots in ${OUT}`);
} finally {
  await srv.stop();
  rmSync(dir, { recursive: true, force: true });
}
