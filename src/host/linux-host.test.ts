import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, unlinkSync, statSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isHitchError } from '../errors.ts';
import { hostConformance } from './conformance.ts';
import { DEFAULT_ALLOWED_BINARIES, DEFAULT_ALLOWED_ROOTS } from './allowlist.ts';
import { LinuxHost, probeErrorOutcome } from './linux-host.ts';
import type { TcpEndpoints } from './conformance.ts';

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
    tcp: loopbackEndpoints,
    dispose: async () => rmSync(root, { recursive: true, force: true }),
  };
});

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
}

/**
 * On loopback: a node listener (open); a port that was bound and closed again (refused: the
 * kernel answers a SYN to a port nobody holds with a reset); and a listener whose accept queue
 * is full (silent). The last is Python's, because node accepts every connection itself: a
 * socket in listen(0) that never accepts holds one connection in its queue, and the kernel
 * drops every later SYN (tcp_abort_on_overflow is 0), so a connect neither opens nor fails.
 */
async function loopbackEndpoints(): Promise<TcpEndpoints> {
  const open = createServer((s) => s.destroy());
  const openPort = await listen(open);
  const gone = createServer();
  const refusedPort = await listen(gone);
  await new Promise<void>((r) => gone.close(() => r()));
  const py = spawn('/usr/bin/python3', ['-c', 'import socket,sys\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const silentPort = await new Promise<number>((resolve, reject) => {
    py.once('error', reject);
    py.stdout.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
  });
  // Fill the queue: this connection completes (the one place) and is never accepted.
  const filler: Socket = await new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port: silentPort }, () => resolve(s));
    s.once('error', reject);
  });
  return {
    open: { address: '127.0.0.1', port: openPort },
    refused: { address: '127.0.0.1', port: refusedPort },
    silent: { address: '127.0.0.1', port: silentPort },
    close: async () => {
      filler.destroy();
      py.stdin.end();
      py.kill();
      await new Promise<void>((r) => open.close(() => r()));
    },
  };
}

describe('LinuxHost TCP probe', () => {
  it('maps a failed connect\'s errno to what the peer said', () => {
    expect(probeErrorOutcome('ECONNREFUSED')).toBe('refused');
    expect(probeErrorOutcome('ETIMEDOUT')).toBe('timeout');
    expect(probeErrorOutcome('EHOSTUNREACH')).toBe('unreachable');
    expect(probeErrorOutcome('ENETUNREACH')).toBe('unreachable');
    expect(probeErrorOutcome('ENOTFOUND')).toBe('unreachable');
  });

  it('closes the probe connection at once: the listener sees it open and end, and no byte', async () => {
    const host = new LinuxHost({ name: 'test' });
    const server = createServer();
    const port = await listen(server);
    const closed = new Promise<number>((resolve) => {
      server.on('connection', (s) => {
        let bytes = 0;
        s.on('data', (d: Buffer) => (bytes += d.length));
        s.on('error', () => undefined);
        s.on('close', () => resolve(bytes));
      });
    });
    try {
      expect((await host.probeTcp('127.0.0.1', port, { timeoutMs: 5_000 })).outcome).toBe('open');
      expect(await closed).toBe(0);
    } finally {
      server.close();
    }
  });
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
