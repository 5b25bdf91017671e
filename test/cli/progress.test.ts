/**
 * Live progress, from a trace as the server reports it mid-attach: on a terminal each step is
 * pending, running (with what it is doing now and for how long) or done; in a pipe, one line per
 * finished step and per new sub-step.
 */
import { describe, expect, it } from 'vitest';
import { frame, PlainProgress, stepLines, TtyProgress } from '../../src/cli/progress.ts';
import type { ApiOperation, ApiSpan } from '../../src/cli/resources.ts';

const s = (id: number, parent: number | null, name: string, start: number, end: number | null, attrs: ApiSpan['attrs'] = {}): ApiSpan => ({
  id, parent_id: parent, name, start_ms: start, end_ms: end, outcome: end === null ? 'running' : 'ok', attrs, error: null,
});

/** The seed 12 s into the dead portal's login (the healthy one is done, the connect goes on). */
const midSeed: ApiOperation = {
  id: 'op', kind: 'attach', server_id: 'srv', volume_id: 'vol', request_id: 'req', state: 'running', step: 'connect-volume', error: null, started_ms: 0, ended_ms: null, created_at: '2026-01-01T00:00:00.000Z',
  spans: [
    s(1, null, 'reserve', 0, 0), s(2, null, 'lock-instance', 0, 0), s(3, null, 'get-volume', 0, 0), s(4, null, 'connector-properties', 0, 10),
    s(5, null, 'initialize-connection', 10, 7010), s(6, null, 'connect-volume', 7010, null), s(7, 6, 'connect_volume', 7010, null),
    s(8, 7, 'connect_path', 7010, null, { portal: '192.168.1.59:3260' }),
    s(9, 8, 'exec iscsiadm', 7045, null, { command: 'iscsiadm -m node -T iqn.a0 -p 192.168.1.59:3260 --login' }),
    s(10, 7, 'connect_path', 7010, 7215, { portal: '192.168.1.60:3260' }),
  ],
};

describe('attach progress', () => {
  it('shows each step pending, running or done, and what the running one is doing', () => {
    const lines = stepLines(midSeed, 19_045);
    expect(lines.map((l) => `${l.name}:${l.state}`)).toEqual([
      'reserve:done', 'lock-instance:done', 'get-volume:done', 'connector-properties:done', 'initialize-connection:done',
      'connect-volume:running', 'hotplug:pending', 'complete:pending', 'unlock-instance:pending',
    ]);
    expect(lines[5]?.detail).toBe('logging in to 192.168.1.59:3260 (12 s)');
    const f = frame(midSeed, 19_045);
    expect(f).toContain('      logging in to 192.168.1.59:3260 (12 s)');
    expect(f.find((l) => l.includes('initialize-connection'))).toMatch(/^ {2}✓ initialize-connection +7\.0 s {2}initialize the connection/);
    expect(f.find((l) => l.includes('hotplug'))).toMatch(/^ {2}· hotplug/);
  });

  it('names the backend at work inside an in-process block storage call', () => {
    const exporting: ApiOperation = {
      ...midSeed, step: 'initialize-connection',
      spans: [
        ...midSeed.spans.slice(0, 4), s(5, null, 'initialize-connection', 10, null),
        s(6, 5, 'block-storage PUT /v3/attachments/{id}', 10, null, { method: 'PUT' }), s(7, 6, 'backend sim export', 10, null, { backend: 'sim' }),
      ],
    };
    expect(stepLines(exporting, 3010)[4]?.detail).toBe("block storage: PUT /v3/attachments/{id}: the sim backend's export (3.0 s)");
  });

  it('prints plain lines once each, as steps end', () => {
    const out: string[] = [];
    const p = new PlainProgress((l) => out.push(l));
    p.update(midSeed, 19_045);
    p.update(midSeed, 20_000);
    expect(out).toEqual([
      '[+0 ms] reserve: done (0 ms)', '[+0 ms] lock-instance: done (0 ms)', '[+0 ms] get-volume: done (0 ms)', '[+10 ms] connector-properties: done (10 ms)',
      '[+7.0 s] initialize-connection: done (7.0 s)', '[+7.0 s] connect-volume: logging in to 192.168.1.59:3260',
    ]);
  });

  it('redraws the block in place on a terminal', () => {
    let written = '';
    const tty = { columns: 100, write: (t: string) => ((written += t), true) } as unknown as NodeJS.WriteStream;
    const p = new TtyProgress(tty);
    p.update(midSeed, 19_045);
    const first = written;
    expect(first.startsWith('\x1b[2K  ✓ reserve')).toBe(true);
    written = '';
    p.update({ ...midSeed, state: 'done' }, 19_100);
    // Up over the 10 lines drawn before (9 steps + the sub-step), then each line cleared and redrawn.
    expect(written.startsWith('\x1b[10A\x1b[2K')).toBe(true);
  });
});
