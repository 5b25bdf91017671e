import { mkdtempSync, rmSync, writeFileSync, mkdirSync, unlinkSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isHitchError } from '../errors.ts';
import { hostConformance } from './conformance.ts';
import { DEFAULT_ALLOWED_BINARIES, DEFAULT_ALLOWED_ROOTS } from './allowlist.ts';
import { LinuxHost } from './linux-host.ts';

function makeHost() {
  const root = mkdtempSync(join(tmpdir(), 'hitch-linuxhost-'));
  const host = new LinuxHost({ name: 'test', allowedRoots: [...DEFAULT_ALLOWED_ROOTS, root], defaultTimeoutMs: 5_000 });
  return { root, host };
}

hostConformance('LinuxHost', async () => {
  const { root, host } = makeHost();
  mkdirSync(join(root, 'etc'));
  const known = join(root, 'etc', 'initiatorname.iscsi');
  writeFileSync(known, 'InitiatorName=iqn.1993-08.org.debian:01:7cc8838d1c0\n');
  const gone = join(root, 'etc', 'sdb');
  writeFileSync(gone, '');
  return {
    host,
    knownFile: { path: known, content: 'InitiatorName=iqn.1993-08.org.debian:01:7cc8838d1c0\n' },
    knownDir: join(root, 'etc'),
    missingPath: join(root, 'etc', 'missing'),
    // The link's directory does not exist yet either, as /dev/disk/by-path on a fresh host.
    appearing: {
      path: join(root, 'disk', 'by-path', 'ip-127.0.0.1:3260-iscsi-iqn.2010-10.org.openstack:volume-1-lun-1'),
      make: () => {
        mkdirSync(join(root, 'disk', 'by-path'), { recursive: true });
        writeFileSync(join(root, 'disk', 'by-path', 'ip-127.0.0.1:3260-iscsi-iqn.2010-10.org.openstack:volume-1-lun-1'), '');
      },
    },
    vanishing: { path: gone, remove: () => unlinkSync(gone) },
    settle: async () => undefined,
    dispose: async () => rmSync(root, { recursive: true, force: true }),
  };
});

describe('LinuxHost', () => {
  it('writeFileAtomic: a new file is 0600 (it may hold a CHAP secret), new directories 0700, old content replaced whole', async () => {
    const { root, host } = makeHost();
    try {
      const path = join(root, 'nodes', 'iqn.2010-10.org.openstack:volume-1', '192.0.2.10,3260');
      await host.writeFileAtomic(path, 'node.session.auth.password = s3cret\n');
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(statSync(join(root, 'nodes')).mode & 0o777).toBe(0o700);
      writeFileSync(join(root, 'other'), 'x', { mode: 0o644 });
      await host.writeFileAtomic(join(root, 'other'), 'y', { mode: 0o644 });
      expect(statSync(join(root, 'other')).mode & 0o777).toBe(0o644);
      await host.writeFileAtomic(path, 'node.startup = automatic\n');
      expect(await host.readFile(path)).toBe('node.startup = automatic\n');
      expect(statSync(path).mode & 0o777).toBe(0o600);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('runs commands without a shell: metacharacters are plain argument text', async () => {
    const { root, host } = makeHost();
    try {
      const r = await host.exec('echo', ['$(id)', '; rm -rf /', '`x`', '&&', '|']);
      expect(r.stdout).toBe('$(id) ; rm -rf / `x` && |\n');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('kills a command that runs past its timeout and says so', async () => {
    const { root, host } = makeHost();
    try {
      const err = await host.exec('sleep', ['30'], { timeoutMs: 100 }).catch((e: unknown) => e);
      expect(isHitchError(err, 'HITCH_EXEC_TIMEOUT')).toBe(true);
      expect((err as Error).message).toContain('sleep 30');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('reports an allowed binary that is not installed as exit 127, not a crash', async () => {
    const host = new LinuxHost({ allowedBinaries: [...DEFAULT_ALLOWED_BINARIES, 'hitch-no-such-tool'] });
    const r = await host.exec('hitch-no-such-tool', [], { okCodes: 'any' });
    expect(r.code).toBe(127);
  });

  it('feeds input to stdin (the way sysfs writes go through tee)', async () => {
    const { root, host } = makeHost();
    try {
      const target = join(root, 'scan');
      writeFileSync(target, '');
      await host.exec('tee', ['-a', target], { input: '0 0 192' });
      expect(await host.readFile(target)).toBe('0 0 192');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('masks iscsiadm CHAP passwords in the exec record even when not declared', async () => {
    const { root, host } = makeHost();
    try {
      const seen: string[] = [];
      host.onExec((r) => seen.push(r.args.join(' ')));
      await host.exec('echo', ['-n', 'node.session.auth.password', '-v', 'hunter2'], { okCodes: 'any' });
      expect(seen[0]).not.toContain('hunter2');
      expect(seen[0]).toContain('***');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
