/**
 * The iSCSI node database of one simulated host, kept where open-iscsi keeps it: as files in
 * the host's tree under the nodes directory (Debian `/etc/iscsi/nodes`, RHEL `/var/lib/iscsi/nodes`):
 *
 *   <nodes>/<target>/<ip>,<port>                    a record whose TPGT is unknown (-1): what
 *                                                   `iscsiadm -m node -o new -p ip:port` writes
 *   <nodes>/<target>/<ip>,<port>,<tpgt>/<iface>     a record with a TPGT (discovery)
 *
 * (open-iscsi's `idbm_rec_write`: a record with TPGT -1 is stored "old style", as a file named
 * by the portal.) A record file is `name = value` lines between `# BEGIN RECORD` and
 * `# END RECORD`, every setting that is not empty, passwords in clear (the files are root's).
 * It is read as open-iscsi reads it: comments and blank lines skipped, unknown names and
 * values a setting cannot take ignored, missing settings at their defaults. So a record
 * written by `iscsiadm` here and one written by an initiator straight into the tree are the
 * same thing. `iscsiadm -m node -T … -p …` prints a record in open-iscsi 2.1.8's exact format.
 */
import { posix } from 'node:path';
import { parsePortal, portalKey } from './network.ts';
import type { Vfs } from './vfs.ts';

/**
 * Every setting of a static record, in the order `iscsiadm -m node -T … -p …` prints them,
 * with its default: copied from open-iscsi 2.1.8 (fixture `iscsiadm-node-show.txt`).
 * `node.name`, `node.tpgt`, `node.conn[0].address` and `node.conn[0].port` are per record.
 */
export const NODE_RECORD_TEMPLATE: ReadonlyArray<readonly [string, string]> = [
  ['node.name', 'iqn.2024-01.org.peers:vol1'],
  ['node.tpgt', '-1'],
  ['node.startup', 'manual'],
  ['node.leading_login', 'No'],
  ['iface.iscsi_ifacename', 'default'],
  ['iface.net_ifacename', '<empty>'],
  ['iface.ipaddress', '<empty>'],
  ['iface.prefix_len', '0'],
  ['iface.hwaddress', '<empty>'],
  ['iface.transport_name', 'tcp'],
  ['iface.initiatorname', '<empty>'],
  ['iface.state', '<empty>'],
  ['iface.vlan_id', '0'],
  ['iface.vlan_priority', '0'],
  ['iface.vlan_state', '<empty>'],
  ['iface.iface_num', '0'],
  ['iface.mtu', '0'],
  ['iface.port', '0'],
  ['iface.bootproto', '<empty>'],
  ['iface.subnet_mask', '<empty>'],
  ['iface.gateway', '<empty>'],
  ['iface.dhcp_alt_client_id_state', '<empty>'],
  ['iface.dhcp_alt_client_id', '<empty>'],
  ['iface.dhcp_dns', '<empty>'],
  ['iface.dhcp_learn_iqn', '<empty>'],
  ['iface.dhcp_req_vendor_id_state', '<empty>'],
  ['iface.dhcp_vendor_id_state', '<empty>'],
  ['iface.dhcp_vendor_id', '<empty>'],
  ['iface.dhcp_slp_da', '<empty>'],
  ['iface.fragmentation', '<empty>'],
  ['iface.gratuitous_arp', '<empty>'],
  ['iface.incoming_forwarding', '<empty>'],
  ['iface.tos_state', '<empty>'],
  ['iface.tos', '0'],
  ['iface.ttl', '0'],
  ['iface.delayed_ack', '<empty>'],
  ['iface.tcp_nagle', '<empty>'],
  ['iface.tcp_wsf_state', '<empty>'],
  ['iface.tcp_wsf', '0'],
  ['iface.tcp_timer_scale', '0'],
  ['iface.tcp_timestamp', '<empty>'],
  ['iface.redirect', '<empty>'],
  ['iface.def_task_mgmt_timeout', '0'],
  ['iface.header_digest', '<empty>'],
  ['iface.data_digest', '<empty>'],
  ['iface.immediate_data', '<empty>'],
  ['iface.initial_r2t', '<empty>'],
  ['iface.data_seq_inorder', '<empty>'],
  ['iface.data_pdu_inorder', '<empty>'],
  ['iface.erl', '0'],
  ['iface.max_receive_data_len', '0'],
  ['iface.first_burst_len', '0'],
  ['iface.max_outstanding_r2t', '0'],
  ['iface.max_burst_len', '0'],
  ['iface.chap_auth', '<empty>'],
  ['iface.bidi_chap', '<empty>'],
  ['iface.strict_login_compliance', '<empty>'],
  ['iface.discovery_auth', '<empty>'],
  ['iface.discovery_logout', '<empty>'],
  ['node.discovery_address', '<empty>'],
  ['node.discovery_port', '0'],
  ['node.discovery_type', 'static'],
  ['node.session.initial_cmdsn', '0'],
  ['node.session.initial_login_retry_max', '4'],
  ['node.session.xmit_thread_priority', '-20'],
  ['node.session.cmds_max', '128'],
  ['node.session.queue_depth', '32'],
  ['node.session.nr_sessions', '1'],
  ['node.session.auth.authmethod', 'None'],
  ['node.session.auth.username', '<empty>'],
  ['node.session.auth.password', '<empty>'],
  ['node.session.auth.username_in', '<empty>'],
  ['node.session.auth.password_in', '<empty>'],
  ['node.session.auth.chap_algs', 'MD5'],
  ['node.session.timeo.replacement_timeout', '120'],
  ['node.session.err_timeo.abort_timeout', '15'],
  ['node.session.err_timeo.lu_reset_timeout', '30'],
  ['node.session.err_timeo.tgt_reset_timeout', '30'],
  ['node.session.err_timeo.host_reset_timeout', '60'],
  ['node.session.iscsi.FastAbort', 'Yes'],
  ['node.session.iscsi.InitialR2T', 'No'],
  ['node.session.iscsi.ImmediateData', 'Yes'],
  ['node.session.iscsi.FirstBurstLength', '262144'],
  ['node.session.iscsi.MaxBurstLength', '16776192'],
  ['node.session.iscsi.DefaultTime2Retain', '0'],
  ['node.session.iscsi.DefaultTime2Wait', '2'],
  ['node.session.iscsi.MaxConnections', '1'],
  ['node.session.iscsi.MaxOutstandingR2T', '1'],
  ['node.session.iscsi.ERL', '0'],
  ['node.session.scan', 'auto'],
  ['node.session.reopen_max', '0'],
  ['node.conn[0].address', '127.0.0.1'],
  ['node.conn[0].port', '3260'],
  ['node.conn[0].startup', 'manual'],
  ['node.conn[0].tcp.window_size', '524288'],
  ['node.conn[0].tcp.type_of_service', '0'],
  ['node.conn[0].timeo.logout_timeout', '15'],
  ['node.conn[0].timeo.login_timeout', '30'],
  ['node.conn[0].timeo.auth_timeout', '45'],
  ['node.conn[0].timeo.noop_out_interval', '5'],
  ['node.conn[0].timeo.noop_out_timeout', '5'],
  ['node.conn[0].iscsi.MaxXmitDataSegmentLength', '0'],
  ['node.conn[0].iscsi.MaxRecvDataSegmentLength', '262144'],
  ['node.conn[0].iscsi.HeaderDigest', 'None'],
  ['node.conn[0].iscsi.DataDigest', 'None'],
  ['node.conn[0].iscsi.IFMarker', 'No'],
  ['node.conn[0].iscsi.OFMarker', 'No'],
];

const KNOWN_KEYS = new Set(NODE_RECORD_TEMPLATE.map(([k]) => k));
const DEFAULTS = new Map(NODE_RECORD_TEMPLATE);

/** Settings stored as one of a few words (open-iscsi's option fields); any other value is ignored. */
const CHOICES: Readonly<Record<string, readonly string[]>> = {
  'node.startup': ['manual', 'automatic', 'onboot'],
  'node.leading_login': ['No', 'Yes'],
  'node.discovery_type': ['send_targets', 'isns', 'offload_send_targets', 'slp', 'static', 'fw'],
  'node.session.auth.authmethod': ['None', 'CHAP'],
  'node.session.iscsi.FastAbort': ['No', 'Yes'],
  'node.session.iscsi.InitialR2T': ['No', 'Yes'],
  'node.session.iscsi.ImmediateData': ['No', 'Yes'],
  'node.session.scan': ['manual', 'auto'],
  'node.conn[0].startup': ['manual', 'automatic', 'onboot'],
  'node.conn[0].iscsi.HeaderDigest': ['None', 'CRC32C', 'CRC32C,None', 'None,CRC32C'],
  'node.conn[0].iscsi.DataDigest': ['None', 'CRC32C', 'CRC32C,None', 'None,CRC32C'],
  'node.conn[0].iscsi.IFMarker': ['No', 'Yes'],
  'node.conn[0].iscsi.OFMarker': ['No', 'Yes'],
};

/** Settings `iscsiadm -m node` prints as `********` unless asked to show them (`-S`). */
const MASKED = new Set(['node.session.auth.password', 'node.session.auth.password_in']);

export interface NodeRecord {
  readonly target: string;
  /** `ip:port` */
  readonly portal: string;
  /** -1 for records made with `--op new`; the target's TPGT for discovered ones. */
  readonly tpgt: number;
  readonly iface: string;
  /** Every valid setting the record file holds (others are at their defaults). */
  readonly settings: ReadonlyMap<string, string>;
  /** The record's file. */
  readonly path: string;
}

/** Whether `--op update -n KEY` names a real setting. */
export function isKnownSetting(key: string): boolean {
  return KNOWN_KEYS.has(key);
}

/** Whether `value` is one a setting can take (free-form settings take anything non-empty). */
export function isValidSetting(key: string, value: string): boolean {
  const choices = CHOICES[key];
  return KNOWN_KEYS.has(key) && value !== '' && (choices === undefined || choices.includes(value));
}

/**
 * A record file's settings, read the way open-iscsi's `idbm_recinfo_config` reads one: each
 * non-blank line not starting with `#` is `name = value` (spaces around `=` optional); lines
 * without a value, unknown names and values a setting cannot take are skipped; the last
 * occurrence of a name wins.
 *
 *   node.session.scan = manual
 */
export function parseNodeRecordText(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([^\s=]+)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    const key = m[1] ?? '';
    const value = m[2] ?? '';
    if (isValidSetting(key, value)) out.set(key, value);
  }
  return out;
}

/** The value of a setting (the record's, or the default). */
export function setting(rec: Pick<NodeRecord, 'settings' | 'target' | 'portal' | 'tpgt' | 'iface'>, key: string): string {
  return rec.settings.get(key) ?? defaultSetting(rec, key);
}

function defaultSetting(rec: Pick<NodeRecord, 'target' | 'portal' | 'tpgt' | 'iface'>, key: string): string {
  const { ip, port } = parsePortal(rec.portal);
  switch (key) {
    case 'node.name':
      return rec.target;
    case 'node.tpgt':
      return String(rec.tpgt);
    case 'node.conn[0].address':
      return ip;
    case 'node.conn[0].port':
      return String(port);
    case 'iface.iscsi_ifacename':
      return rec.iface;
    default:
      return DEFAULTS.get(key) ?? '<empty>';
  }
}

/** `iscsiadm -m node -T … -p …`: the whole record; passwords as `********` unless `show`. */
export function renderNodeRecord(rec: NodeRecord, show = false): string {
  const body = NODE_RECORD_TEMPLATE.map(([k]) => {
    const v = setting(rec, k);
    return `${k} = ${MASKED.has(k) && v !== '<empty>' && !show ? '********' : v}`;
  }).join('\n');
  return `# BEGIN RECORD 2.1.8\n${body}\n# END RECORD\n`;
}

/** The record's file as iscsiadm writes it: every setting that is not empty, in clear. */
export function renderNodeRecordFile(rec: Omit<NodeRecord, 'path'>): string {
  const body = NODE_RECORD_TEMPLATE.flatMap(([k]) => {
    const v = setting(rec, k);
    return v === '<empty>' ? [] : [`${k} = ${v}`];
  });
  return `# BEGIN RECORD 2.1.8\n${body.join('\n')}\n# END RECORD\n`;
}

/**
 * `iscsiadm -m node`: `127.0.0.1:3260,4294967295 iqn.2024-01.org.peers:vol1` — a TPGT of -1
 * prints as the unsigned 32-bit value, exactly as open-iscsi does.
 */
export function renderNodeListLine(rec: NodeRecord): string {
  return `${rec.portal},${rec.tpgt < 0 ? 4294967296 + rec.tpgt : rec.tpgt} ${rec.target}`;
}

/** `New iSCSI node [tcp:[hw=,ip=,net_if=,iscsi_if=default] 192.168.1.59,3260,-1 iqn…] added` */
export function renderNodeAdded(rec: NodeRecord): string {
  const { ip, port } = parsePortal(rec.portal);
  return `New iSCSI node [tcp:[hw=,ip=,net_if=,iscsi_if=${rec.iface}] ${ip},${port},${rec.tpgt} ${rec.target}] added\n`;
}

/** `ip:port` of an address as a record stores it (IPv6 without brackets). */
function portalOf(ip: string, port: string | number): string {
  return portalKey(ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);
}

/** The node records of one host, as files under `dir` in its tree. */
export class NodeDb {
  readonly #vfs: Vfs;
  readonly #dir: string;
  /** Parsed records by file, reused while the file's text is the same string. */
  readonly #cache = new Map<string, { text: string; rec: NodeRecord | null }>();

  constructor(vfs: Vfs, dir: string) {
    this.#vfs = vfs;
    this.#dir = dir;
  }

  /** The nodes directory (`/etc/iscsi/nodes` on Debian). */
  get dir(): string {
    return this.#dir;
  }

  /**
   * Create a record (iscsiadm's `--op new`, discovery, or a session the scenario starts with),
   * replacing the record of the same target, portal, TPGT and iface (its file); a record of the
   * same portal with another TPGT stays beside it (`-o new` after a discovery: two records,
   * `ip,port` and `ip,port,tpgt/default`, as open-iscsi 2.1.8 keeps them). It starts from
   * iscsid.conf's `node.*` settings, as iscsiadm's do, then takes `settings`.
   */
  add(target: string, portal: string, tpgt = -1, iface = 'default', settings: Iterable<readonly [string, string]> = []): NodeRecord {
    for (const r of this.find(target, portal)) if (r.iface === iface && r.tpgt === tpgt) this.delete(r);
    const values = new Map<string, string>();
    for (const [k, v] of this.#iscsidConf()) values.set(k, v);
    for (const [k, v] of settings) if (isValidSetting(k, v)) values.set(k, v);
    const key = portalKey(portal);
    for (const k of ['node.name', 'node.tpgt', 'node.conn[0].address', 'node.conn[0].port', 'iface.iscsi_ifacename']) values.delete(k);
    return this.#write({ target, portal: key, tpgt, iface, settings: values });
  }

  /** `--op update -n KEY -v VALUE`: rewrite the record's file with one setting changed. */
  update(rec: NodeRecord, key: string, value: string): NodeRecord {
    const settings = new Map(rec.settings);
    settings.set(key, value);
    return this.#write({ ...rec, settings }, rec.path);
  }

  get(target: string, portal: string, iface = 'default'): NodeRecord | undefined {
    return this.find(target, portal).find((r) => r.iface === iface);
  }

  /** Remove the record's file, then its portal directory and target directory if now empty. */
  delete(rec: NodeRecord): void {
    const v = this.#vfs;
    v.remove(rec.path);
    this.#cache.delete(rec.path);
    for (let dir = posix.dirname(rec.path); dir.startsWith(this.#dir + '/'); dir = posix.dirname(dir)) {
      if (v.lookup(dir)?.kind !== 'dir' || v.readdir(dir).length > 0) break;
      v.remove(dir);
    }
  }

  /** Records matching optional target and portal filters, in a stable order. */
  find(target?: string, portal?: string): NodeRecord[] {
    const p = portal === undefined ? undefined : portalKey(portal);
    return this.list().filter((r) => (target === undefined || r.target === target) && (p === undefined || r.portal === p));
  }

  /**
   * Entries of a target's directory that are no record (a temporary file an atomic write left
   * there for a moment): `{ path, address, port }` with the name read as open-iscsi reads it —
   * up to the first comma the address, then the port's digits. iscsiadm lists such an entry as
   * `[]:3260,4294967295 ` and every operation that walks the records fails on it (exit 6).
   */
  strays(): Array<{ readonly path: string; readonly address: string; readonly port: string }> {
    const v = this.#vfs;
    const out: Array<{ path: string; address: string; port: string }> = [];
    if (v.lookup(this.#dir)?.kind !== 'dir') return out;
    for (const t of v.readdir(this.#dir)) {
      const tdir = `${this.#dir}/${t}`;
      if (v.lookup(tdir)?.kind !== 'dir') continue;
      for (const entry of v.readdir(tdir)) {
        if (/^[^,]+,\d+(?:,-?\d+)?$/.test(entry)) continue;
        const [address = '', rest = ''] = entry.split(/,(.*)/s);
        out.push({ path: `${tdir}/${entry}`, address, port: /^\d*/.exec(rest)?.[0] ?? '' });
      }
    }
    return out;
  }

  /** Every record the nodes directory holds (files that are not records are skipped). */
  list(): NodeRecord[] {
    const v = this.#vfs;
    const out: NodeRecord[] = [];
    if (v.lookup(this.#dir)?.kind !== 'dir') return out;
    for (const t of v.readdir(this.#dir)) {
      const tdir = `${this.#dir}/${t}`;
      if (v.lookup(tdir)?.kind !== 'dir') continue;
      for (const entry of v.readdir(tdir)) {
        const m = /^([^,]+),(\d+)(?:,(-?\d+))?$/.exec(entry);
        if (!m) continue;
        const [, ip = '', port = '', tpgt] = m;
        const epath = `${tdir}/${entry}`;
        const node = v.lookup(epath);
        if (tpgt === undefined) {
          if (node?.kind === 'file') this.#push(out, epath, { target: t, ip, port, tpgt: -1, iface: undefined });
          continue;
        }
        if (node?.kind !== 'dir') continue;
        for (const iface of v.readdir(epath)) {
          this.#push(out, `${epath}/${iface}`, { target: t, ip, port, tpgt: Number(tpgt), iface });
        }
      }
    }
    return out.sort((a, b) => a.portal.localeCompare(b.portal) || a.target.localeCompare(b.target) || a.tpgt - b.tpgt || a.iface.localeCompare(b.iface));
  }

  #push(out: NodeRecord[], path: string, from: { target: string; ip: string; port: string; tpgt: number; iface: string | undefined }): void {
    const node = this.#vfs.lookup(path);
    if (node?.kind !== 'file') return;
    const text = node.read();
    const hit = this.#cache.get(path);
    if (hit && hit.text === text) {
      if (hit.rec) out.push(hit.rec);
      return;
    }
    const rec = this.#parse(path, text, from);
    this.#cache.set(path, { text, rec });
    if (rec) out.push(rec);
  }

  /**
   * A record from its file. What names the record is the file's content (`node.name`,
   * `node.conn[0].address`/`port`, `iface.iscsi_ifacename`), as for open-iscsi; where the
   * content lacks one, the path gives it.
   */
  #parse(path: string, text: string, from: { target: string; ip: string; port: string; tpgt: number; iface: string | undefined }): NodeRecord | null {
    const settings = parseNodeRecordText(text);
    try {
      const portal = portalOf(settings.get('node.conn[0].address') ?? from.ip, settings.get('node.conn[0].port') ?? from.port);
      const fileTpgt = Number(settings.get('node.tpgt'));
      const tpgt = from.tpgt >= 0 ? from.tpgt : Number.isInteger(fileTpgt) ? fileTpgt : -1;
      return {
        target: settings.get('node.name') ?? from.target,
        portal,
        tpgt,
        iface: settings.get('iface.iscsi_ifacename') ?? from.iface ?? 'default',
        settings,
        path,
      };
    } catch {
      return null; // an address that is not one: open-iscsi could not use the record either
    }
  }

  /** Where a record lives: `<target>/<ip>,<port>` for TPGT -1, else `<target>/<ip>,<port>,<tpgt>/<iface>`. */
  pathFor(rec: Pick<NodeRecord, 'target' | 'portal' | 'tpgt' | 'iface'>): string {
    const { ip, port } = parsePortal(rec.portal);
    const base = `${this.#dir}/${rec.target}/${ip},${port}`;
    return rec.tpgt < 0 ? base : `${base},${rec.tpgt}/${rec.iface}`;
  }

  #write(rec: Omit<NodeRecord, 'path'>, path = this.pathFor(rec)): NodeRecord {
    const v = this.#vfs;
    const text = renderNodeRecordFile(rec);
    v.mkdirp(posix.dirname(path));
    v.writeText(path, text, 0o600);
    const full: NodeRecord = { ...rec, settings: parseNodeRecordText(text), path };
    this.#cache.set(path, { text, rec: full });
    return full;
  }

  /** `node.*` settings of `/etc/iscsi/iscsid.conf` (new records start from them). */
  #iscsidConf(): Map<string, string> {
    const conf = '/etc/iscsi/iscsid.conf';
    const v = this.#vfs;
    return v.lookup(conf)?.kind === 'file' ? parseNodeRecordText(v.read(conf)) : new Map();
  }
}
