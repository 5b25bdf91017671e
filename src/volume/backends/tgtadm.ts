/**
 * `tgtadm`, the management client of tgt (the userspace iSCSI target): a thin wrapper over the
 * Host port (argument arrays, a timeout per call, CHAP passwords masked) and pure parsers of
 * what it prints. tgtd keeps all of its state in memory; `show` is the only truth about it.
 *
 * tgtadm answers a refused request with exit 22 and one line on stderr, e.g.
 * `tgtadm: this account already exists`, `tgtadm: can't find the target`,
 * `tgtadm: this access control rule does not exist`; when no tgtd listens on the control port
 * it exits 107 with `tgtadm: failed to send request hdr to tgt daemon, Transport endpoint is
 * not connected`.
 */
import { HitchError } from '../../errors.ts';
import type { ExecResult, Host } from '../../ports/host.ts';
import { renderCommand } from '../../host/mask.ts';

export interface TgtLun {
  readonly lun: number;
  /** `controller` for LUN 0, `disk` for a backing file. */
  readonly type: string;
  /** `Backing store path:`; `None` for the controller LUN. */
  readonly path: string | null;
  /** `Size: 1074 MB` (decimal megabytes, rounded), or null when not shown. */
  readonly sizeMb: number | null;
}

export interface TgtNexus {
  readonly id: number;
  readonly initiator: string;
  readonly addresses: readonly string[];
}

export interface TgtTarget {
  readonly tid: number;
  readonly iqn: string;
  readonly state: string;
  readonly nexuses: readonly TgtNexus[];
  readonly luns: readonly TgtLun[];
  /** Incoming CHAP users bound to the target. */
  readonly accounts: readonly string[];
  /** Initiator names, addresses or `ALL` allowed to log in. */
  readonly acls: readonly string[];
}

type Section = 'system' | 'nexus' | 'lun' | 'account' | 'acl' | null;

const SECTION: Readonly<Record<string, Section>> = {
  'System information:': 'system',
  'I_T nexus information:': 'nexus',
  'LUN information:': 'lun',
  'Account information:': 'account',
  'ACL information:': 'acl',
};

interface MutableTarget {
  tid: number;
  iqn: string;
  state: string;
  nexuses: { id: number; initiator: string; addresses: string[] }[];
  luns: { lun: number; type: string; path: string | null; sizeMb: number | null }[];
  accounts: string[];
  acls: string[];
}

/**
 * Parse `tgtadm --lld iscsi --op show --mode target`:
 *
 *     Target 1: iqn.2024-01.org.peers:vol1
 *         System information:
 *             Driver: iscsi
 *             State: ready
 *         I_T nexus information:
 *             I_T nexus: 13
 *                 Initiator: iqn.2008-11.org.linux-kvm:9d1c2420-… alias: none
 *                 Connection: 0
 *                     IP Address: 127.0.0.1
 *         LUN information:
 *             LUN: 1
 *                 Type: disk
 *                 Backing store path: ./tgt/lun1.img
 *         Account information:
 *             chapuser
 *         ACL information:
 *             ALL
 */
export function parseTgtTargets(out: string): TgtTarget[] {
  const targets: MutableTarget[] = [];
  let cur: MutableTarget | undefined;
  let section: Section = null;
  for (const raw of out.split('\n')) {
    const line = raw.replace(/\s+$/, '');
    if (line === '') continue;
    const head = /^Target (\d+): (\S+)$/.exec(line);
    if (head) {
      cur = { tid: Number(head[1]), iqn: head[2] ?? '', state: '', nexuses: [], luns: [], accounts: [], acls: [] };
      targets.push(cur);
      section = null;
      continue;
    }
    if (!cur) throw unexpected(line);
    const indent = line.length - line.trimStart().length;
    const t = line.trim();
    if (indent === 4) {
      if (!(t in SECTION)) throw unexpected(line);
      section = SECTION[t] ?? null;
      continue;
    }
    switch (section) {
      case 'system': {
        const m = /^State: (.*)$/.exec(t);
        if (m) cur.state = m[1] ?? '';
        break;
      }
      case 'nexus': {
        const n = /^I_T nexus: (\d+)$/.exec(t);
        if (n) {
          cur.nexuses.push({ id: Number(n[1]), initiator: '', addresses: [] });
          break;
        }
        const last = cur.nexuses[cur.nexuses.length - 1];
        const i = /^Initiator: (\S+)/.exec(t);
        if (i && last) last.initiator = i[1] ?? '';
        const a = /^IP Address: (\S+)$/.exec(t);
        if (a && last) last.addresses.push(a[1] ?? '');
        break;
      }
      case 'lun': {
        const l = /^LUN: (\d+)$/.exec(t);
        if (l) {
          cur.luns.push({ lun: Number(l[1]), type: '', path: null, sizeMb: null });
          break;
        }
        const last = cur.luns[cur.luns.length - 1];
        const ty = /^Type: (.*)$/.exec(t);
        if (ty && last) last.type = ty[1] ?? '';
        const sz = /^Size: (\d+) MB,/.exec(t);
        if (sz && last) last.sizeMb = Number(sz[1]);
        const p = /^Backing store path: (.*)$/.exec(t);
        if (p && last) last.path = p[1] === 'None' ? null : (p[1] ?? null);
        break;
      }
      case 'account':
        // Outgoing accounts are listed as `user (outgoing)`; Hitch binds incoming ones only.
        if (!t.endsWith('(outgoing)')) cur.accounts.push(t);
        break;
      case 'acl':
        cur.acls.push(t);
        break;
      default:
        throw unexpected(line);
    }
  }
  return targets;
}

/** Parse `tgtadm --lld iscsi --op show --mode account`: `Account list:` then one user a line (nothing at all when empty). */
export function parseTgtAccounts(out: string): string[] {
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && l !== 'Account list:' && !l.endsWith('(outgoing)'));
}

/** Parse `tgtadm --lld iscsi --op show --mode portal`: `Portal: 127.0.0.2:3260,1` lines → `127.0.0.2:3260`. */
export function parseTgtPortals(out: string): string[] {
  const portals: string[] = [];
  for (const l of out.split('\n')) {
    const m = /^Portal: (\S+),\d+$/.exec(l.trim());
    if (m?.[1]) portals.push(m[1]);
  }
  return portals;
}

function unexpected(line: string): HitchError {
  return new HitchError('HITCH_INTERNAL', { detail: `unexpected tgtadm output line: ${JSON.stringify(line.slice(0, 120))}` });
}

export interface TgtadmOptions {
  readonly host: Host;
  /** tgtd's management port (`tgtd -C N`); 0 is tgtd's default socket. */
  readonly controlPort?: number;
  readonly timeoutMs?: number;
}

/** What a refused request said (`tgtadm: ` stripped); '' on success. */
export interface TgtadmResult extends ExecResult {
  readonly message: string;
}

/** tgtadm exits 107 when no tgtd answers on the control port. */
export const TGTD_NOT_RUNNING = 107;

export const ALREADY_EXISTS = /already exists/;
export const NOT_FOUND = /can't find|does not exist/;

export class Tgtadm {
  readonly #host: Host;
  readonly #control: readonly string[];
  readonly #timeoutMs: number;

  constructor(opts: TgtadmOptions) {
    this.#host = opts.host;
    this.#control = opts.controlPort ? ['-C', String(opts.controlPort)] : [];
    this.#timeoutMs = opts.timeoutMs ?? 15_000;
  }

  get host(): Host {
    return this.#host;
  }

  get controlPort(): number {
    return this.#control.length ? Number(this.#control[1]) : 0;
  }

  /** Run tgtadm; never throws for a refusal (exit ≠ 0), only for a timeout. */
  async run(args: readonly string[], secrets: readonly string[] = []): Promise<TgtadmResult> {
    const r = await this.#host.exec('tgtadm', [...this.#control, '--lld', 'iscsi', ...args], { timeoutMs: this.#timeoutMs, okCodes: 'any', secrets });
    let message = r.stderr.trim().replace(/^tgtadm: /, '');
    for (const s of secrets) if (s) message = message.split(s).join('***');
    return { ...r, message: r.code === 0 ? '' : message || `tgtadm exited with ${r.code}` };
  }

  /** Run tgtadm and throw `HITCH_BACKEND_ERROR`-style failures unless `tolerate` matches the refusal. */
  async must(args: readonly string[], opts: { tolerate?: RegExp; secrets?: readonly string[] } = {}): Promise<TgtadmResult> {
    const r = await this.run(args, opts.secrets ?? []);
    if (r.code === 0 || (opts.tolerate && opts.tolerate.test(r.message))) return r;
    throw tgtError(args, r, opts.secrets ?? []);
  }

  /** Whether a tgtd answers on the control port. */
  async ping(): Promise<boolean> {
    const r = await this.run(['--op', 'show', '--mode', 'sys']);
    return r.code === 0;
  }

  async targets(): Promise<TgtTarget[]> {
    return parseTgtTargets((await this.must(['--op', 'show', '--mode', 'target'])).stdout);
  }

  async accounts(): Promise<string[]> {
    return parseTgtAccounts((await this.must(['--op', 'show', '--mode', 'account'])).stdout);
  }

  async portals(): Promise<string[]> {
    return parseTgtPortals((await this.must(['--op', 'show', '--mode', 'portal'])).stdout);
  }
}

/** A tgtadm refusal as a catalog error; the command line is rendered with secrets masked. */
export function tgtError(args: readonly string[], r: TgtadmResult, secrets: readonly string[] = []): HitchError {
  return new HitchError('HITCH_EXEC_FAILED', { command: renderCommand('tgtadm', ['--lld', 'iscsi', ...args], secrets), exitCode: r.code, stdout: '', stderr: r.message });
}
