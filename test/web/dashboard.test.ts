/**
 * The dashboard in a real browser (Debian's Chromium, headless, driven by playwright-core) on
 * the seed scenario: log in through the identity API, create a volume, attach it to the demo
 * server, wait for in-use, and find the seed's nine steps in the waterfall and the dead portal
 * in the diagnosis. A screenshot goes to test-output/.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/serve.ts';
import { peerRequired } from '../../src/test-support/postgres.ts';
import { ROOT } from '../cli/support.ts';

const CHROMIUM = '/usr/bin/chromium';
const missing = !existsSync(CHROMIUM);
if (missing && !peerRequired()) console.warn(`skipping the dashboard browser test: ${CHROMIUM} is missing (run scripts/install-test-peers.sh)`);
const d = missing && !peerRequired() ? describe.skip : describe;

const STEPS = ['reserve', 'lock-instance', 'get-volume', 'connector-properties', 'initialize-connection', 'connect-volume', 'hotplug', 'complete', 'unlock-instance'];

d('the dashboard', () => {
  let srv: RunningServer;
  let dir: string;
  let profile: string;
  let browser: BrowserContext;
  beforeAll(async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is required under CI`).toBe(true);
    dir = mkdtempSync(join(tmpdir(), 'hitch-web-'));
    profile = mkdtempSync(join(tmpdir(), 'hitch-chromium-'));
    srv = await startServer({ dataDir: dir, port: 0, scenario: 'seed', simSpeed: 0, logLevel: 'silent' }, {}, () => undefined);
    // A fresh profile directory (playwright passes it as --user-data-dir).
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await srv?.stop();
    for (const p of [dir, profile]) if (p) rmSync(p, { recursive: true, force: true });
  });

  it('logs in, creates and attaches a volume, and shows the seed’s waterfall and diagnosis', async () => {
    const creds = JSON.parse(readFileSync(join(dir, 'credentials.json'), 'utf8'));
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
    expect(page.url()).toBe(`${srv.url}/`);

    await page.fill('input[name=volume-name]', 'web-volume');
    await page.click('#create-volume button[type=submit]');
    await page.waitForSelector('#volumes tr[data-volume=web-volume]');
    await page.selectOption('#attach select[name=server]', { label: 'demo-server' });
    await page.selectOption('#attach select[name=volume]', { label: 'web-volume' });
    await page.click('#attach button[type=submit]');

    await page.waitForSelector('#op-state.done', { timeout: 30_000 });
    await page.waitForSelector('#volumes tr[data-volume=web-volume] td.status.in-use');
    const steps = await page.locator('svg.waterfall g.depth-0').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-name')));
    expect(steps).toEqual(STEPS);
    const critical = await page.locator('svg.waterfall g.critical.depth-0').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-name')));
    expect(critical).toEqual(expect.arrayContaining(['initialize-connection', 'connect-volume', 'hotplug']));
    // The dead portal fails in the background, after the attach is done: the page redraws while
    // any span still runs, so its failure shows up shortly after.
    await page.waitForSelector('svg.waterfall g.error.background', { timeout: 30_000 });
    const diagnosis = await page.locator('#diagnosis li').allTextContents();
    expect(diagnosis[0]).toMatch(/^login to 192\.168\.1\.59:3260 timed out after 120 s \(iscsiadm exit 8\); the volume was usable at [\d.]+ s through 192\.168\.1\.60:3260$/);
    expect(await page.locator('#servers tr[data-attachment="demo-server/web-volume"]').count()).toBe(1);

    mkdirSync(join(ROOT, 'test-output'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'test-output', 'dashboard-seed.png'), fullPage: true });

    // What a user types that the API refuses is shown in words, and the page goes on working.
    await page.selectOption('#attach select[name=volume]', { label: 'demo-volume' });
    await page.fill('#attach input[name=device]', '/dev/VDB!');
    await page.click('#attach button[type=submit]');
    await expect.poll(() => page.locator('main .error').textContent(), { timeout: 15_000 }).toMatch(/HTTP 400/);

    // Detach from the attachment's row: its steps, then the volume is available again.
    await page.click('#servers tr[data-attachment="demo-server/web-volume"] button:text("detach")');
    // The attach's finished state may still be on the page when the click returns: wait for the
    // detach's own steps to be drawn, to the last one.
    await expect
      .poll(() => page.locator('svg.waterfall g.depth-0').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-name'))), { timeout: 30_000 })
      .toEqual(expect.arrayContaining(['begin-detaching', 'unplug', 'disconnect-volume', 'detach-volume', 'bdm.destroy']));
    await page.waitForSelector('#op-state.done', { timeout: 30_000 });
    await page.waitForSelector('#volumes tr[data-volume=web-volume] td.status.available');
    expect(errors).toEqual([]);

    // Log out forgets the session.
    await page.click('#logout');
    await page.waitForSelector('#login');
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
  });

  it('shows an attach in flight live: steps done, the running one with what it is doing', async () => {
    // A second server, paced at a tenth of real time: the seed's 7 s export lasts 70 s of wall time.
    const dir2 = mkdtempSync(join(tmpdir(), 'hitch-web-live-'));
    const paced = await startServer({ dataDir: dir2, port: 0, scenario: 'seed', simSpeed: 0.1, logLevel: 'silent' }, {}, () => undefined);
    try {
      const creds = JSON.parse(readFileSync(join(dir2, 'credentials.json'), 'utf8'));
      const page = await browser.newPage();
      await page.goto(`${paced.url}/`);
      await page.fill('input[name=password]', creds.demo.password);
      await page.click('#login button[type=submit]');
      await page.waitForSelector('#attach select[name=volume] option', { state: 'attached' });
      await page.click('#attach button[type=submit]');
      await expect.poll(() => page.locator('#progress').textContent(), { timeout: 30_000 }).toMatch(/› initialize-connection .*\n +block storage: PUT \/v3\/attachments\/\{id\} \(/);
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
  });
});
