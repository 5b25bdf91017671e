/**
 * The README and `--help` tell the truth: every `hitch` (and `openstack`) example in the README's
 * walkthrough runs, in order, against a fresh all-in-one server; every command's help is
 * reachable; the configuration table and `hitch serve --help` list the same flags.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/main.ts';
import { startServer, type RunningServer } from '../../src/server/serve.ts';
import { peerRequired } from '../../src/test-support/postgres.ts';
import { cli, ROOT } from './support.ts';

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

function section(title: string): string {
  const start = README.indexOf(`\n## ${title}\n`);
  expect(start, `README section ${title}`).toBeGreaterThan(0);
  const end = README.indexOf('\n## ', start + 4);
  return README.slice(start, end < 0 ? undefined : end);
}

/** Command lines of the ```bash blocks, comments stripped. */
function examples(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/```bash\n([\s\S]*?)```/g)) {
    for (const line of (m[1] ?? '').split('\n')) {
      const cmd = line.replace(/\s+#.*$/, '').trim();
      if (cmd) out.push(cmd);
    }
  }
  return out;
}

describe('the README', () => {
  it('stands alone in a clone: no path outside the repository', () => {
    expect(README).not.toContain('../shared');
    expect(readFileSync(join(ROOT, 'bench/README.md'), 'utf8')).not.toContain('../shared');
  });

  it('starts with the two commands', () => {
    const first = examples(README.slice(0, README.indexOf('\n## ')));
    expect(first).toEqual(['npm install && npm start', 'bash scripts/install-test-peers.sh && npm test']);
    // CI runs exactly the README's test command.
    const ci = readFileSync(join(import.meta.dirname, '../../.ci/run'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
    expect(ci.at(-1)).toBe(first[1]);
  });

  describe('walkthrough examples, run in order', () => {
    let srv: RunningServer;
    let dir: string;
    let home: string;
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'hitch-readme-'));
      home = mkdtempSync(join(tmpdir(), 'hitch-readme-home-'));
      srv = await startServer({ dataDir: dir, port: 0, simSpeed: 0, logLevel: 'silent' }, {}, () => undefined);
    });
    afterAll(async () => {
      await srv?.stop();
      for (const p of [dir, home]) if (p) rmSync(p, { recursive: true, force: true });
    });

    it('every hitch and openstack line of "First attach" succeeds', async () => {
      const lines = examples(section('First attach'));
      expect(lines.filter((l) => l.startsWith('hitch ')).length).toBeGreaterThan(10);
      const env: Record<string, string> = { HITCH_DATA_DIR: dir };
      const haveOpenstack = existsSync('/usr/bin/openstack');
      if (!haveOpenstack && !peerRequired()) console.warn('README test: skipping the openstack lines, /usr/bin/openstack is missing');
      for (const line of lines) {
        const words = line.split(/\s+/).map((w) => w.replace('$PWD/.data', dir));
        if (words[0] === 'export') {
          const [k, v] = (words[1] ?? '').split('=');
          env[k as string] = v as string;
        } else if (words[0] === 'hitch' && words[1] === 'serve') {
          // The serve examples must parse and resolve; running them would take the port.
          const r = await cli([...words.slice(1), '--print-config'], env);
          expect(r.code, `${line}\n${r.err}`).toBe(0);
        } else if (words[0] === 'hitch') {
          const r = await cli(words.slice(1), env);
          expect(r.code, `${line}\n${r.out}\n${r.err}`).toBe(0);
          if (words[1] === 'attach' || words[1] === 'detach') await srv.cloud.settle();
        } else if (words[0] === 'openstack') {
          if (!haveOpenstack && !peerRequired()) continue;
          const r = await new Promise<{ code: number; err: string }>((res) =>
            execFile('/usr/bin/openstack', words.slice(1), { env: { PATH: '/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8', NO_PROXY: '*', ...env }, timeout: 120_000 }, (e, _o, err) =>
              res({ code: e ? 1 : 0, err: String(err) }),
            ),
          );
          expect(r.code, `${line}\n${r.err}`).toBe(0);
          await srv.cloud.settle();
        } else {
          throw new Error(`README example the test does not know how to run: ${line}`);
        }
      }
    });
  });

  it('documents every flag of hitch serve in the configuration table, and no other', async () => {
    const help = (await cli(['serve', '--help'])).out;
    const flags = [...help.matchAll(/^ {2}(--[a-z-]+)/gm)].map((m) => m[1]).filter((f) => f !== '--help' && f !== '--print-config');
    const table = [...section('Configuration').matchAll(/`(--[a-z-]+)`/g)].map((m) => m[1]);
    expect([...new Set(table)].sort()).toEqual([...new Set(flags)].sort());
  });
});

describe('hitch --help', () => {
  // Every command the program defines, found by walking it (so a new command is covered too).
  const walk = (c: Command, path: string[]): string[][] => [path, ...c.commands.filter((k) => k.name() !== 'help').flatMap((k) => walk(k, [...path, k.name()]))];
  const commands = walk(buildProgram({ out: () => undefined, err: () => undefined, env: {}, tty: null }), []);
  it('covers at least the documented commands', () => {
    const names = commands.map((c) => c.join(' '));
    for (const c of ['serve', 'volume create', 'volume list', 'volume show', 'volume delete', 'server create', 'server list', 'server show', 'server delete', 'attach', 'detach', 'attachments', 'explain', 'scenario run', 'scenario list']) {
      expect(names).toContain(c);
    }
  });
  it.each(commands.map((c) => [c.join(' ') || '(top)', c] as const))('%s', async (_name, path) => {
    const r = await cli([...path, '--help']);
    expect(r.code).toBe(0);
    expect(r.out.split('\n')[0]).toMatch(new RegExp(`^Usage: hitch${path.map((p) => ` ${p}`).join('')}( |$)`));
    expect(r.err).toBe('');
  });

  it('lists every command at the top, with the examples of the README', async () => {
    const r = (await cli(['--help'])).out;
    for (const c of ['serve', 'volume', 'server', 'attach', 'detach', 'attachments', 'explain', 'scenario']) expect(r).toMatch(new RegExp(`^ {2}${c} `, 'm'));
    for (const ex of ['hitch attach demo-server demo-volume', 'hitch explain demo-server demo-volume', 'hitch scenario run seed']) {
      expect(r).toContain(ex);
      expect(README).toContain(ex);
    }
  });
});
