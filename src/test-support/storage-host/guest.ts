/**
 * The storage host guest, from the machine's side: find (or build) its image, boot it under QEMU
 * with a job, and hand back each case's result as the guest reports it.
 *
 * ```ts
 * import { storageHostImage, runGuest } from '../../src/test-support/storage-host/guest.ts';
 * const image = await storageHostImage();                  // builds on first use (root), else the cache
 * const run = runGuest({
 *   image,
 *   entry: 'test/storage-host/cases.guest.ts',             // exports `cases: GuestCases` (guest/runner.ts)
 *   cases: [{ name: 'healthy-single' }, { name: 'seed', params: { defaults: true } }],
 * });
 * const r = await run.result('healthy-single');            // resolves as soon as the guest finished that case
 * await run.done;                                          // the guest has powered off
 * ```
 *
 * One boot = one QEMU process (TCG; no /dev/kvm needed) with no network device, the repository
 * shared read-write over 9p at `/hitch` (so the guest's node finds `node_modules`), the root disk
 * with `snapshot=on` (every boot starts from the image as built), and the guest's serial console
 * on QEMU's stdout. The `entry` module is bundled with the guest runner (esbuild) into the job
 * directory `test-output/storage-host/<id>/`; inside the guest one Node process runs every case
 * of the job in order, each from a clean start (`guest/runner.ts`). Results come back as files in
 * the job directory, announced on the console.
 *
 * Boots are serialized machine-wide with `flock /tmp/hitch-guest.lock` (the lock every guest run
 * on this machine takes, by hand or from a test): two TCG guests on 2 cores would each run at
 * half speed and time out.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { parseCaseEnd, resultFileName } from './result-file.ts';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const BUILD_SCRIPT = join(REPO, 'scripts', 'build-storage-host.sh');
export const GUEST_LOCK = '/tmp/hitch-guest.lock';

export interface StorageHostImage {
  readonly dir: string;
  readonly kernel: string;
  readonly initrd: string;
  readonly rootfs: string;
  /** Kernel, open-iscsi, multipath-tools, tgt, udev, os-brick, node versions, as built. */
  readonly versions: Readonly<Record<string, string>>;
}

/** What the machine lacks to boot the guest (empty: it can). */
export function missingGuestPeers(): string[] {
  const missing: string[] = [];
  for (const [p, pkg] of [
    ['/usr/bin/qemu-system-x86_64', 'qemu-system-x86'],
    ['/usr/sbin/debootstrap', 'debootstrap'],
    ['/usr/bin/flock', 'util-linux'],
    ['/usr/bin/cpio', 'cpio'],
    ['/usr/sbin/mke2fs', 'e2fsprogs'],
  ] as const) {
    if (!existsSync(p)) missing.push(`${p} (${pkg})`);
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) missing.push('root (the image is built with debootstrap and chroot)');
  return missing;
}

/**
 * The image: `scripts/build-storage-host.sh` (which reuses its cache when every package version
 * is unchanged: a second or two) and the directory it prints.
 */
export function storageHostImage(): StorageHostImage {
  const r = spawnSync('bash', [BUILD_SCRIPT], { encoding: 'utf8', timeout: 1_200_000, stdio: ['ignore', 'pipe', 'pipe'] });
  const dir = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !existsSync(join(dir, 'rootfs.img'))) {
    throw new Error(`scripts/build-storage-host.sh failed (exit ${r.status ?? r.signal}): ${(r.stderr ?? '').slice(-3000)}`);
  }
  return {
    dir,
    kernel: join(dir, 'vmlinuz'),
    initrd: join(dir, 'initrd.img'),
    rootfs: join(dir, 'rootfs.img'),
    versions: JSON.parse(readFileSync(join(dir, 'versions.json'), 'utf8')) as Record<string, string>,
  };
}

export interface GuestCaseSpec {
  /** The result's name (unique in the job). */
  readonly name: string;
  /** The case to run (a key of the module's `cases`); default `name`. */
  readonly case?: string;
  /** Handed to the case function as is (JSON). */
  readonly params?: unknown;
}

export interface GuestCaseResult {
  readonly name: string;
  readonly ok: boolean;
  /** The case's return value (JSON), when it returned. */
  readonly data?: unknown;
  readonly error?: string;
  /** Wall time of the case inside the guest, its clean start included. */
  readonly ms: number;
  /** Wall time of the clean start alone. */
  readonly resetMs: number;
}

export interface RunGuestOptions {
  readonly image: StorageHostImage;
  /**
   * Repository-relative path of the module exporting `cases` (see `guest/runner.ts`), or several
   * such modules: their cases are merged (one boot runs the storage-host suite's cases and the
   * fidelity suite's).
   */
  readonly entry: string | readonly string[];
  readonly cases: readonly GuestCaseSpec[];
  /** Bound on the whole boot, from QEMU's start to its exit (default 30 min). */
  readonly timeoutMs?: number;
  /** Each console line as it arrives (progress in a test log). */
  readonly onLine?: (line: string) => void;
  /** Guest memory in MB (default 2048) and vCPUs (default 2). */
  readonly memoryMb?: number;
  readonly cpus?: number;
}

export interface GuestRun {
  readonly jobDir: string;
  /** The console, as a file (complete once `done` settles). */
  readonly consoleLog: string;
  /** Resolves with the case's result once the guest reports it; rejects when the boot ends without it. */
  result(name: string): Promise<GuestCaseResult>;
  /** Milestones on the machine's clock (ms since the QEMU start): `up` (init ran), `ready` (udev settled, runner starting). */
  readonly marks: Readonly<Record<string, number>>;
  /** Settles when QEMU has exited: every result, or the reason the boot failed. */
  readonly done: Promise<{ results: GuestCaseResult[]; wallMs: number }>;
  /** Stop the guest now (QEMU killed). */
  kill(): void;
}

const RUNNER = join(REPO, 'src', 'test-support', 'storage-host', 'guest', 'runner.ts');

/** Bundle `entry` (one module or several) with the runner into one ES module the guest's node loads in one read. */
async function bundle(entry: string | readonly string[], outFile: string): Promise<void> {
  const main = join(dirname(outFile), 'main.ts');
  const entries = typeof entry === 'string' ? [entry] : entry;
  writeFileSync(
    main,
    entries.map((e, i) => `import { cases as cases${i} } from ${JSON.stringify(join(REPO, e))};\n`).join('') +
      `import { runGuestJob } from ${JSON.stringify(RUNNER)};\n` +
      `await runGuestJob({ ${entries.map((_, i) => `...cases${i}`).join(', ')} }, process.argv[2] ?? '');\n`,
  );
  await build({
    entryPoints: [main],
    outfile: outFile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Native and CommonJS-heavy packages are loaded from the shared node_modules at run time.
    external: ['better-sqlite3', 'pg', 'pg-native', 'pino', 'fastify', 'esbuild', 'vitest'],
    banner: { js: "import { createRequire as __hitchRequire } from 'node:module'; const require = __hitchRequire(import.meta.url);" },
    logLevel: 'error',
    sourcemap: 'inline',
  });
}

export function runGuest(opts: RunGuestOptions): GuestRun {
  const id = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(3).toString('hex')}`;
  const jobDir = join(REPO, 'test-output', 'storage-host', id);
  const rel = relative(REPO, jobDir);
  mkdirSync(join(jobDir, 'results'), { recursive: true });
  const consoleLog = join(jobDir, 'console.log');
  const marks: Record<string, number> = {};
  const results = new Map<string, GuestCaseResult>();
  const waiters = new Map<string, { resolve: (r: GuestCaseResult) => void; reject: (e: Error) => void }[]>();
  let finished: Error | null = null;
  let child: ChildProcess | null = null;
  let killed = false;

  const deliver = (r: GuestCaseResult): void => {
    results.set(r.name, r);
    for (const w of waiters.get(r.name) ?? []) w.resolve(r);
    waiters.delete(r.name);
  };

  const done = (async () => {
    const t0 = Date.now();
    writeFileSync(join(jobDir, 'job.json'), JSON.stringify({ cases: opts.cases }, null, 2));
    await bundle(opts.entry, join(jobDir, 'runner.mjs'));
    writeFileSync(
      join(jobDir, 'run.sh'),
      `#!/bin/sh\ncd /hitch\nexec /usr/local/bin/node --enable-source-maps /hitch/${rel}/runner.mjs /hitch/${rel}/job.json\n`,
      { mode: 0o755 },
    );
    const out = createWriteStream(consoleLog);
    // --no-fork: flock takes the lock, then becomes QEMU (killing it kills QEMU, and the lock goes with it).
    const args = [
      '--no-fork',
      GUEST_LOCK,
      'qemu-system-x86_64',
      ...['-accel', 'tcg,thread=multi,tb-size=256', '-cpu', 'max', '-m', String(opts.memoryMb ?? 2048), '-smp', String(opts.cpus ?? 2)],
      ...['-display', 'none', '-vga', 'none', '-no-reboot', '-nic', 'none', '-monitor', 'none', '-serial', 'stdio'],
      ...['-kernel', opts.image.kernel, '-initrd', opts.image.initrd],
      ...['-append', `console=ttyS0 panic=-1 quiet hitch.job=${rel}`],
      ...['-drive', `file=${opts.image.rootfs},if=virtio,format=raw,snapshot=on`],
      ...['-virtfs', `local,path=${REPO},mount_tag=hitch,security_model=none,id=hitch`],
    ];
    const code = await new Promise<number>((resolve, reject) => {
      const c = spawn('flock', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child = c;
      const timer = setTimeout(() => {
        finished = new Error(`storage host guest: no power-off within ${opts.timeoutMs ?? 1_800_000} ms`);
        c.kill('SIGKILL');
      }, opts.timeoutMs ?? 1_800_000);
      let qemuStart = 0;
      let buf = '';
      const onData = (b: Buffer): void => {
        out.write(b);
        if (qemuStart === 0) qemuStart = Date.now();
        buf += b.toString('utf8');
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).replace(/\r$/, '');
          buf = buf.slice(nl + 1);
          onLine(line);
        }
      };
      const onLine = (line: string): void => {
        opts.onLine?.(line);
        const at = Date.now() - t0;
        if (line.includes('HITCH-GUEST-UP')) marks['up'] = at;
        else if (line.includes('HITCH-GUEST-READY')) marks['ready'] = at;
        else if (line.includes('HITCH-RUNNER-START')) marks['runner'] = at;
        // Case names may hold spaces and slashes (the bench's rows): see result-file.ts.
        const name = parseCaseEnd(line);
        if (name !== null) {
          try {
            deliver(JSON.parse(readFileSync(join(jobDir, 'results', resultFileName(name)), 'utf8')) as GuestCaseResult);
          } catch (e) {
            deliver({ name, ok: false, error: `result file unreadable: ${String(e)}`, ms: 0, resetMs: 0 });
          }
        }
      };
      c.stdout.on('data', onData);
      c.stderr.on('data', (b: Buffer) => out.write(b));
      c.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      c.on('close', (status, signal) => {
        clearTimeout(timer);
        if (buf) onLine(buf);
        out.end();
        resolve(status ?? (signal ? 128 : 1));
      });
    });
    if (killed) finished ??= new Error('storage host guest: killed');
    if (code !== 0) finished ??= new Error(`storage host guest: qemu exited ${code}; console ${consoleLog}`);
    const missing = opts.cases.filter((c) => !results.has(c.name)).map((c) => c.name);
    if (missing.length > 0) {
      const tail = readFileSync(consoleLog, 'utf8').split('\n').slice(-25).join('\n');
      finished ??= new Error(`storage host guest ended without results for ${missing.join(', ')}; console tail:\n${tail}`);
    }
    return { results: opts.cases.flatMap((c) => results.get(c.name) ?? []), wallMs: Date.now() - t0 };
  })();

  const settle = (e: Error): void => {
    for (const [, ws] of waiters) for (const w of ws) w.reject(e);
    waiters.clear();
  };
  done.then(
    () => {
      finished ??= new Error('storage host guest powered off without this result');
      settle(finished);
    },
    (e: unknown) => {
      finished ??= e instanceof Error ? e : new Error(String(e));
      settle(finished);
    },
  );

  return {
    jobDir,
    consoleLog,
    marks,
    done,
    result(name: string): Promise<GuestCaseResult> {
      const r = results.get(name);
      if (r) return Promise.resolve(r);
      if (finished) return Promise.reject(finished);
      return new Promise((resolve, reject) => {
        const list = waiters.get(name) ?? [];
        list.push({ resolve, reject });
        waiters.set(name, list);
      });
    },
    kill(): void {
      killed = true;
      (child as ChildProcess | null)?.kill('SIGKILL');
    },
  };
}
