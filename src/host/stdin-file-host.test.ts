import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ExecRecord } from '../ports/host.ts';
import { DEFAULT_ALLOWED_ROOTS } from './allowlist.ts';
import { LinuxHost } from './linux-host.ts';
import { StdinFileHost } from './stdin-file-host.ts';

describe('StdinFileHost (virsh reads /dev/stdin, which a Node child cannot open)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hitch-stdin-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const linux = new LinuxHost({ allowedRoots: [...DEFAULT_ALLOWED_ROOTS, dir] });
  const host = new StdinFileHost(linux, dir);

  it('hands the input over as a private file for that one call, then removes it', async () => {
    const records: ExecRecord[] = [];
    host.onExec((r) => records.push(r));
    const r = await host.exec('cat', ['/dev/stdin'], { input: '<disk type="network"/>\n' });
    expect(r.stdout).toBe('<disk type="network"/>\n');
    expect(readdirSync(dir)).toEqual([]);
    expect(records[0]?.args[0]).toMatch(new RegExp(`^${dir}/cat-[0-9a-f-]{36}$`));
  });

  it('maps the file back to /dev/stdin in what the tool says, and removes it when the tool fails', async () => {
    const r = await host.exec('ls', ['/dev/stdin', '/nonexistent-hitch'], { input: 'x', okCodes: 'any' });
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('/dev/stdin\n');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('passes calls without input, or without /dev/stdin, straight through', async () => {
    expect((await host.exec('echo', ['/dev/stdin'])).stdout).toBe('/dev/stdin\n');
    expect((await host.exec('cat', [], { input: 'plain stdin' })).stdout).toBe('plain stdin');
  });
});
