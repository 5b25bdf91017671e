/**
 * Inside the storage host guest: the storage host itself — its daemons (iscsid, multipathd,
 * tgtd), tgt targets, the nftables drop of a portal, and what is left on the initiator side
 * (sessions, node records, SCSI disks, dm maps). The test runner's tool, not Hitch's: it runs
 * commands directly, and every case starts from `reset()`.
 *
 * Portals are 127.0.0.1:3260 and 127.0.0.2:3260 (all of 127/8 is the guest's loopback); the
 * guest has no network device.
 */
import { execFile, spawn } from 'node:child_process';
import { readdirSync, readFileSync, realpathSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';

export const PORTALS = ['127.0.0.1:3260', '127.0.0.2:3260'] as const;
export const INITIATOR_NAME_FILE = '/etc/iscsi/initiatorname.iscsi';

export interface Cmd {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Run a command (no shell); never throws for an exit code. */
export function sh(cmd: string, args: readonly string[], timeoutMs = 60_000): Promise<Cmd> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(cmd, [...args], { timeout: timeoutMs, env: { ...process.env, LC_ALL: 'C' }, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number | string; killed?: boolean }) | null;
      const code = e ? (typeof e.code === 'number' ? e.code : e.killed ? 137 : 127) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) + (e && typeof e.code !== 'number' ? e.message : ''), ms: Date.now() - t0 });
    });
  });
}

/** Like `sh`, but a non-zero exit throws with the command's output. */
export async function must(cmd: string, args: readonly string[], timeoutMs = 60_000): Promise<Cmd> {
  const r = await sh(cmd, args, timeoutMs);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 600)}`);
  return r;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `check` with backoff until it returns a value (not undefined), or throw after `timeoutMs`. */
export async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let pause = 50;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(pause);
    pause = Math.min(pause * 2, 500);
  }
}

export type FindMultipaths = 'no' | 'yes' | 'strict' | 'greedy';

export interface TargetSpec {
  readonly iqn: string;
  /** LUN numbers to export (default [1]); each a sparse file of `sizeMb`. */
  readonly luns?: readonly number[];
  readonly sizeMb?: number;
  readonly chap?: { readonly username: string; readonly password: string };
}

export interface LoginTimeouts {
  /** node.conn[0].timeo.login_timeout (s); Debian's default 15. */
  readonly loginTimeoutS: number;
  /** node.session.initial_login_retry_max; Debian's default 8. */
  readonly retryMax: number;
}

/** open-iscsi's defaults as Debian 12 ships them: a dead portal's first login takes ≈ 8 × 15 s. */
export const DEFAULT_LOGIN: LoginTimeouts = { loginTimeoutS: 15, retryMax: 8 };
/** What every failure case but the seed uses: a dead portal's login gives up after ≈ 2 × 3 s. */
export const SHORT_LOGIN: LoginTimeouts = { loginTimeoutS: 3, retryMax: 2 };

export interface StorageSetup {
  /** multipathd's find_multipaths; `null` = multipathd not running (default 'no'). */
  readonly findMultipaths?: FindMultipaths | null;
  /** WWIDs to blacklist in multipath.conf (the map can never be built for them). */
  readonly blacklistWwids?: readonly string[];
  readonly login?: LoginTimeouts;
  readonly targets?: readonly TargetSpec[];
}

/** What the initiator side holds right now. */
export interface Leftovers {
  /** `sid portal iqn` of every iSCSI session in sysfs. */
  readonly sessions: string[];
  /** Node record paths under /etc/iscsi/nodes. */
  readonly nodes: string[];
  /** SCSI disks (`sdX`). */
  readonly disks: string[];
  /** dm maps (`name (dm-N)`). */
  readonly maps: string[];
}

export function isClean(l: Leftovers): boolean {
  return l.sessions.length + l.nodes.length + l.disks.length + l.maps.length === 0;
}

function readTrim(p: string): string {
  try {
    return readFileSync(p, 'utf8').trim();
  } catch {
    return '';
  }
}

function ls(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

function walkFiles(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => (e.isDirectory() ? walkFiles(`${dir}/${e.name}`) : [`${dir}/${e.name}`])).sort();
}

/** Sessions, node records, disks and maps, read from sysfs and /etc (no command). */
export function leftovers(): Leftovers {
  const sessions = ls('/sys/class/iscsi_session').map((s) => {
    const sid = s.replace('session', '');
    const iqn = readTrim(`/sys/class/iscsi_session/${s}/targetname`);
    const addr = readTrim(`/sys/class/iscsi_connection/connection${sid}:0/persistent_address`) || readTrim(`/sys/class/iscsi_connection/connection${sid}:0/address`);
    const port = readTrim(`/sys/class/iscsi_connection/connection${sid}:0/persistent_port`) || readTrim(`/sys/class/iscsi_connection/connection${sid}:0/port`);
    return `${sid} ${addr}:${port} ${iqn}`;
  });
  const nodes = walkFiles('/etc/iscsi/nodes');
  const disks = ls('/sys/block').filter((d) => d.startsWith('sd'));
  const maps = ls('/sys/block')
    .filter((d) => d.startsWith('dm-'))
    .map((d) => `${readTrim(`/sys/block/${d}/dm/name`)} (${d})`);
  return { sessions, nodes, disks, maps };
}

/**
 * What is left of these targets only: their sessions and node records, the disks of those
 * sessions, and the maps over those disks (for a case where two initiators run side by side).
 */
export function leftoversOf(iqns: readonly string[]): Leftovers {
  const all = leftovers();
  const sessions = all.sessions.filter((s) => iqns.includes(s.split(' ')[2] ?? ''));
  const sids = new Set(sessions.map((s) => s.split(' ')[0]));
  const disks = all.disks.filter((d) => {
    try {
      const m = /\/session(\d+)\//.exec(realpathSync(`/sys/block/${d}/device`));
      return m !== null && sids.has(m[1]);
    } catch {
      return false;
    }
  });
  const maps = all.maps.filter((m) => {
    const dm = /\((dm-\d+)\)$/.exec(m)?.[1] ?? '';
    return ls(`/sys/block/${dm}/slaves`).some((s) => disks.includes(s));
  });
  const nodes = all.nodes.filter((n) => iqns.some((q) => n.includes(`/${q}/`)));
  return { sessions, nodes, disks, maps };
}

/** The sessions to `portal` (`ip:port`) in sysfs. */
export function sessionsTo(portal: string): string[] {
  return leftovers().sessions.filter((s) => s.split(' ')[1] === portal);
}

/** The paths (`sdX`) under a dm map, and its name. */
export function mapInfo(dm: string): { name: string; slaves: string[] } {
  return { name: readTrim(`/sys/block/${dm}/dm/name`), slaves: ls(`/sys/block/${dm}/slaves`) };
}

/** The dm maps holding disk `sdX`. */
export function holdersOf(dev: string): string[] {
  return ls(`/sys/block/${dev}/holders`);
}

function pidOf(name: string): number[] {
  const out: number[] = [];
  for (const p of ls('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    if (readTrim(`/proc/${p}/comm`) === name) out.push(Number(p));
  }
  return out;
}

async function stopDaemon(name: string): Promise<void> {
  for (const pid of pidOf(name)) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
  try {
    await until(`${name} to exit`, () => (pidOf(name).length === 0 ? true : undefined), 15_000);
  } catch {
    for (const pid of pidOf(name)) process.kill(pid, 'SIGKILL');
    await until(`${name} to exit after SIGKILL`, () => (pidOf(name).length === 0 ? true : undefined), 5_000);
  }
}

/** The WWID (`36…`, as multipath names maps) tgt gives LUN `lun` of target number `tid`. */
export function diskWwid(dev: string): string {
  const w = readTrim(`/sys/block/${dev}/device/wwid`);
  // sysfs: `naa.6000…` → multipath/scsi_id: `36000…`
  return w.startsWith('naa.') ? `3${w.slice(4)}` : w;
}

let iscsidConfOrig: string | null = null;

function writeIscsidConf(login: LoginTimeouts): void {
  const path = '/etc/iscsi/iscsid.conf';
  iscsidConfOrig ??= readFileSync(path, 'utf8');
  const lines = iscsidConfOrig
    .split('\n')
    .filter((l) => !/^\s*node\.(conn\[0\]\.timeo\.login_timeout|session\.initial_login_retry_max)\s*=/.test(l));
  lines.push(`node.conn[0].timeo.login_timeout = ${login.loginTimeoutS}`, `node.session.initial_login_retry_max = ${login.retryMax}`, '');
  writeFileSync(path, lines.join('\n'));
}

function writeMultipathConf(find: FindMultipaths, blacklistWwids: readonly string[]): void {
  // Blocks need newlines: a one-line `blacklist { devnode ... }` is not parsed (research note).
  const wwids = blacklistWwids.map((w) => `    wwid "${w}"\n`).join('');
  writeFileSync(
    '/etc/multipath.conf',
    `defaults {\n    user_friendly_names no\n    find_multipaths ${find}\n}\nblacklist {\n    devnode "^vd[a-z]"\n${wwids}}\n`,
  );
}

/** tgtd's targets: tid → iqn. */
async function tgtTargets(): Promise<Map<number, string>> {
  const r = await sh('tgtadm', ['--lld', 'iscsi', '--op', 'show', '--mode', 'target']);
  const out = new Map<number, string>();
  for (const m of r.stdout.matchAll(/^Target (\d+): (\S+)$/gm)) out.set(Number(m[1]), m[2] ?? '');
  return out;
}

async function tgtAccounts(): Promise<string[]> {
  const r = await sh('tgtadm', ['--lld', 'iscsi', '--op', 'show', '--mode', 'account']);
  return r.stdout
    .split('\n')
    .slice(1)
    .map((l) => l.trim())
    .filter(Boolean);
}

export class GuestStorage {
  /** The target ids tgt gave, by IQN. */
  readonly tids = new Map<string, number>();
  #nextTid = 1;
  #dropped = false;

  /** Start tgtd once per boot (it keeps running across cases; targets are reset per case). */
  async boot(): Promise<void> {
    mkdirSync('/var/tmp/hitch-luns', { recursive: true });
    if (pidOf('tgtd').length === 0) {
      // tgtd forks into the background once it listens on every address, port 3260.
      spawn('tgtd', [], { stdio: 'ignore', detached: true }).unref();
      await until('tgtd to answer', async () => ((await sh('tgtadm', ['--lld', 'iscsi', '--op', 'show', '--mode', 'sys'])).code === 0 ? true : undefined), 30_000);
    }
  }

  /** The initiator name iscsid uses (the connector reports it). */
  initiatorName(): string {
    return readTrim(INITIATOR_NAME_FILE).replace(/^InitiatorName=/, '');
  }

  /**
   * A clean start: no drop, no session (pending logins die with iscsid), no node record, disk
   * or map; iscsid and multipathd restarted with this case's settings; tgt exporting exactly
   * this case's targets. Throws when the host is still not clean afterwards.
   */
  async reset(setup: StorageSetup = {}): Promise<void> {
    await this.liftDrop();
    for (const s of ls('/sys/class/iscsi_session')) await sh('iscsiadm', ['-m', 'session', '-r', s.replace('session', ''), '-u'], 60_000);
    await sh('multipath', ['-F']);
    for (const d of ls('/sys/block').filter((x) => x.startsWith('sd'))) {
      try {
        writeFileSync(`/sys/block/${d}/device/delete`, '1');
      } catch {
        /* gone meanwhile */
      }
    }
    await stopDaemon('iscsid');
    await stopDaemon('multipathd');
    // A session a pending login completed just before iscsid went, or a map multipathd made.
    for (const s of ls('/sys/class/iscsi_session')) await sh('iscsiadm', ['-m', 'session', '-r', s.replace('session', ''), '-u'], 60_000);
    await sh('multipath', ['-F']);
    rmSync('/etc/iscsi/nodes', { recursive: true, force: true });
    rmSync('/etc/iscsi/send_targets', { recursive: true, force: true });
    mkdirSync('/etc/iscsi/nodes', { recursive: true, mode: 0o700 });
    mkdirSync('/etc/multipath', { recursive: true });
    writeFileSync('/etc/multipath/wwids', '# Multipath wwids, Version : 1.0\n');

    writeIscsidConf(setup.login ?? SHORT_LOGIN);
    await must('iscsid', []);
    await until('iscsid to answer', async () => {
      const r = await sh('iscsiadm', ['-m', 'session']);
      return r.code === 0 || r.code === 21 ? true : undefined;
    }, 30_000);
    const find = setup.findMultipaths === undefined ? 'no' : setup.findMultipaths;
    // multipath.conf is the case's even with multipathd stopped: `multipath` itself reads it
    // (a blacklist left by the case before would refuse `multipath -a`).
    writeMultipathConf(find ?? 'no', setup.blacklistWwids ?? []);
    if (find !== null) {
      await must('multipathd', []);
      await until('multipathd to answer', async () => ((await sh('multipathd', ['show', 'status'])).code === 0 ? true : undefined), 30_000);
    }

    await this.#resetTargets(setup.targets ?? []);
    await sh('udevadm', ['settle', '--timeout=60']);
    const left = leftovers();
    if (!isClean(left)) throw new Error(`storage host not clean after reset: ${JSON.stringify(left)}`);
  }

  async #resetTargets(targets: readonly TargetSpec[]): Promise<void> {
    for (const [tid] of await tgtTargets()) await must('tgtadm', ['--lld', 'iscsi', '--op', 'delete', '--mode', 'target', '--tid', String(tid), '--force']);
    for (const user of await tgtAccounts()) await sh('tgtadm', ['--lld', 'iscsi', '--op', 'delete', '--mode', 'account', '--user', user]);
    rmSync('/var/tmp/hitch-luns', { recursive: true, force: true });
    mkdirSync('/var/tmp/hitch-luns', { recursive: true });
    this.tids.clear();
    for (const t of targets) await this.export(t);
  }

  /** Export a target on every portal, to every initiator; its LUNs are sparse files. */
  async export(t: TargetSpec): Promise<number> {
    const tid = this.#nextTid++;
    const tgt = (...a: string[]): Promise<Cmd> => must('tgtadm', ['--lld', 'iscsi', ...a]);
    await tgt('--op', 'new', '--mode', 'target', '--tid', String(tid), '-T', t.iqn);
    for (const lun of t.luns ?? [1]) {
      const file = `/var/tmp/hitch-luns/${tid}-${lun}.img`;
      await must('truncate', ['-s', `${t.sizeMb ?? 32}M`, file]);
      await tgt('--op', 'new', '--mode', 'logicalunit', '--tid', String(tid), '--lun', String(lun), '-b', file);
    }
    await tgt('--op', 'bind', '--mode', 'target', '--tid', String(tid), '-I', 'ALL');
    if (t.chap) {
      await tgt('--op', 'new', '--mode', 'account', '--user', t.chap.username, '--password', t.chap.password);
      await tgt('--op', 'bind', '--mode', 'account', '--tid', String(tid), '--user', t.chap.username);
    }
    this.tids.set(t.iqn, tid);
    return tid;
  }

  /** Drop every packet to and from `ip`'s iSCSI port (the portal looks dead: logins time out). */
  async dropPortal(ip: string): Promise<void> {
    const rules = [
      'table inet hitch_drop {',
      '  chain input {',
      '    type filter hook input priority 0; policy accept;',
      `    ip daddr ${ip} tcp dport 3260 drop`,
      `    ip saddr ${ip} tcp sport 3260 drop`,
      '  }',
      '}',
      '',
    ].join('\n');
    writeFileSync('/tmp/hitch-drop.nft', rules);
    await must('nft', ['-f', '/tmp/hitch-drop.nft']);
    this.#dropped = true;
  }

  async liftDrop(): Promise<void> {
    if (!this.#dropped && (await sh('nft', ['list', 'table', 'inet', 'hitch_drop'])).code !== 0) return;
    await sh('nft', ['delete', 'table', 'inet', 'hitch_drop']);
    this.#dropped = false;
  }

  /** Stop multipathd now (the map can no longer be built). */
  async stopMultipathd(): Promise<void> {
    await stopDaemon('multipathd');
  }
}

/** I/O checks run so far in this process: each gets pattern files of its own. */
let ioChecks = 0;

/**
 * Write `mb` MB of a pattern to `dev` with O_DIRECT, read it back with O_DIRECT and compare.
 * Returns what it did; throws on a mismatch or an I/O error.
 */
export async function verifyIo(dev: string, mb = 1, offsetMb = 0): Promise<{ wroteMb: number; readMb: number; ms: number }> {
  const t0 = Date.now();
  // A file of its own per call: two checks at once (two devices in one case) must not share one.
  const pattern = `/tmp/hitch-io-${process.pid}-${offsetMb}-${++ioChecks}.bin`;
  const back = `${pattern}.back`;
  await must('dd', ['if=/dev/urandom', `of=${pattern}`, 'bs=1M', `count=${mb}`, 'status=none']);
  await must('dd', [`if=${pattern}`, `of=${dev}`, 'bs=1M', `count=${mb}`, `seek=${offsetMb}`, 'oflag=direct', 'conv=fsync,notrunc', 'status=none'], 120_000);
  await must('dd', [`if=${dev}`, `of=${back}`, 'bs=1M', `count=${mb}`, `skip=${offsetMb}`, 'iflag=direct', 'status=none'], 120_000);
  const r = await sh('cmp', [pattern, back]);
  rmSync(pattern, { force: true });
  rmSync(back, { force: true });
  if (r.code !== 0) throw new Error(`I/O check on ${dev}: data read back differs (${r.stdout.trim()})`);
  return { wroteMb: mb, readMb: mb, ms: Date.now() - t0 };
}
