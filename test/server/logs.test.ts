/**
 * Structured logs, as an operator reads them: a real `hitch serve --log-level debug` (stdout not
 * a terminal: JSON lines) under a burst of requests and concurrent attaches. Every log line
 * parses; one grep for an attach's request id (the `x-openstack-request-id` the API answered)
 * returns its request line, its start and end, a start and an end line for every step of its
 * trace and a line for every command its host ran, with the exit code and duration the trace
 * holds; and neither the passwords, nor a token, nor a CHAP secret appears anywhere.
 */
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, prettyLine } from '../../src/server/log.ts';
import { spawnServe, type ServeProcess } from '../cli/support.ts';
import { login, type Api } from '../support/processes.ts';

type Line = Record<string, unknown> & { level: number; time: number; msg: string };
type Operation = { state: string; spans: { name: string; parent_id: number | null; attrs: Record<string, unknown>; start_ms: number; end_ms: number }[] };

describe('hitch serve logs', () => {
  let srv: ServeProcess;
  let demo: Api;
  let admin: Api;
  const attaches: { requestId: string; opId: string; volumeId: string; op?: Operation }[] = [];
  let lines: Line[] = [];
  let stdoutText = '';
  let wrongPasswordStatus = 0;

  beforeAll(async () => {
    srv = await spawnServe(['--sim-speed', '0', '--log-level', 'debug'], { via: 'bin' });
    demo = await login(srv.url, srv.dataDir, 'demo');
    admin = await login(srv.url, srv.dataDir, 'admin');
    const server = (await demo.call('GET', '/compute/v2.1/servers?name=demo-server')).body.servers[0] as { id: string };
    const vols: string[] = [];
    for (let i = 0; i < 3; i++) vols.push(((await demo.call('POST', '/volume/v3/volumes', { volume: { size: 1, name: `log-vol-${i}` } })).body as { volume: { id: string } }).volume.id);
    for (const v of vols) {
      for (;;) {
        const s = (await demo.call('GET', `/volume/v3/volumes/${v}`)).body.volume.status as string;
        if (s === 'available') break;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    // The load: three attaches to one server at once, among forty list requests.
    const attachOne = async (volumeId: string): Promise<void> => {
      const r = await fetch(`${srv.url}/compute/v2.1/servers/${server.id}/os-volume_attachments`, {
        method: 'POST',
        headers: { 'x-auth-token': demo.token, 'content-type': 'application/json' },
        body: JSON.stringify({ volumeAttachment: { volumeId } }),
      });
      expect(r.status).toBe(200);
      attaches.push({ requestId: r.headers.get('x-openstack-request-id') as string, opId: r.headers.get('x-hitch-operation-id') as string, volumeId });
    };
    await Promise.all([...vols.map(attachOne), ...Array.from({ length: 40 }, (_, i) => demo.call('GET', i % 2 ? '/volume/v3/volumes/detail' : '/compute/v2.1/servers/detail'))]);
    for (const a of attaches) {
      for (;;) {
        const op = (await demo.call('GET', `/compute/v2.1/os-hitch-operations/${a.opId}`)).body.operation as Operation;
        a.op = op;
        if (op.state !== 'running' && op.spans.every((s) => s.end_ms !== null)) break;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    // A wrong password: the attempt is logged, the password is not.
    const bad = await fetch(`${srv.url}/identity/v3/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: 'demo', domain: { id: 'default' }, password: 'Not-The-Password-77' } } } } }),
    });
    wrongPasswordStatus = bad.status;
    expect(await srv.stop()).toBe(0);
    stdoutText = srv.stdout();
    lines = stdoutText
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Line);
  });
  afterAll(async () => {
    await srv?.stop();
    srv?.dispose();
  });

  it('writes JSON lines with a level, a time and a message; every request has its line', () => {
    expect(lines.length).toBeGreaterThan(100);
    for (const l of lines) {
      expect(typeof l.level).toBe('number');
      expect(typeof l.time).toBe('number');
      expect(typeof l.msg).toBe('string');
      expect(l.msg).not.toContain('undefined');
    }
    const requests = lines.filter((l) => typeof l['route'] === 'string' && typeof l['status'] === 'number');
    const lists = requests.filter((l) => l['route'] === '/volume/v3/volumes/detail' || l['route'] === '/compute/v2.1/servers/detail');
    expect(lists.length).toBeGreaterThanOrEqual(40);
    for (const r of lists) {
      expect(r).toMatchObject({ method: 'GET', status: 200, user_id: expect.stringMatching(/^[0-9a-f]{32}$/), project_id: demo.projectId });
      expect(r['request_id']).toMatch(/^req-[0-9a-f-]{36}$/);
      expect(typeof r['duration_ms']).toBe('number');
    }
    // Route templates, not URLs: the server's id is not in the route.
    const attachLines = requests.filter((l) => l['method'] === 'POST' && l['route'] === '/compute/v2.1/servers/:id/os-volume_attachments');
    expect(attachLines).toHaveLength(3);
    expect(wrongPasswordStatus).toBe(401);
    expect(requests.some((l) => l['route'] === '/identity/v3/auth/tokens' && l['status'] === 401)).toBe(true);
  });

  it('one grep for an attach request id returns its request line, every step and every host command', () => {
    expect(attaches).toHaveLength(3);
    for (const a of attaches) {
      const mine = stdoutText.split('\n').filter((l) => l.includes(a.requestId)).map((l) => JSON.parse(l) as Line);
      const op = a.op as Operation;
      expect(op.state).toBe('done');
      expect(mine.filter((l) => l['route'] === '/compute/v2.1/servers/:id/os-volume_attachments')).toHaveLength(1);
      const opLines = mine.filter((l) => l['op_id'] === a.opId);
      for (const l of opLines) expect(l).toMatchObject({ request_id: a.requestId, kind: 'attach', volume_id: a.volumeId, server_name: 'demo-server', project_id: demo.projectId, user_id: expect.stringMatching(/^[0-9a-f]{32}$/), host: expect.any(String) });
      expect(opLines.some((l) => /^attach of volume .* started on host /.test(l.msg))).toBe(true);
      expect(opLines.filter((l) => l['outcome'] === 'done' && /done in /.test(l.msg))).toHaveLength(1);
      // Every step of the trace: a start and an end line, the end with the trace's duration.
      const steps = op.spans.filter((s) => s.parent_id === null);
      expect(steps.map((s) => s.name)).toEqual(expect.arrayContaining(['reserve', 'get-volume', 'connect-volume', 'hotplug', 'complete']));
      for (const s of steps) {
        expect(opLines.filter((l) => l['step'] === s.name && /started$/.test(l.msg)), s.name).toHaveLength(1);
        const end = opLines.filter((l) => l['step'] === s.name && l['outcome'] === 'ok');
        expect(end, s.name).toHaveLength(1);
        expect(end[0]?.['duration_ms']).toBe(s.end_ms - s.start_ms);
      }
      // Every host command of the trace: `Running cmd` and `CMD … returned: N in Xs`.
      const execs = op.spans.filter((s) => s.name.startsWith('exec '));
      expect(execs.length).toBeGreaterThan(10);
      const ran = opLines.filter((l) => String(l.msg).startsWith('Running cmd (subprocess): '));
      const returned = opLines.filter((l) => /^CMD ".*" returned: \S+ in \d+\.\ds$/.test(l.msg));
      expect(ran).toHaveLength(execs.length);
      expect(returned).toHaveLength(execs.length);
      const byCommand = (xs: { command: unknown; exit: unknown }[]) => xs.map((x) => `${String(x.command)} → ${String(x.exit)}`).sort();
      expect(byCommand(returned.map((l) => ({ command: l['command'], exit: l['exit_code'] })))).toEqual(byCommand(execs.map((s) => ({ command: s.attrs['command'], exit: s.attrs['exitCode'] ?? null }))));
      expect(returned.some((l) => String(l['command']).includes('--login') && l['exit_code'] === 0)).toBe(true);
    }
  });

  it('no secret appears: passwords, tokens, CHAP secrets', () => {
    const creds = srv.credentials();
    for (const secret of [creds.admin.password, creds.demo.password, demo.token, admin.token, 'Not-The-Password-77']) {
      expect(stdoutText.split('\n').filter((l) => l.startsWith('{') && l.includes(secret))).toEqual([]);
    }
    // The CHAP password brick sets on each node record is masked where the command is recorded.
    const chap = lines.filter((l) => String(l['command'] ?? '').includes('node.session.auth.password '));
    expect(chap.length).toBeGreaterThan(0);
    for (const l of chap) expect(String(l['command'])).toMatch(/node\.session\.auth\.password -v \*\*\*$/);
  });

});

describe('the logger', () => {
  it('masks secret fields wherever a line carries them, and prints pretty lines for a person', () => {
    const json = new PassThrough();
    let out = '';
    json.on('data', (d) => (out += String(d)));
    const log = createLogger({ level: 'info', format: 'json', stream: json });
    log.info({ user: { name: 'demo', password: 'Pw-123456' }, token: 'tok-abcdef' }, 'login');
    log.debug('not at info');
    const line = JSON.parse(out.trim()) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 30, msg: 'login', user: { name: 'demo', password: '***' }, token: '***' });
    expect(out).not.toContain('Pw-123456');
    expect(out).not.toContain('not at info');

    const pretty = new PassThrough();
    let text = '';
    pretty.on('data', (d) => (text += String(d)));
    createLogger({ level: 'debug', format: 'pretty', stream: pretty }).warn({ portal: '192.0.2.11:3260', exit_code: 8 }, 'login failed');
    expect(text).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN  login failed {2}portal=192\.0\.2\.11:3260 exit_code=8\n$/);
    expect(prettyLine('not json')).toBe('not json');
  });
});
