import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { hitchNodeFlags, nodeFlagsOfShebang } from './node-flags.ts';

describe('node flags of bin/hitch.js', () => {
  it('reads the flags of an env -S shebang', () => {
    expect(nodeFlagsOfShebang('#!/usr/bin/env -S node --a=1  --b')).toEqual(['--a=1', '--b']);
    expect(nodeFlagsOfShebang('#!/usr/bin/env node')).toEqual([]);
    expect(nodeFlagsOfShebang('// not a shebang')).toEqual([]);
  });

  it('holds flags this node accepts', () => {
    const flags = hitchNodeFlags();
    expect(flags.length).toBeGreaterThan(0);
    const r = spawnSync(process.execPath, [...flags, '-e', 'process.stdout.write(JSON.stringify(process.execArgv))'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(expect.arrayContaining(flags));
  });
});
