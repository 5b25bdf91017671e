/**
 * Issue 23, defect 6: SIGTERM took two minutes (a dead portal's background login) and the server
 * kept serving meanwhile: it accepted a volume create and a detach, because it settled its
 * background work before it closed the HTTP server.
 *
 * Now the listener closes first: a new connection is refused, and a request on a connection that
 * was already open gets 503 with `Retry-After`. The operations in flight get `drainTimeoutMs`;
 * what still runs then (here: the seed's attach, paced at a tenth of real time, in a 70 s export)
 * stays in the journal and the process exits. A second SIGTERM exits at once. Either way the next
 * start's recovery ends the operation: nothing is stuck.
 */
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { hitchBin, spawnServe, type ServeProcess } from '../cli/support.ts';

/**
 * A request the server has begun to receive: its headers sent with `Expect: 100-continue`, and
 * the server's `100 Continue` back (it has parsed them). `finish()` sends the body and resolves
 * with the answer.
 */
async function arriving(url: string, method: string, headers: Record<string, string>, body: string): Promise<{ finish(): Promise<{ status: number; headers: Record<string, unknown>; body: string }> }> {
  const req = request(url, { method, headers: { ...headers, expect: '100-continue', 'content-length': String(Buffer.byteLength(body)) } });
  const answer = new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d) => (text += String(d)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
  });
  await new Promise<void>((resolve, reject) => {
    req.once('continue', () => resolve());
    req.once('error', reject);
    req.flushHeaders();
  });
  return {
    finish() {
      req.end(body);
      return answer;
    },
  };
}

/** The process's exit code, once it has exited by itself. */
function exitOf(srv: ServeProcess): Promise<number | null> {
  if (srv.child.exitCode !== null) return Promise.resolve(srv.child.exitCode);
  return new Promise((resolve) => srv.child.once('exit', (code) => resolve(code)));
}

async function until(what: string, cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A seed attach under way on a server that drains for `drainMs`. */
async function attaching(drainMs: number): Promise<{ srv: ServeProcess; env: Record<string, string> }> {
  const srv = await spawnServe(['--scenario', 'seed', '--sim-speed', '0.1'], { env: { HITCH_DRAIN_TIMEOUT_MS: String(drainMs) } });
  const env = { HITCH_DATA_DIR: srv.dataDir };
  const a = await hitchBin(['attach', 'demo-server', 'demo-volume', '--no-wait'], env);
  expect(a.code, a.err).toBe(0);
  return { srv, env };
}

/** After a restart: recovery has ended the operation, and the volume is in a state one can act on. */
async function restartedClean(srv: ServeProcess, env: Record<string, string>): Promise<void> {
  const again = await spawnServe(['--scenario', 'seed', '--sim-speed', '0'], { dataDir: srv.dataDir });
  try {
    expect(['available', 'in-use']).toContain(JSON.parse((await hitchBin(['volume', 'show', 'demo-volume', '--json'], env)).out).status);
    const ex = JSON.parse((await hitchBin(['explain', 'demo-server', 'demo-volume', '--json'], env)).out);
    expect(['done', 'rolled_back']).toContain(ex.operation.state);
    // Nothing was created after the signal.
    expect((await hitchBin(['volume', 'list', '--json'], env)).out).not.toContain('after-sigterm');
  } finally {
    expect(await again.stop()).toBe(0);
  }
}

describe('graceful stop', () => {
  it('closes the listener first, answers 503 with Retry-After, drains up to drainTimeoutMs, journals the rest and exits', async () => {
    const { srv, env } = await attaching(1000);
    try {
      const { demo } = srv.credentials();
      const login = await fetch(`${srv.url}/identity/v3/auth/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: 'demo', domain: { id: 'default' }, password: demo.password } } }, scope: { project: { name: 'demo', domain: { id: 'default' } } } } }),
      });
      const token = String(login.headers.get('x-subject-token'));
      // A request still arriving when the signal comes: the server has its headers, not its body.
      const pending = await arriving(`${srv.url}/volume/v3/volumes`, 'POST', { 'x-auth-token': token, 'content-type': 'application/json' }, JSON.stringify({ volume: { size: 1, name: 'after-sigterm' } }));

      srv.child.kill('SIGTERM');
      await until('the SIGTERM line', () => srv.stdout().includes('no new requests'));
      const create = await pending.finish();
      expect(create.status).toBe(503);
      expect(create.headers['retry-after']).toBe('5');
      expect(JSON.parse(create.body)).toEqual({ serviceUnavailable: { code: 503, message: expect.stringMatching(/^This Hitch process is stopping and takes no new requests\. Retry/) } });
      // A new connection is refused: the listener is closed.
      await expect(fetch(`${srv.url}/healthz`)).rejects.toThrow();

      // The attach is still in its 70 s export when the 1 s drain ends: it is left to the journal.
      expect(await exitOf(srv), srv.stderr()).toBe(0);
      expect(srv.stdout()).toContain("hitch: 1 operation(s) still running after the drain; the journal keeps them for the next start's recovery");
      expect(srv.stdout()).toContain('hitch: stopped');
      await restartedClean(srv, env);
    } finally {
      await srv.stop();
      srv.dispose();
    }
  }, 240_000);

  it('a second SIGTERM exits at once, and the next start recovers from the journal', async () => {
    // The drain (the default 30 s) would outlast the test's patience: only the second signal ends it.
    const { srv, env } = await attaching(30_000);
    try {
      srv.child.kill('SIGTERM');
      await until('the SIGTERM line', () => srv.stdout().includes('no new requests'));
      srv.child.kill('SIGTERM');
      expect(await exitOf(srv)).toBe(1);
      expect(srv.stderr()).toContain('SIGTERM again, exiting without waiting');
      expect(srv.stdout()).not.toContain('hitch: stopped');
      await restartedClean(srv, env);
    } finally {
      await srv.stop();
      srv.dispose();
    }
  }, 240_000);
});
