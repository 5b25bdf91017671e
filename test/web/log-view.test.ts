/**
 * The dashboard's log view in a real browser (Debian's Chromium, headless, playwright-core):
 * paste the seed's recording (os-brick 6.1 in the storage host guest) and get the same
 * summary, waterfall and diagnosis as `hitch explain --log`; upload a gzip file; a password in
 * the pasted text never reaches the page. No login: the view touches no API.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/serve.ts';
import { readLogs, selectOperations } from '../../src/trace/oslog/index.ts';
import { peerRequired } from '../../src/test-support/postgres.ts';
import { ROOT } from '../cli/support.ts';

const CHROMIUM = '/usr/bin/chromium';
const missing = !existsSync(CHROMIUM);
if (missing && !peerRequired()) console.warn(`skipping the log view browser test: ${CHROMIUM} is missing (run scripts/install-test-peers.sh)`);
const d = missing && !peerRequired() ? describe.skip : describe;

const GUEST = join(ROOT, 'test/oslog/samples/guest');

d('the dashboard’s log view', () => {
  let srv: RunningServer;
  let dir: string;
  let profile: string;
  let browser: BrowserContext;
  beforeAll(async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is required under CI`).toBe(true);
    dir = mkdtempSync(join(tmpdir(), 'hitch-web-log-'));
    profile = mkdtempSync(join(tmpdir(), 'hitch-chromium-'));
    srv = await startServer({ dataDir: dir, port: 0, simSpeed: 0, logLevel: 'silent' }, {}, () => undefined);
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

  it('draws the waterfall and diagnosis of a pasted log, the same as the CLI’s, and shows no secret', async () => {
    const seed = readFileSync(join(GUEST, 'seed.txt'), 'utf8');
    const cliOp = selectOperations(await readLogs([join(GUEST, 'seed.txt')]))[0];
    const cliReport = cliOp?.report;
    const secret = 'Zq7s3cretPassw0rd';
    // A command line in processutils' format with the CHAP password Cinder sends (masked on the way in).
    const withSecret = `${seed}2026-12-05 09:47:34.001 535 DEBUG oslo_concurrency.processutils [-] Running cmd (subprocess): iscsiadm -m node -T iqn.2010-10.org.openstack:volume-x -p 127.0.0.1:3260 --op update -n node.session.auth.password -v ${secret} execute /usr/lib/python3/dist-packages/oslo_concurrency/processutils.py:384\n`;
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${srv.url}/`);
    await page.click('#to-log');
    await page.waitForSelector('#log-text');
    await page.fill('#log-text', withSecret);
    await page.click('#log-form button[type=submit]');
    await page.waitForSelector('#log-summary tr.log-op');
    expect(await page.locator('#log-summary tr.log-op').count()).toBe(1);
    expect(await page.locator('#log-summary tr.log-op').getAttribute('data-volume')).toBe('34be8f8b-e662-4c18-8d18-d366d620060a');
    // One operation: its report is drawn at once.
    await page.waitForSelector('#log-report svg.waterfall');
    const names = await page.locator('#log-report svg.waterfall g').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-name')));
    expect(names).toEqual(expect.arrayContaining(['connect-volume', 'connect_path', 'wait multipath']));
    expect(await page.locator('#log-report svg.waterfall g.error[data-name=connect_path]').count()).toBe(1);
    expect(await page.locator('#log-diagnosis li').allTextContents()).toEqual(cliReport?.diagnosis);
    expect(await page.locator('#log-report pre.critical-path').textContent()).toBe(cliReport?.criticalPath.join('\n'));
    // The total to the millisecond and its two ends, as the CLI's headline gives them.
    expect(await page.locator('#log-report p.log-extent').textContent()).toBe(`${cliOp?.summary.durationMs} ms: ${cliOp?.summary.start} to ${cliOp?.summary.end.slice(11)} (${cliOp?.summary.requestId})`);
    mkdirSync(join(ROOT, 'test-output'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'test-output', 'log-view-seed.png'), fullPage: true });
    const text = await page.content();
    expect(text.includes(secret)).toBe(false);
    expect((await page.inputValue('#log-text')).includes(secret)).toBe(false);
    // The line with the password is listed (unplaced: no os-brick call was running then), masked.
    expect(await page.locator('#log-summary pre.unplaced').textContent()).toContain('-n node.session.auth.password -v *** execute');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('reads an uploaded gzip file and draws the report of the operation picked from the list', async () => {
    const gz = join(dir, 'nova-compute.log.1.gz');
    writeFileSync(gz, gzipSync(readFileSync(join(GUEST, 'lock-wait.txt'))));
    const page = await browser.newPage();
    await page.goto(`${srv.url}/#/log`);
    await page.setInputFiles('#log-file', gz);
    await page.waitForSelector('#log-summary tr.log-op');
    const volumes = await page.locator('#log-summary tr.log-op').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-volume')));
    // Slowest first: the attach that waited for the other's lock.
    expect(volumes).toEqual(['39760d95-fca8-4142-bae2-366af4e2e0f3', '42d764db-79bf-44ce-9946-cd780a14aeee']);
    await page.click('#log-summary tr.log-op[data-volume="39760d95-fca8-4142-bae2-366af4e2e0f3"] button');
    await expect.poll(() => page.locator('#log-diagnosis li').allTextContents()).toContainEqual(expect.stringMatching(/^waited \d+ s \(\d+%\) for os-brick's host-wide connect_volume lock, held by the attach of volume 42d764db-79bf-44ce-9946-cd780a14aeee/));
    await page.close();
  });
});
