/**
 * The real-host suite's peers: what must be installed, the daemons it starts (and only those it
 * stops), the tiny guest, and readers of the guest's serial console.
 *
 * Every wait here is on a real event — a daemon answering, a line in the console file (fs.watch,
 * with a bounded re-read in case an event is coalesced) — and every one is bounded.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, watch } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const exec = promisify(execFile);

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Binaries and files the suite needs, with the Debian package that brings each. */
const NEEDS: readonly [path: string, pkg: string][] = [
  ['/usr/sbin/tgtd', 'tgt'],
  ['/usr/sbin/tgtadm', 'tgt'],
  ['/usr/bin/iscsi-ls', 'libiscsi-bin'],
  ['/usr/sbin/libvirtd', 'libvirt-daemon-system'],
  ['/usr/sbin/virtlogd', 'libvirt-daemon-system'],
  ['/usr/bin/virsh', 'libvirt-clients'],
  ['/usr/bin/qemu-system-x86_64', 'qemu-system-x86'],
  ['/usr/lib/x86_64-linux-gnu/qemu/block-iscsi.so', 'qemu-block-extra'],
  ['/etc/iscsi/initiatorname.iscsi', 'open-iscsi'],
  ['/usr/bin/cpio', 'cpio'],
  ['/usr/sbin/depmod', 'kmod'],
  // Boot from volume is asked for as users ask: `openstack server create --volume`.
  ['/usr/bin/openstack', 'python3-openstackclient'],
];

/** What is missing for the suite (empty: it can run). */
export function missingPeers(): string[] {
  const missing = NEEDS.filter(([p]) => !existsSync(p)).map(([p, pkg]) => `${p} (${pkg})`);
  if (typeof process.getuid === 'function' && process.getuid() !== 0) missing.push('root (tgtd, libvirtd and qemu:///system need it)');
  return missing;
}

export async function run(cmd: string, args: readonly string[], timeoutMs = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(cmd, [...args], { timeout: timeoutMs, env: { ...process.env, LC_ALL: 'C' } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return { code: typeof x.code === 'number' ? x.code : 1, stdout: x.stdout ?? '', stderr: x.stderr ?? x.message };
  }
}

export const virsh = (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => run('virsh', ['-c', 'qemu:///system', ...args]);

/** Poll `check` until it is true: a bounded wait on a condition that has no event to watch. */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let pause = 25;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pause));
    pause = Math.min(pause * 2, 500);
  }
}

function readPid(path: string): number | null {
  try {
    const n = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(n) && n > 1 ? n : null;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface Libvirt {
  /** Whether this suite started libvirtd (and virtlogd), and so stops them. */
  readonly started: boolean;
  stop(): Promise<void>;
}

/**
 * libvirtd for `qemu:///system`: used as found when it answers, otherwise started here (there is
 * no systemd: `virtlogd -d` for the console log, then `libvirtd -d`) and stopped by `stop()`,
 * by the pids they wrote — nothing else is signalled.
 */
export async function ensureLibvirt(): Promise<Libvirt> {
  if ((await virsh('version')).code === 0) return { started: false, stop: async () => undefined };
  const mine: { name: string; pid: number }[] = [];
  if (!existsSync('/run/libvirt/virtlogd-sock')) {
    const r = await run('virtlogd', ['-d']);
    if (r.code !== 0) throw new Error(`virtlogd -d: ${r.stderr}`);
    const pid = readPid('/run/virtlogd.pid');
    if (pid) mine.push({ name: 'virtlogd', pid });
  }
  const r = await run('libvirtd', ['-d']);
  if (r.code !== 0) throw new Error(`libvirtd -d: ${r.stderr}`);
  await until('libvirtd to answer on qemu:///system', async () => (await virsh('version')).code === 0, 30_000);
  const pid = readPid('/run/libvirtd.pid');
  if (pid) mine.unshift({ name: 'libvirtd', pid });
  return {
    started: true,
    async stop() {
      for (const p of mine) {
        if (!alive(p.pid)) continue;
        process.kill(p.pid, 'SIGTERM');
        await until(`${p.name} (pid ${p.pid}) to exit`, async () => !alive(p.pid), 30_000);
      }
    },
  };
}

/**
 * Build or reuse the tiny guest (`scripts/build-test-guest.sh`): its kernel and initramfs, and
 * the same guest as a bootable disk image (SYSLINUX on a FAT filesystem) for boot from volume.
 */
export async function testGuest(): Promise<{ kernel: string; initrd: string; bootDisk: string; version: string }> {
  const r = await run('bash', [join(REPO, 'scripts', 'build-test-guest.sh')], 300_000);
  const dir = r.stdout.trim().split('\n').pop() ?? '';
  if (r.code !== 0 || !existsSync(join(dir, 'vmlinuz'))) throw new Error(`build-test-guest.sh failed (${r.code}): ${r.stderr.slice(-2000)}`);
  if (!existsSync(join(dir, 'boot.img'))) throw new Error(`build-test-guest.sh left no boot disk in ${dir} (a cached build reused without apt lists: run apt-get update)`);
  return { kernel: join(dir, 'vmlinuz'), initrd: join(dir, 'initrd.gz'), bootDisk: join(dir, 'boot.img'), version: dir.split('/').pop() ?? '' };
}

/** A loopback TCP port free on every given address (for tgtd's portals). */
export async function freePort(addresses: readonly string[]): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    const ok = await Promise.all(
      addresses.map(
        (a) =>
          new Promise<boolean>((resolve) => {
            const s = createServer();
            s.once('error', () => resolve(false));
            s.listen(port, a, () => s.close(() => resolve(true)));
          }),
      ),
    );
    if (ok.every(Boolean)) return port;
  }
  throw new Error('no free loopback port');
}

/** A control port no tgtd uses (its socket is /var/run/tgtd/socket.N). */
export function freeTgtControlPort(): number {
  for (;;) {
    const n = 1000 + Math.floor(Math.random() * 31_000); // tgtd takes 0..32767
    if (!existsSync(`/var/run/tgtd/socket.${n}`) && !existsSync(`/run/tgtd/socket.${n}`)) return n;
  }
}

/** The serial console of a guest: a file virtlogd appends to. */
export class Console {
  readonly path: string;
  constructor(path: string) {
    this.path = path;
  }

  /** The complete lines so far (a line still being written is not one yet). */
  lines(): string[] {
    try {
      return readFileSync(this.path, 'utf8').split(/\r?\n/).slice(0, -1);
    } catch {
      return [];
    }
  }

  /** `GUEST-BLOCK: [vda:serial vdb:serial ]` lines → device → serial, from line `from` on. */
  blockLines(from = 0): { index: number; line: string; devices: Map<string, string> }[] {
    const out: { index: number; line: string; devices: Map<string, string> }[] = [];
    this.lines().forEach((line, index) => {
      if (index < from) return;
      const m = /GUEST-BLOCK: \[([^\]]*)\]/.exec(line);
      if (!m) return;
      const devices = new Map<string, string>();
      for (const d of (m[1] ?? '').trim().split(/\s+/).filter(Boolean)) {
        const [name, serial] = d.split(':');
        devices.set(name ?? d, serial ?? '');
      }
      out.push({ index, line: line.trim(), devices });
    });
    return out;
  }

  /** Wait until `find` returns something for the console's lines; event-driven, bounded. */
  async waitFor<T>(what: string, find: (c: Console) => T | undefined, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = find(this);
      if (hit !== undefined) return hit;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; console tail:\n${this.lines().slice(-15).join('\n')}`);
      await new Promise<void>((resolve) => {
        let w: ReturnType<typeof watch> | undefined;
        const done = (): void => {
          clearTimeout(t);
          w?.close();
          resolve();
        };
        // A re-read at least every 250 ms covers events lost before the watch was armed.
        const t = setTimeout(done, Math.min(left, 250));
        try {
          w = watch(dirname(this.path), { persistent: false }, done);
          w.on('error', done);
        } catch {
          w = undefined;
        }
      });
    }
  }
}
