/**
 * The `hitch` client commands against a running all-in-one server: names or ids, `--json` on
 * listings, detach with progress, credentials from the data dir / clouds.yaml / OS_* — and every
 * error as one line with its catalog code and a non-zero status, secrets never printed.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeFor } from '../../src/cli/api-error.ts';
import { startServer, type RunningServer } from '../../src/server/serve.ts';
import { cli } from './support.ts';

describe('hitch client commands', () => {
  let srv: RunningServer;
  let dir: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hitch-cli-'));
    srv = await startServer({ dataDir: dir, port: 0, simSpeed: 0, logLevel: 'silent' }, {}, () => undefined);
    env = { HITCH_DATA_DIR: dir };
  });
  afterAll(async () => {
    await srv?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates, lists, shows and deletes volumes and servers, by name or id, in tables or JSON', async () => {
    const v = await cli(['volume', 'create', 'data1', '--size', '2', '--json'], env);
    expect(v.code, v.err).toBe(0);
    const vol = JSON.parse(v.out);
    expect(vol).toMatchObject({ name: 'data1', size: 2 });
    const list = await cli(['volume', 'list'], env);
    expect(list.out.split('\n')[0]).toMatch(/^ID +Name +Status +Size +Attached to$/);
    expect(list.out).toMatch(/data1 +(creating|available) +2/);
    expect(JSON.parse((await cli(['volume', 'show', vol.id, '--json'], env)).out).name).toBe('data1');
    expect((await cli(['volume', 'show', 'data1'], env)).out).toMatch(/^id +[0-9a-f-]{36}$/m);

    const s = await cli(['server', 'create', 'web1', '--json'], env);
    expect(s.code, s.err).toBe(0);
    expect(JSON.parse(s.out)).toMatchObject({ name: 'web1', status: 'ACTIVE' });
    const servers = JSON.parse((await cli(['server', 'list', '--json'], env)).out).map((x: { name: string }) => x.name);
    expect(servers.sort()).toEqual(['demo-server', 'web1']);
    expect((await cli(['server', 'show', 'web1'], env)).out).toMatch(/^status +ACTIVE$/m);

    await srv.cloud.settle();
    const a = await cli(['attach', 'web1', 'data1', '--device', '/dev/vdc'], env);
    expect(a.code, a.err).toBe(0);
    expect(a.out).toMatch(/attached data1 to web1 at \/dev\/vdc/);
    const atts = await cli(['attachments', 'web1'], env);
    expect(atts.out).toMatch(/data1 +\/dev\/vdc +in-use/);
    expect(JSON.parse((await cli(['attachments', 'web1', '--json'], env)).out)).toEqual([expect.objectContaining({ volumeId: vol.id, device: '/dev/vdc' })]);

    const d = await cli(['detach', 'web1', 'data1'], env);
    expect(d.code, d.err).toBe(0);
    expect(d.out).toMatch(/\] disconnect-volume: done/);
    expect(d.out).toMatch(/detached data1 from web1 in/);
    expect((await cli(['explain', 'web1', 'data1', '--kind', 'detach'], env)).out).toMatch(/^detach [0-9a-f-]{36}: done/);

    expect((await cli(['volume', 'delete', 'data1'], env)).out).toBe(`deleted volume data1 (${vol.id})`);
    expect((await cli(['server', 'delete', 'web1'], env)).code).toBe(0);
  });

  it('reads credentials from clouds.yaml (--os-cloud) and from OS_* variables', async () => {
    const viaCloud = await cli(['--os-cloud', 'hitch-admin', 'volume', 'list', '--json'], { OS_CLIENT_CONFIG_FILE: join(dir, 'clouds.yaml') });
    expect(viaCloud.code, viaCloud.err).toBe(0);
    const c = JSON.parse(readFileSync(join(dir, 'credentials.json'), 'utf8'));
    const viaEnv = await cli(['server', 'list', '--json'], { OS_AUTH_URL: `${srv.url}/identity/v3`, OS_USERNAME: 'demo', OS_PASSWORD: c.demo.password, OS_PROJECT_NAME: 'demo' });
    expect(JSON.parse(viaEnv.out).map((s: { name: string }) => s.name)).toContain('demo-server');
  });

  it('prints each error as one line with its catalog code and exits non-zero', async () => {
    const cases: [string[], Record<string, string>, number, RegExp][] = [
      [['volume', 'show', 'no-such-volume'], env, 1, /^hitch: HITCH_NOT_FOUND: Volume no-such-volume could not be found\. Check the name or id: `hitch volume list`/],
      [['attach', 'no-such-server', 'demo-volume'], env, 1, /^hitch: HITCH_NOT_FOUND: Instance no-such-server could not be found\. Check the name or id/],
      [['volume', 'create', 'x', '--size', 'lots'], env, 1, /^hitch: HITCH_INVALID_ARGUMENT: Invalid argument: size must be a whole number/],
      [['attach', 'demo-server'], env, 2, /^hitch: HITCH_INVALID_ARGUMENT: missing required argument 'volume'/],
      [['frobnicate'], env, 2, /^hitch: HITCH_INVALID_ARGUMENT: unknown command 'frobnicate'/],
      [['explain', 'not-a-uuid'], env, 1, /^hitch: HITCH_INVALID_ARGUMENT: Invalid argument: explain takes SERVER VOLUME, or an operation id\. Correct it and retry/],
      [['volume', 'list'], { HITCH_DATA_DIR: join(dir, 'nowhere') }, 1, /^hitch: HITCH_UNAUTHORIZED: no credentials: start the server with `hitch serve`/],
      [['volume', 'list'], { OS_AUTH_URL: `${srv.url}/identity/v3`, OS_USERNAME: 'demo', OS_PASSWORD: 'wrong' }, 1, /^hitch: HITCH_BAD_CREDENTIALS: The user name or password is wrong\. Check the user and password/],
      [['volume', 'list'], { OS_AUTH_URL: 'http://127.0.0.1:9/identity/v3', OS_USERNAME: 'demo', OS_PASSWORD: 'x' }, 1, /^hitch: HITCH_UPSTREAM_UNAVAILABLE: cannot reach http:\/\/127\.0\.0\.1:9 /],
      [['--os-cloud', 'nope', 'volume', 'list'], env, 1, /^hitch: HITCH_INVALID_ARGUMENT: Invalid argument: no cloud named nope in /],
      [['--as', 'root', 'volume', 'list'], env, 1, /^hitch: HITCH_INVALID_ARGUMENT: Invalid argument: --as must be demo or admin/],
    ];
    for (const [args, e, code, re] of cases) {
      const r = await cli(args, e);
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.err.split('\n')[0], args.join(' ')).toMatch(re);
    }
    // Attaching a volume that is in use: Nova's 400 for it, code recovered from the message.
    await cli(['attach', 'demo-server', 'demo-volume'], env);
    const again = await cli(['attach', 'demo-server', 'demo-volume'], env);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/^hitch: HITCH_INVALID_VOLUME: Invalid volume: volume [0-9a-f-]{36} status must be available, but it is in-use$/);
  });

  it('--debug shows the REST calls in curl form with the token masked, never a secret', async () => {
    const c = JSON.parse(readFileSync(join(dir, 'credentials.json'), 'utf8'));
    const r = await cli(['--debug', 'server', 'list'], env);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/^REQ: curl -g -i -X GET http:\/\/127\.0\.0\.1:\d+\/compute\/v2\.1\/servers\/detail(\?\S*)? .*-H "x-auth-token: \{SHA1\}[0-9a-f]{40}"/m);
    expect(r.err).toMatch(/^REQ: curl -g -i -X POST .*\/identity\/v3\/auth\/tokens .*"password":"\*\*\*"/m);
    expect(r.err).toMatch(/^RESP: 200 req-/m);
    expect(r.err).not.toContain(c.demo.password);
    // On attach, the host's commands too. The node record is made with iscsiadm (as os-brick
    // makes it), so a CHAP setting can be on a command line: its value is masked where the
    // command is printed, whatever else the command carries.
    await cli(['volume', 'create', 'dbg'], env);
    const a = await cli(['--debug', 'attach', 'demo-server', 'dbg'], env);
    expect(a.code, a.err).toBe(0);
    expect(a.err).toMatch(/^CMD: iscsiadm -m node -T \S+ -p \S+ --login → exit 0 \(\d+ ms\)$/m);
    const secretValues = [...a.err.matchAll(/-n node\.session\.auth\.password(?:_in)? -v (\S+)/g)].map((m) => m[1]);
    expect(secretValues.length).toBeGreaterThan(0);
    for (const v of secretValues) expect(v).toBe('***');
    expect(a.err).not.toContain(c.demo.password);
  });

  it('maps messages back to catalog codes', () => {
    expect(codeFor(404, 'Volume 1 could not be found.')).toBe('HITCH_NOT_FOUND');
    expect(codeFor(404, 'Volume v is not attached to server s.')).toBe('HITCH_VOLUME_NOT_ATTACHED');
    expect(codeFor(409, "Cannot 'attach_volume' instance x while it is in vm_state building")).toBe('HITCH_INSTANCE_INVALID_STATE');
    expect(codeFor(403, 'A project-scoped token is required.')).toBe('HITCH_FORBIDDEN');
    expect(codeFor(500, 'boom')).toBe('HITCH_UPSTREAM_ERROR');
  });
});
