/**
 * The dashboard in a real browser (Debian's Chromium, headless, driven by playwright-core):
 *
 * - on the seed: log in, create a volume, attach it from the picker (name, size, id), follow
 *   the attach on its page to the seed's nine steps, the legend, the dead portal failing in the
 *   background and the diagnosis; an error in words; detach and delete ask first;
 * - an attach in flight, live;
 * - a fleet: 500 volumes paged and searched by the server, long names told apart in the middle;
 * - a failed attach is on the operations page after a restart, with its trace;
 * - at 390 px wide no page scrolls sideways.
 *
 * Screenshots go to test-output/ (the README's are made by `npx tsx scripts/screenshots.ts`).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/serve.ts';
import { peerRequired } from '../../src/test-support/postgres.ts';
import { ROOT } from '../cli/support.ts';

const CHROMIUM = '/usr/bin/chromium';
const missing = !existsSync(CHROMIUM);
if (missing && !peerRequired()) console.warn(`skipping the dashboard browser test: ${CHROMIUM} is missing (run scripts/install-test-peers.sh)`);
const d = missing && !peerRequired() ? describe.skip : describe;

const STEPS = ['reserve', 'lock-instance', 'get-volume', 'connector-properties', 'initialize-connection', 'connect-volume', 'hotplug', 'complete', 'unlock-instance'];
const OUT = join(ROOT, 'test-output');

async function logIn(page: Page, url: string, password: string): Promise<void> {
  await page.goto(`${url}/`);
  await page.fill('input[name=password]', password);
  await page.click('#login button[type=submit]');
  await page.waitForSelector('#volumes tbody tr');
}

/** A demo-project token for the API, to set up what a test needs quickly. */
async function demoApi(srv: RunningServer, password: string) {
  const tok = await fetch(`${srv.url}/identity/v3/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: 'demo', domain: { id: 'default' }, password } } }, scope: { project: { name: 'demo', domain: { id: 'default' } } } } }),
  });
  const token = tok.headers.get('x-subject-token') ?? '';
  return async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${srv.url}${path}`, { method, headers: { 'x-auth-token': token, 'content-type': 'application/json', 'openstack-api-version': path.startsWith('/volume') ? 'volume 3.70' : 'compute 2.79' }, ...(body ? { body: JSON.stringify(body) } : {}) });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : null, headers: r.headers };
  };
}

const noSideScroll = (page: Page) => page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));

d('the dashboard', () => {
  let srv: RunningServer;
  let dir: string;
  let profile: string;
  let browser: BrowserContext;
  let creds: { demo: { password: string } };
  beforeAll(async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is required under CI`).toBe(true);
    dir = mkdtempSync(join(tmpdir(), 'hitch-web-'));
    profile = mkdtempSync(join(tmpdir(), 'hitch-chromium-'));
    srv = await startServer({ dataDir: dir, port: 0, scenario: 'seed', simSpeed: 0, logLevel: 'silent' }, {}, () => undefined);
    creds = JSON.parse(readFileSync(join(dir, 'credentials.json'), 'utf8'));
    // A fresh profile directory (playwright passes it as --user-data-dir).
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    mkdirSync(OUT, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await srv?.stop();
    for (const p of [dir, profile]) if (p) rmSync(p, { recursive: true, force: true });
  });

  it('logs in, attaches from the picker, and shows the seed’s waterfall with its legend and diagnosis; detach and delete ask first', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${srv.url}/`);

    // A wrong password is refused in words; the right one logs in.
    await page.fill('input[name=password]', 'wrong');
    await page.click('#login button[type=submit]');
    await expect.poll(() => page.locator('#login .error').textContent(), { timeout: 15_000 }).toContain('The user name or password is wrong');
    await page.fill('input[name=password]', creds.demo.password);
    await page.click('#login button[type=submit]');
    await page.waitForSelector('#volumes tr[data-volume=demo-volume]');
    // The token is kept out of every URL.
    expect(page.url()).toBe(`${srv.url}/#/volumes`);
    // The size field offers what the API accepts (config maxVolumeSizeGiB).
    expect(await page.getAttribute('input[name=volume-size]', 'max')).toBe('16384');

    await page.fill('input[name=volume-name]', 'web-volume');
    await page.click('#create-volume button[type=submit]');
    await page.waitForSelector('#volumes tr[data-volume=web-volume]');
    const volumeId = await page.getAttribute('#volumes tr[data-volume=web-volume]', 'data-id');

    // Attach from the servers page: the volume picker says name, size and id.
    await page.click('header a[href="#/servers"]');
    await page.waitForSelector('#servers tr[data-server=demo-server]');
    await page.fill('#attach input[name=volume-search]', 'web');
    const option = `${'web-volume'} · 1 GiB · ${volumeId?.split('-')[0]}`;
    await expect.poll(() => page.locator('#attach select[name=volume] option').allTextContents(), { timeout: 15_000 }).toEqual([option]);
    expect(await page.getAttribute('#attach select[name=volume] option', 'title')).toBe(`web-volume, 1 GiB, ${volumeId}`);
    await page.selectOption('#attach select[name=server]', { label: (await page.locator('#attach select[name=server] option', { hasText: 'demo-server' }).textContent()) ?? '' });
    await page.click('#attach button[type=submit]');

    // The attach's own page: its steps, the legend, the request id, the dead portal.
    await page.waitForURL(/#\/operations\/[0-9a-f-]{36}$/);
    await page.waitForSelector('#op-state.done', { timeout: 30_000 });
    const steps = await page.locator('svg.waterfall g.depth-0').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-name')));
    expect(steps).toEqual(STEPS);
    const critical = await page.locator('svg.waterfall g.critical.depth-0').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-name')));
    expect(critical).toEqual(expect.arrayContaining(['initialize-connection', 'connect-volume', 'hotplug']));
    expect(await page.locator('ul.legend li').allTextContents()).toEqual(expect.arrayContaining([expect.stringContaining('critical path'), expect.stringContaining('background'), expect.stringContaining('still running')]));
    expect(await page.locator('#request-id').textContent()).toMatch(/^req-[0-9a-f-]{36}$/);
    // The dead portal fails in the background, after the attach is done: the page redraws while
    // any span still runs, so its failure shows up shortly after — cut at the end, no `›`.
    await page.waitForSelector('svg.waterfall g.error.background', { timeout: 30_000 });
    expect(await page.locator('svg.waterfall g.error.background text.more').count()).toBe(0);
    expect(await page.locator('svg.waterfall g.error.background text.time').first().textContent()).toMatch(/^120 s, to \+127 s ✗$/);
    const diagnosis = await page.locator('#diagnosis li').allTextContents();
    expect(diagnosis[0]).toMatch(/^login to 192\.168\.1\.59:3260 timed out after 120 s \(iscsiadm exit 8\); the volume was usable at [\d.]+ s through 192\.168\.1\.60:3260(, the attach returned at [\d.]+ s)?$/);
    expect(diagnosis).toContain('attached on 1 of 2 paths; 192.168.1.59:3260 unreachable');
    await page.screenshot({ path: join(OUT, 'dashboard-seed-attach.png'), fullPage: true });

    // The server's page shows the attachment; what the API refuses is shown in words.
    await page.click('a[href^="#/servers/"]');
    await page.waitForSelector('#server-attachments tr[data-attachment="demo-server/web-volume"]');
    await page.selectOption('#attach select[name=volume]', { index: 0 });
    await page.fill('#attach input[name=device]', '/dev/VDB!');
    await page.evaluate(() => document.querySelector<HTMLInputElement>('#attach input[name=device]')?.removeAttribute('pattern'));
    await page.click('#attach button[type=submit]');
    await expect.poll(() => page.locator('#error').textContent(), { timeout: 15_000 }).toMatch(/HTTP 400/);

    // Detach asks first; Cancel changes nothing.
    const detachButton = '#server-attachments tr[data-attachment="demo-server/web-volume"] button';
    await page.click(detachButton);
    await page.waitForSelector('dialog#confirm[open]');
    expect(await page.locator('dialog#confirm p').textContent()).toMatch(new RegExp(`^Detach volume web-volume \\(${volumeId}\\) from server demo-server \\([0-9a-f-]{36}\\) at /dev/vdb\\? `));
    await page.click('#confirm-no');
    await page.waitForSelector('dialog#confirm', { state: 'detached' });
    expect(await page.locator('#server-attachments tr[data-attachment="demo-server/web-volume"]').count()).toBe(1);
    await page.click(detachButton);
    await page.click('#confirm-yes');
    await page.waitForURL(/#\/operations\//);
    await expect
      .poll(() => page.locator('svg.waterfall g.depth-0').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-name'))), { timeout: 30_000 })
      .toEqual(expect.arrayContaining(['begin-detaching', 'unplug', 'disconnect-volume', 'detach-volume', 'bdm.destroy']));
    await page.waitForSelector('#op-state.done', { timeout: 30_000 });

    // Delete asks first, naming the volume; Cancel keeps it; Delete removes it.
    await page.click('header a[href="#/volumes"]');
    await page.waitForSelector('#volumes tr[data-volume=web-volume] .status.available');
    await page.click('#volumes tr[data-volume=web-volume] button.danger');
    await page.waitForSelector('dialog#confirm[open]');
    expect(await page.locator('dialog#confirm p').textContent()).toBe(`Delete volume web-volume (${volumeId}), 1 GiB? Its data is gone for good.`);
    await page.click('#confirm-no');
    await page.waitForSelector('dialog#confirm', { state: 'detached' });
    expect(await page.locator('#volumes tr[data-volume=web-volume]').count()).toBe(1);
    await page.click('#volumes tr[data-volume=web-volume] button.danger');
    await page.click('#confirm-yes');
    await page.waitForSelector('#volumes tr[data-volume=web-volume]', { state: 'detached' });
    expect(errors).toEqual([]);

    // Log out forgets the session.
    await page.click('#logout');
    await page.waitForSelector('#login');
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await page.close();
  }, 180_000);

  it('pages 500 volumes and searches them on the server; long names stay apart, whole on hover', async () => {
    const api = await demoApi(srv, creds.demo.password);
    // 500 volumes are far over Cinder's default quota (10 a project): the operator lifts it first.
    await srv.cloud.volumes.quotas.setClass('default', { volumes: -1, gigabytes: -1 });
    const long = 'analytics-warehouse-production-shard-00';
    for (let i = 0; i < 500; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, k) => api('POST', '/volume/v3/volumes', { volume: { name: `fleet-${String(i + k).padStart(4, '0')}`, size: 1 + ((i + k) % 7) } })));
    }
    for (const n of ['01-data', '02-data']) await api('POST', '/volume/v3/volumes', { volume: { name: `${long}${n}`, size: 2 } });
    const page = await browser.newPage();
    const asked: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/volume/v3/volumes/detail')) asked.push(r.url());
    });
    await logIn(page, srv.url, creds.demo.password);
    expect(await page.locator('#volumes tbody tr').count()).toBe(25);
    // The server did the paging: one more row than shown is asked for, never all 500.
    expect(asked.every((u) => new URL(u).searchParams.get('limit') === '26')).toBe(true);
    const first = await page.locator('#volumes tbody tr').evaluateAll((rs) => rs.map((r) => r.getAttribute('data-id')));
    await page.click('#volumes-page nav.pager button.next');
    await expect.poll(() => page.locator('.page-no').textContent()).toBe('page 2');
    const second = await page.locator('#volumes tbody tr').evaluateAll((rs) => rs.map((r) => r.getAttribute('data-id')));
    expect(second).toHaveLength(25);
    expect(second.filter((id) => first.includes(id))).toEqual([]);
    expect(new URL(asked.at(-1) ?? '').searchParams.get('marker')).toBe(first.at(-1));
    await page.click('#volumes-page nav.pager button.prev');
    await expect.poll(() => page.locator('#volumes tbody tr').evaluateAll((rs) => rs.map((r) => r.getAttribute('data-id')))).toEqual(first);

    // Search is the server's: name~ filter, back to page 1.
    await page.fill('input[name=volumes-search]', 'fleet-0499');
    await expect.poll(() => page.locator('#volumes tbody tr').count()).toBe(1);
    expect(new URL(asked.at(-1) ?? '').searchParams.get('name~')).toBe('fleet-0499');
    expect(await page.locator('#volumes-page nav.pager button.next').isDisabled()).toBe(true);

    // Two long names that differ near the end: shortened in the middle, both ends kept.
    await page.fill('input[name=volumes-search]', 'analytics');
    await expect.poll(() => page.locator('#volumes tbody tr').count()).toBe(2);
    const shown = await page.locator('#volumes tbody tr td:first-child a').allTextContents();
    expect(new Set(shown).size).toBe(2);
    for (const s of shown) expect(s).toMatch(/^analytics-wareho.*….*shard-000[12]-data$/);
    const titles = await page.locator('#volumes tbody tr td:first-child a').evaluateAll((as) => as.map((a) => a.getAttribute('title')));
    for (const t of titles) expect(t).toMatch(/^analytics-warehouse-production-shard-000[12]-data \([0-9a-f-]{36}\)$/);
    await page.close();
  }, 180_000);

  it('at 390 px wide, no page scrolls sideways', async () => {
    const page = await browser.newPage();
    await page.setViewportSize({ width: 390, height: 844 });
    await logIn(page, srv.url, creds.demo.password);
    for (const hash of ['#/volumes', '#/servers', '#/operations']) {
      await page.goto(`${srv.url}/${hash}`);
      await page.waitForSelector('tbody tr');
      const w = await noSideScroll(page);
      expect(w.scroll, hash).toBeLessThanOrEqual(w.width);
    }
    // An attach's page: the waterfall lays out for the width (labels above bars).
    await page.goto(`${srv.url}/#/operations`);
    await page.click('#operations tbody tr a');
    await page.waitForSelector('svg.waterfall.narrow');
    const w = await noSideScroll(page);
    expect(w.scroll).toBeLessThanOrEqual(w.width);
    expect(Number(await page.getAttribute('svg.waterfall', 'width'))).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(OUT, 'dashboard-phone-operation.png'), fullPage: true });
    await page.close();
  });

  it('shows an attach in flight live: steps done, the running one with what it is doing', async () => {
    // A second server, paced at a tenth of real time: the seed's 7 s export lasts 70 s of wall time.
    const dir2 = mkdtempSync(join(tmpdir(), 'hitch-web-live-'));
    const paced = await startServer({ dataDir: dir2, port: 0, scenario: 'seed', simSpeed: 0.1, logLevel: 'silent' }, {}, () => undefined);
    try {
      const c = JSON.parse(readFileSync(join(dir2, 'credentials.json'), 'utf8'));
      const page = await browser.newPage();
      await logIn(page, paced.url, c.demo.password);
      await page.click('header a[href="#/servers"]');
      await page.waitForSelector('#attach select[name=volume] option[value]', { state: 'attached' });
      await page.waitForSelector('#attach select[name=server] option[value]', { state: 'attached' });
      await page.click('#attach button[type=submit]');
      await expect.poll(() => page.locator('#progress').textContent(), { timeout: 30_000 }).toMatch(/› initialize-connection .*\n +block storage: PUT \/v3\/attachments\/\{id\}: the sim backend's export \(/);
      const progress = (await page.locator('#progress').textContent()) ?? '';
      expect(progress).toMatch(/^ {2}✓ connector-properties/m);
      expect(progress).toMatch(/^ {2}· hotplug/m);
      expect(await page.locator('#op-state').textContent()).toBe('running');
      await page.close();
    } finally {
      // Stopping lets the attach run to its end on free-running time.
      await paced.stop();
      rmSync(dir2, { recursive: true, force: true });
    }
  }, 180_000);

  it('keeps a failed attach with its trace: on the operations page after a restart', async () => {
    // The seed with both portals dead behind a 30 s login: every attach rolls back.
    const dir3 = mkdtempSync(join(tmpdir(), 'hitch-web-failed-'));
    const seed = JSON.parse(readFileSync(join(ROOT, 'src/sim/scenarios/seed.json'), 'utf8'));
    for (const p of Object.values(seed.portals) as object[]) Object.assign(p, { state: 'dead', loginTimeoutMs: 30_000 });
    writeFileSync(join(dir3, 'dead.json'), JSON.stringify(seed));
    let one = await startServer({ dataDir: dir3, port: 0, scenario: join(dir3, 'dead.json'), simSpeed: 0, logLevel: 'silent' }, {}, () => undefined);
    try {
      const c = JSON.parse(readFileSync(join(dir3, 'credentials.json'), 'utf8'));
      const api = await demoApi(one, c.demo.password);
      const server = (await api('GET', '/compute/v2.1/servers?name=demo-server')).body.servers[0].id;
      const volume = (await api('GET', '/volume/v3/volumes?name=demo-volume')).body.volumes[0].id;
      const r = await api('POST', `/compute/v2.1/servers/${server}/os-volume_attachments`, { volumeAttachment: { volumeId: volume } });
      const opId = r.headers.get('x-hitch-operation-id');
      await one.cloud.settle();
      await one.stop();
      one = await startServer({ dataDir: dir3, port: 0, scenario: join(dir3, 'dead.json'), simSpeed: 0, logLevel: 'silent' }, {}, () => undefined);

      const page = await browser.newPage();
      await logIn(page, one.url, c.demo.password);
      await page.click('header a[href="#/operations"]');
      await page.selectOption('select[name=operations-filter]', 'failed');
      await page.waitForSelector(`#operations tr[data-operation="${opId}"]`);
      expect(await page.locator('#operations tbody tr').count()).toBe(1);
      expect(await page.locator(`#operations tr[data-operation="${opId}"] .state`).textContent()).toBe('rolled back at connect-volume');
      await page.click(`#operations tr[data-operation="${opId}"] a`);
      await page.waitForSelector('#op-state.rolled_back');
      expect(await page.locator('#op-error').textContent()).toMatch(/^HITCH_ISCSI_LOGIN_FAILED: Could not log in to any iSCSI portal/);
      expect(await page.locator('svg.waterfall g.depth-0').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-name')))).toEqual(expect.arrayContaining(['connect-volume', 'rollback']));
      await page.close();
    } finally {
      await one.stop();
      rmSync(dir3, { recursive: true, force: true });
    }
  }, 180_000);
});
