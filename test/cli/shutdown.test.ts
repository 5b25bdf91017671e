/**
 * Graceful shutdown: SIGTERM while an attach is in flight (the seed, paced at half real time, is
 * still in its 7 s export) lets the attach finish before the process exits — after a restart
 * the volume is in-use and the operation done, nothing half-way. And a port already taken is a
 * one-line error.
 */
import { describe, expect, it } from 'vitest';
import { hitchBin, spawnServe } from './support.ts';

describe('hitch serve shutdown', () => {
  it('finishes the attach in flight on SIGTERM', async () => {
    // Half of real time: the 7 s export lasts 14 s, longer than the checks below take, and the
    // attach returns well within the drain. (Simulated time keeps its pace while the server
    // drains; the dead portal's background login outlasts the drain and is cut.)
    const srv = await spawnServe(['--scenario', 'seed', '--sim-speed', '0.5'], { env: { HITCH_DRAIN_TIMEOUT_MS: '25000' } });
    try {
      const env = { HITCH_DATA_DIR: srv.dataDir };
      const a = await hitchBin(['attach', 'demo-server', 'demo-volume', '--no-wait'], env);
      expect(a.code, a.err).toBe(0);
      const during = await hitchBin(['volume', 'show', 'demo-volume', '--json'], env);
      expect(['reserved', 'attaching']).toContain(JSON.parse(during.out).status);
      expect(await srv.stop()).toBe(0);
      expect(srv.stdout()).toContain('hitch: stopped');

      const again = await spawnServe(['--scenario', 'seed', '--sim-speed', '0'], { dataDir: srv.dataDir });
      try {
        expect(JSON.parse((await hitchBin(['volume', 'show', 'demo-volume', '--json'], env)).out).status).toBe('in-use');
        const ex = JSON.parse((await hitchBin(['explain', 'demo-server', 'demo-volume', '--json'], env)).out);
        expect(ex.operation.state).toBe('done');
        // The port is taken now: a second server says so in one line.
        const port = new URL(again.url).port;
        const clash = await hitchBin(['serve', '--port', port, '--data-dir', srv.dataDir, '--sim-speed', '0']);
        expect(clash.code).toBe(1);
        expect(clash.err.split('\n').filter((l) => l.startsWith('hitch:'))).toEqual([`hitch: HITCH_CONFLICT: cannot listen on 127.0.0.1:${port}: another process holds that port (EADDRINUSE). Stop it, or choose another port with --port.`]);
      } finally {
        expect(await again.stop()).toBe(0);
      }
    } finally {
      await srv.stop();
      srv.dispose();
    }
  }, 180_000);

  it('refuses a bad configuration in one line', async () => {
    const r = await hitchBin(['serve', '--port', '99999', '--print-config']);
    expect(r.code).toBe(1);
    // Node may add its own warnings on a loaded machine: Hitch's part is exactly one line.
    const ours = (t: string) => t.split('\n').filter((l) => l.startsWith('hitch:'));
    expect(ours(r.err)).toEqual(['hitch: HITCH_INVALID_ARGUMENT: Invalid argument: config port: must be an integer from 0 to 65535. Correct it and retry (`hitch COMMAND --help` lists what each command takes).']);
    const s = await hitchBin(['serve', '--sim-speed', 'fast', '--print-config']);
    expect(ours(s.err)).toEqual(['hitch: HITCH_INVALID_ARGUMENT: Invalid argument: config simSpeed: must be a number from 0 (no pacing) to 100000. Correct it and retry (`hitch COMMAND --help` lists what each command takes).']);
    const ok = await hitchBin(['serve', '--print-config'], { HITCH_ADMIN_PASSWORD: 'very-secret-1' });
    expect(ok.code, ok.err).toBe(0);
    expect(JSON.parse(ok.out)).toMatchObject({ port: 8080, scenario: 'healthy-multipath', simSpeed: 1, adminPassword: expect.not.stringContaining('very-secret') });
    expect(ok.out).not.toContain('very-secret-1');
  });
});
