/**
 * A small model of one Linux host's iSCSI stack for brick's connector tests, on the simulator's
 * virtual clock: node records (files under the nodes directory, TPGT-less layout), sessions
 * (logins take a round trip; dead portals take iscsid's 120 s and exit 8) with their sysfs
 * (`iscsi_session`, `iscsi_connection`), targeted LUN scans through sysfs (the write returns
 * once the disk exists, as the kernel's does), udev links after a delay, and a device-mapper
 * multipath daemon that maps a WWN a delay after its first path appears.
 * Command texts and exit codes follow ../shared/fixtures/host and the seed.
 *
 * It exists so the connector's logic can be tested before, and independently of, the full
 * simulator (`src/sim/`); the scenario tests use SimHost where it is available.
 */
import { HitchError } from '../../errors.ts';
import type { Clock, ExecOptions, ExecRecord, ExecResult, Host, HostListener, WaitForPathOptions, WriteFileAtomicOptions } from '../../ports/host.ts';
import { VirtualClock } from '../../sim/clock.ts';

export interface FakeLun {
  readonly wwn: string;
  readonly ro?: boolean;
}

export interface FakeTarget {
  readonly iqn: string;
  readonly portals: readonly string[];
  readonly luns: Readonly<Record<number, FakeLun>>;
  readonly chap?: { readonly user: string; readonly pass: string };
}

export interface FakeHostOptions {
  readonly name?: string;
  readonly targets: readonly FakeTarget[];
  readonly deadPortals?: readonly string[];
  readonly multipathd?: boolean;
  /** multipathd maps a WWN by itself (find_multipaths off); otherwise only after `multipath -a`. */
  readonly autoMap?: boolean;
  /** multipathd never builds a map (broken multipath.conf, blacklisted WWID). */
  readonly noMaps?: boolean;
  /** LUNs whose disk never appears (the array never answers the scan). */
  readonly silentLuns?: readonly number[];
  readonly cmdMs?: number;
  readonly loginMs?: number;
  readonly deadLoginMs?: number;
  readonly scanMs?: number;
  readonly udevMs?: number;
  readonly mapDelayMs?: number;
  /** Where node records live (default Debian's `/etc/iscsi/nodes`). */
  readonly nodesDir?: string;
}

interface Session {
  readonly sid: number;
  readonly portal: string;
  readonly iqn: string;
  readonly hostNo: number;
}

interface Disk {
  readonly name: string;
  readonly session: Session;
  readonly lun: number;
  readonly wwn: string;
  readonly ro: boolean;
  readonly dir: string;
}

/** `name = value` lines of a node record (comments and blank lines skipped). */
function parseSettings(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\s*([^#\s=][^\s=]*)\s*=\s*(\S.*?)\s*$/.exec(line);
    if (m) out.set(m[1] ?? '', m[2] ?? '');
  }
  return out;
}

function renderSettings(s: ReadonlyMap<string, string>): string {
  return `# BEGIN RECORD 2.1.8\n${[...s].map(([k, v]) => `${k} = ${v}`).join('\n')}\n# END RECORD\n`;
}

const ok = (stdout = ''): ExecResult => ({ code: 0, stdout, stderr: '' });
const err = (code: number, stderr: string, stdout = ''): ExecResult => ({ code, stdout, stderr });

export class FakeIscsiHost implements Host {
  readonly name: string;
  readonly vclock = new VirtualClock();
  readonly clock: Clock = this.vclock;
  readonly #o: Required<Omit<FakeHostOptions, 'name'>>;
  readonly #files = new Map<string, string>();
  readonly #modes = new Map<string, number>();
  readonly #links = new Map<string, string>();
  readonly #watchers = new Set<() => void>();
  readonly #listeners = new Set<HostListener>();
  readonly nodesDir: string;
  readonly sessions = new Map<number, Session>();
  readonly disks = new Map<string, Disk>();
  /** WWN → dm name and path disks. */
  readonly maps = new Map<string, { dm: string; paths: Set<string> }>();
  readonly #allowedWwids = new Set<string>();
  #nextSid = 1;
  #nextHost = 2;
  #nextDisk = 1;
  #nextDm = 0;

  constructor(opts: FakeHostOptions) {
    this.name = opts.name ?? 'newton';
    this.#o = {
      targets: opts.targets,
      deadPortals: opts.deadPortals ?? [],
      multipathd: opts.multipathd ?? true,
      autoMap: opts.autoMap ?? true,
      silentLuns: opts.silentLuns ?? [],
      noMaps: opts.noMaps ?? false,
      cmdMs: opts.cmdMs ?? 5,
      loginMs: opts.loginMs ?? 40,
      deadLoginMs: opts.deadLoginMs ?? 120_000,
      scanMs: opts.scanMs ?? 15,
      udevMs: opts.udevMs ?? 100,
      mapDelayMs: opts.mapDelayMs ?? 1_000,
      nodesDir: opts.nodesDir ?? '/etc/iscsi/nodes',
    };
    this.nodesDir = this.#o.nodesDir;
    this.#files.set('/etc/iscsi/initiatorname.iscsi', 'InitiatorName=iqn.1993-08.org.debian:01:7cc8838d1c0\n');
    this.#files.set('/etc/iscsi/iscsid.conf', 'node.startup = manual\nnode.session.timeo.replacement_timeout = 120\n');
    this.#files.set(`${this.nodesDir}/.dir`, '');
    this.#files.set('/sys/class/iscsi_host/.dir', '');
  }

  /** Node records, `portal,iqn` → settings, read from their files. */
  get nodes(): Map<string, Map<string, string>> {
    const out = new Map<string, Map<string, string>>();
    for (const [path, text] of this.#files) {
      const m = /^(.*)\/([^/]+)\/([^/,]+),(\d+)$/.exec(path);
      if (!m || m[1] !== this.nodesDir) continue;
      out.set(`${m[3]}:${m[4]},${m[2]}`, parseSettings(text));
    }
    return out;
  }

  /** A node record file's text and mode, for assertions on what brick wrote. */
  nodeFile(iqn: string, portal: string): { text: string; mode: number | undefined } | undefined {
    const path = this.#recordPath(iqn, portal);
    const text = this.#files.get(path);
    return text === undefined ? undefined : { text, mode: this.#modes.get(path) };
  }

  #recordPath(iqn: string, portal: string): string {
    const i = portal.lastIndexOf(':');
    return `${this.nodesDir}/${iqn}/${portal.slice(0, i)},${portal.slice(i + 1)}`;
  }

  /** What is left on the host, for "nothing left behind" assertions. */
  snapshot(): { nodes: string[]; sessions: string[]; disks: string[]; maps: string[] } {
    return {
      nodes: [...this.nodes.keys()].sort(),
      sessions: [...this.sessions.values()].map((s) => `${s.portal},${s.iqn}`).sort(),
      disks: [...this.disks.values()].map((d) => `${d.name} ${d.session.portal} lun ${d.lun}`).sort(),
      maps: [...this.maps.entries()].map(([w, m]) => `${w} ${m.dm} [${[...m.paths].sort().join(',')}]`).sort(),
    };
  }

  // --- files -------------------------------------------------------------------------------
  #changed(): void {
    for (const w of [...this.#watchers]) w();
  }
  #put(path: string, data = ''): void {
    this.#files.set(path, data);
    this.#changed();
  }
  #link(path: string, target: string): void {
    this.#links.set(path, target);
    this.#changed();
  }
  #removePrefix(prefix: string): void {
    for (const m of [this.#files, this.#links]) for (const k of [...m.keys()]) if (k === prefix || k.startsWith(prefix + '/')) m.delete(k);
    this.#changed();
  }
  /** Follow links in any component (links here are absolute). */
  #resolve(path: string): string {
    for (let hops = 0; hops < 16; hops++) {
      const parts = path.split('/');
      let replaced = false;
      for (let n = parts.length; n > 1 && !replaced; n--) {
        const target = this.#links.get(parts.slice(0, n).join('/'));
        if (target !== undefined) {
          path = [target, ...parts.slice(n)].join('/');
          replaced = true;
        }
      }
      if (!replaced) return path;
    }
    return path;
  }
  async exists(path: string): Promise<boolean> {
    const p = this.#resolve(path);
    const has = (m: Map<string, string>): boolean => m.has(p) || [...m.keys()].some((k) => k.startsWith(p + '/'));
    return has(this.#files) || has(this.#links);
  }
  async readFile(path: string): Promise<string> {
    const v = this.#files.get(this.#resolve(path));
    if (v === undefined) throw new HitchError('HITCH_PATH_NOT_FOUND', { path });
    return v;
  }
  async writeFile(path: string, data: string): Promise<void> {
    const scan = /^\/sys\/class\/scsi_host\/host(\d+)\/scan$/.exec(path);
    const del = /^\/sys\/block\/(sd[a-z]+)\/device\/delete$/.exec(path);
    if (scan) {
      // The kernel's scan write returns when the scan is over: the disk (if any) exists then.
      const found = this.#scan(Number(scan[1]), data);
      if (found) await this.vclock.sleep(this.#o.scanMs);
      return;
    }
    if (del) {
      const d = this.disks.get(del[1] ?? '');
      if (!d) throw new HitchError('HITCH_PATH_NOT_FOUND', { path });
      this.vclock.setTimer(10, () => this.#removeDisk(d));
      return;
    }
    throw new HitchError('HITCH_PATH_NOT_ALLOWED', { path, roots: 'sysfs scan/delete only' });
  }
  async writeFileAtomic(path: string, data: string, opts: WriteFileAtomicOptions = {}): Promise<void> {
    if (!path.startsWith('/etc/') && !path.startsWith('/var/lib/')) throw new HitchError('HITCH_PATH_NOT_ALLOWED', { path, roots: '/etc, /var/lib' });
    this.#modes.set(path, opts.mode ?? 0o600);
    this.#put(path, data);
  }
  async readlink(path: string): Promise<string> {
    const t = this.#links.get(path);
    if (t === undefined) throw new HitchError('HITCH_PATH_NOT_FOUND', { path });
    return t;
  }
  async realpath(path: string): Promise<string> {
    if (!(await this.exists(path))) throw new HitchError('HITCH_PATH_NOT_FOUND', { path });
    return this.#resolve(path);
  }
  async readdir(path: string): Promise<string[]> {
    const p = this.#resolve(path);
    const names = new Set<string>();
    for (const m of [this.#files, this.#links]) {
      for (const k of m.keys()) if (k.startsWith(p + '/')) names.add(k.slice(p.length + 1).split('/')[0] ?? '');
    }
    names.delete('.dir');
    return [...names].sort();
  }
  async glob(): Promise<string[]> {
    throw new Error('brick does not glob');
  }
  async waitForPath(path: string, opts: WaitForPathOptions): Promise<boolean> {
    const want = !(opts.gone ?? false);
    if ((await this.exists(path)) === want) return true;
    return new Promise<boolean>((resolve, reject) => {
      const done = (v: boolean): void => {
        this.#watchers.delete(watch);
        cancel();
        opts.signal?.removeEventListener('abort', onAbort);
        resolve(v);
      };
      const watch = (): void => {
        void this.exists(path).then((e) => e === want && this.#watchers.has(watch) && done(true));
      };
      const onAbort = (): void => {
        this.#watchers.delete(watch);
        cancel();
        reject(new HitchError('HITCH_ABORTED', { reason: `wait for ${path}` }));
      };
      const cancel = this.vclock.setTimer(opts.timeoutMs, () => done(false));
      this.#watchers.add(watch);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
  onExec(listener: HostListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  // --- kernel ------------------------------------------------------------------------------
  #target(iqn: string, portal: string): FakeTarget | undefined {
    return this.#o.targets.find((t) => t.iqn === iqn && t.portals.includes(portal));
  }
  #sessionDir(s: Session): string {
    return `/sys/devices/platform/host${s.hostNo}/session${s.sid}/target${s.hostNo}:0:0`;
  }
  /** Scan LUN `L` of `C T L` on a session's host; true when a disk will appear (after `scanMs`). */
  #scan(hostNo: number, data: string): boolean {
    const [, , l] = data.trim().split(/\s+/).map(Number);
    const s = [...this.sessions.values()].find((x) => x.hostNo === hostNo);
    const lun = l === undefined ? undefined : this.#target(s?.iqn ?? '', s?.portal ?? '')?.luns[l];
    if (!s || lun === undefined || l === undefined || this.#o.silentLuns.includes(l)) return false;
    if ([...this.disks.values()].some((d) => d.session === s && d.lun === l)) return false;
    this.vclock.setTimer(this.#o.scanMs, () => {
      if (!this.sessions.has(s.sid)) return;
      const name = `sd${String.fromCharCode(97 + this.#nextDisk++)}`;
      const dir = `${this.#sessionDir(s)}/${s.hostNo}:0:0:${l}`;
      const d: Disk = { name, session: s, lun: l, wwn: lun.wwn, ro: lun.ro ?? false, dir };
      this.disks.set(name, d);
      this.#put(`${dir}/block/${name}/.dir`);
      this.#put(`/sys/block/${name}/device/wwid`, `naa.${lun.wwn.slice(1)}\n`);
      this.#put(`/sys/block/${name}/ro`, d.ro ? '1\n' : '0\n');
      this.#put(`/dev/${name}`);
      this.vclock.setTimer(this.#o.udevMs, () => {
        if (!this.disks.has(name)) return;
        this.#link(`/dev/disk/by-path/ip-${s.portal}-iscsi-${s.iqn}-lun-${l}`, `/dev/${name}`);
        if (this.#o.multipathd && (this.#o.autoMap || this.#allowedWwids.has(d.wwn) || this.maps.has(d.wwn))) {
          this.vclock.setTimer(this.#o.mapDelayMs, () => this.#addPath(d));
        }
      });
    });
    return true;
  }
  #addPath(d: Disk): void {
    if (!this.disks.has(d.name) || this.#o.noMaps) return;
    let m = this.maps.get(d.wwn);
    if (!m) {
      m = { dm: `dm-${this.#nextDm++}`, paths: new Set() };
      this.maps.set(d.wwn, m);
      this.#put(`/dev/${m.dm}`);
      this.#put(`/sys/block/${m.dm}/dm/name`, `${d.wwn}\n`);
      this.#put(`/sys/block/${m.dm}/ro`, d.ro ? '1\n' : '0\n');
      this.#link(`/dev/mapper/${d.wwn}`, `/dev/${m.dm}`);
      this.#link(`/dev/disk/by-id/dm-uuid-mpath-${d.wwn}`, `/dev/${m.dm}`);
    }
    m.paths.add(d.name);
    this.#put(`/sys/block/${m.dm}/slaves/${d.name}`);
    this.#put(`/sys/block/${d.name}/holders/${m.dm}`);
  }
  #delPath(d: Disk): void {
    const m = this.maps.get(d.wwn);
    if (!m) return;
    m.paths.delete(d.name);
    this.#removePrefix(`/sys/block/${m.dm}/slaves/${d.name}`);
  }
  #removeDisk(d: Disk): void {
    this.#delPath(d);
    this.disks.delete(d.name);
    this.#removePrefix(d.dir);
    this.#removePrefix(`/sys/block/${d.name}`);
    this.#removePrefix(`/dev/${d.name}`);
    this.#removePrefix(`/dev/disk/by-path/ip-${d.session.portal}-iscsi-${d.session.iqn}-lun-${d.lun}`);
  }
  #flushMap(wwn: string): boolean {
    const m = this.maps.get(wwn);
    if (!m) return false;
    for (const p of m.paths) this.#removePrefix(`/sys/block/${p}/holders/${m.dm}`);
    this.maps.delete(wwn);
    for (const p of [`/dev/${m.dm}`, `/sys/block/${m.dm}`, `/dev/mapper/${wwn}`, `/dev/disk/by-id/dm-uuid-mpath-${wwn}`]) this.#removePrefix(p);
    return true;
  }

  // --- commands ----------------------------------------------------------------------------
  async exec(cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const start = this.vclock.now();
    const ac = new AbortController();
    const onAbort = (): void => ac.abort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    let timedOut = false;
    const cancel = this.vclock.setTimer(opts.timeoutMs ?? 60_000, () => {
      timedOut = true;
      ac.abort();
    });
    try {
      await this.vclock.sleep(this.#o.cmdMs, ac.signal);
      const r = await this.#run(cmd, args, ac.signal);
      const rec: ExecRecord = { cmd, args, ...r, startMs: start, endMs: this.vclock.now() };
      for (const l of this.#listeners) l(rec);
      const okCodes = opts.okCodes ?? [0];
      if (okCodes !== 'any' && !okCodes.includes(r.code)) {
        throw new HitchError('HITCH_EXEC_FAILED', { command: [cmd, ...args].join(' '), exitCode: r.code, stderr: r.stderr });
      }
      return r;
    } catch (e) {
      if (timedOut) throw new HitchError('HITCH_EXEC_TIMEOUT', { timeoutMs: opts.timeoutMs ?? 60_000, command: [cmd, ...args].join(' ') });
      throw e;
    } finally {
      cancel();
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  async #run(cmd: string, a: readonly string[], signal: AbortSignal): Promise<ExecResult> {
    const line = a.join(' ');
    if (cmd === 'iscsiadm') return this.#iscsiadm(a, signal);
    if (cmd === 'multipathd' && line === 'show status') {
      return this.#o.multipathd ? ok(`path checker states:\nup                  ${this.disks.size}\n\npaths: ${this.disks.size}\nbusy: False\n`) : err(1, '');
    }
    if (cmd === 'multipathd' && (a[0] === 'add' || a[0] === 'del') && a[1] === 'path') {
      if (!this.#o.multipathd) return err(1, '');
      const d = this.disks.get((a[2] ?? '').replace('/dev/', ''));
      if (!d) return err(1, '', 'fail\n');
      if (a[0] === 'add') this.#addPath(d);
      else this.#delPath(d);
      return ok('ok\n');
    }
    if (cmd === 'multipath' && a[0] === '-a') {
      this.#allowedWwids.add(a[1] ?? '');
      return ok(`wwid '${a[1]}' added\n`);
    }
    // No such map: multipath-tools 0.9.4's answer (the storage host guest's).
    if (cmd === 'multipath' && a[0] === '-f') return this.#flushMap(a[1] ?? '') ? ok() : err(1, '', `${a[1]} is not a multipath device\n`);
    if (cmd === 'blockdev' && a[0] === '--getro') {
      const p = this.#resolve(a[1] ?? '').replace('/dev/', '');
      const d = this.disks.get(p) ?? [...this.disks.values()].find((x) => this.maps.get(x.wwn)?.dm === p);
      return d ? ok(d.ro ? '1\n' : '0\n') : err(1, `blockdev: cannot open ${a[1]}: No such file or directory\n`);
    }
    if (cmd === 'blockdev' && a[0] === '--flushbufs') return ok();
    if (cmd === '/lib/udev/scsi_id') return err(1, '');
    if (cmd === 'systool') return err(1, '', 'Error opening class fc_host\n');
    if (cmd === 'iscsi-ls') {
      const portal = (a[2] ?? '').replace('iscsi://', '');
      if (this.#o.deadPortals.includes(portal)) {
        await this.vclock.sleep(Number.MAX_SAFE_INTEGER / 4, signal);
      }
      const ts = this.#o.targets.filter((t) => t.portals.includes(portal));
      return ok(ts.map((t) => `Target:${t.iqn} Portal:${portal},1\n`).join(''));
    }
    return err(127, `${cmd}: not modelled by FakeIscsiHost: ${line}\n`);
  }

  async #iscsiadm(a: readonly string[], signal: AbortSignal): Promise<ExecResult> {
    if (a.join(' ') === '-m session') {
      if (this.sessions.size === 0) return err(21, 'iscsiadm: No active sessions.\n');
      const out = [...this.sessions.values()].map((s) => `tcp: [${s.sid}] ${s.portal},1 ${s.iqn} (non-flash)\n`);
      return ok(out.join(''));
    }
    const iqn = a[3] ?? '';
    const portal = a[5] ?? '';
    const rest = a.slice(6).join(' ');
    const path = this.#recordPath(iqn, portal);
    const text = this.#files.get(path);
    const rec = text === undefined ? undefined : parseSettings(text);
    const noRecords = err(21, 'iscsiadm: No records found\n');
    const [ip, port] = [portal.slice(0, portal.lastIndexOf(':')), portal.slice(portal.lastIndexOf(':') + 1)];
    if (rest === '') return rec ? ok(text) : noRecords;
    if (rest === '--interface default --op new') {
      const conf = parseSettings(this.#files.get('/etc/iscsi/iscsid.conf') ?? '');
      const fresh = new Map([['node.name', iqn], ['node.tpgt', '-1'], ...conf, ['node.session.scan', 'auto'], ['node.conn[0].address', ip], ['node.conn[0].port', port]]);
      this.#modes.set(path, 0o600);
      this.#put(path, renderSettings(fresh));
      return ok(`New iSCSI node [tcp:[hw=,ip=,net_if=,iscsi_if=default] ${ip},${port},-1 ${iqn}] added\n`);
    }
    const upd = /^--op update -n (\S+) -v (.*)$/.exec(rest);
    if (upd) {
      if (!rec) return noRecords;
      rec.set(upd[1] ?? '', upd[2] ?? '');
      this.#put(path, renderSettings(rec));
      return ok();
    }
    if (rest === '--op delete') {
      if (!rec) return noRecords;
      if ([...this.sessions.values()].some((s) => s.portal === portal && s.iqn === iqn)) {
        return err(15, 'iscsiadm: Could not execute operation on all records: session exists\n');
      }
      this.#removePrefix(path);
      if (!(await this.readdir(`${this.nodesDir}/${iqn}`)).length) this.#removePrefix(`${this.nodesDir}/${iqn}`);
      return ok();
    }
    const session = [...this.sessions.values()].find((s) => s.portal === portal && s.iqn === iqn);
    if (rest === '--login') {
      if (!rec) return noRecords;
      const label = `[iface: default, target: ${iqn}, portal: ${portal.replace(/:(\d+)$/, ',$1')}]`;
      const trying = `Logging in to ${label} (multiple)\n`;
      if (session) return err(15, `iscsiadm: default: 1 session requested, but 1 already present.\n`);
      if (this.#o.deadPortals.includes(portal)) {
        await this.vclock.sleep(this.#o.deadLoginMs, signal);
        return err(8, `iscsiadm: Could not login to ${label}.\niscsiadm: initiator reported error (8 - connection timed out)\niscsiadm: Could not log into all portals\n`, trying);
      }
      await this.vclock.sleep(this.#o.loginMs, signal);
      const t = this.#target(iqn, portal);
      if (!t) return err(19, 'iscsiadm: initiator reported error (19 - encountered non-retryable iSCSI login failure)\n', trying);
      if (t.chap && (rec.get('node.session.auth.username') !== t.chap.user || rec.get('node.session.auth.password') !== t.chap.pass)) {
        return err(24, `iscsiadm: Could not login to ${label}.\niscsiadm: initiator reported error (24 - iSCSI login failed due to authorization failure)\n`, trying);
      }
      const s: Session = { sid: this.#nextSid++, portal, iqn, hostNo: this.#nextHost++ };
      this.sessions.set(s.sid, s);
      this.#put(`${this.#sessionDir(s)}/.dir`);
      this.#link(`/sys/class/iscsi_host/host${s.hostNo}/device`, `/sys/devices/platform/host${s.hostNo}`);
      const dev = `/sys/devices/platform/host${s.hostNo}/session${s.sid}`;
      this.#put(`${dev}/iscsi_session/session${s.sid}/targetname`, `${iqn}\n`);
      this.#link(`/sys/class/iscsi_session/session${s.sid}`, `${dev}/iscsi_session/session${s.sid}`);
      this.#link(`${dev}/iscsi_session/session${s.sid}/device`, dev);
      this.#put(`${dev}/connection${s.sid}:0/iscsi_connection/connection${s.sid}:0/persistent_address`, `${ip}\n`);
      this.#put(`${dev}/connection${s.sid}:0/iscsi_connection/connection${s.sid}:0/persistent_port`, `${port}\n`);
      this.#link(`/sys/class/iscsi_connection/connection${s.sid}:0`, `${dev}/connection${s.sid}:0/iscsi_connection/connection${s.sid}:0`);
      if (rec.get('node.session.scan') !== 'manual') for (const l of Object.keys(t.luns)) this.#scan(s.hostNo, `0 0 ${l}`);
      return ok(`${trying}Login to ${label} successful.\n`);
    }
    if (rest === '--logout') {
      if (!session) return err(21, 'iscsiadm: No matching sessions found\n');
      for (const d of [...this.disks.values()]) if (d.session === session) this.#removeDisk(d);
      this.sessions.delete(session.sid);
      this.#removePrefix(`/sys/class/iscsi_host/host${session.hostNo}`);
      this.#removePrefix(`/sys/devices/platform/host${session.hostNo}`);
      this.#removePrefix(`/sys/class/iscsi_session/session${session.sid}`);
      this.#removePrefix(`/sys/class/iscsi_connection/connection${session.sid}:0`);
      return ok(`Logging out of session [sid: ${session.sid}, target: ${iqn}, portal: ${portal}]\nLogout of [sid: ${session.sid}] successful.\n`);
    }
    return err(7, `iscsiadm: not modelled: ${a.join(' ')}\n`);
  }
}
