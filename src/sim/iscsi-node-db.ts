/**
 * The iSCSI node database (`/etc/iscsi/nodes`) of one simulated host: one record per
 * (target, portal, iface), created by `iscsiadm -m node --op new` or by discovery, edited with
 * `--op update`, shown with `-m node -T … -p …` in open-iscsi 2.1.8's exact format.
 */
import { parsePortal, portalKey } from './network.ts';

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

export interface NodeRecord {
  readonly target: string;
  /** `ip:port` */
  readonly portal: string;
  /** -1 for records made with `--op new`; the target's TPGT for discovered ones. */
  readonly tpgt: number;
  readonly iface: string;
  /** Settings changed from the template's defaults. */
  readonly settings: Map<string, string>;
}

export class NodeDb {
  readonly #records = new Map<string, NodeRecord>();

  static key(target: string, portal: string, iface = 'default'): string {
    return `${target}|${portalKey(portal)}|${iface}`;
  }

  /** Create (or, for an existing record, reset to defaults as iscsiadm does) a record. */
  add(target: string, portal: string, tpgt = -1, iface = 'default'): NodeRecord {
    const rec: NodeRecord = { target, portal: portalKey(portal), tpgt, iface, settings: new Map() };
    this.#records.set(NodeDb.key(target, portal, iface), rec);
    return rec;
  }

  get(target: string, portal: string, iface = 'default'): NodeRecord | undefined {
    return this.#records.get(NodeDb.key(target, portal, iface));
  }

  delete(rec: NodeRecord): void {
    this.#records.delete(NodeDb.key(rec.target, rec.portal, rec.iface));
  }

  /** Records matching optional target and portal filters, in a stable order. */
  find(target?: string, portal?: string): NodeRecord[] {
    const p = portal === undefined ? undefined : portalKey(portal);
    return this.list().filter((r) => (target === undefined || r.target === target) && (p === undefined || r.portal === p));
  }

  list(): NodeRecord[] {
    return [...this.#records.values()].sort((a, b) => a.portal.localeCompare(b.portal) || a.target.localeCompare(b.target));
  }
}

/** Whether `--op update -n KEY` names a real setting. */
export function isKnownSetting(key: string): boolean {
  return KNOWN_KEYS.has(key);
}

/** The value of a setting (override or default). */
export function setting(rec: NodeRecord, key: string): string {
  return rec.settings.get(key) ?? defaultSetting(rec, key);
}

function defaultSetting(rec: NodeRecord, key: string): string {
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
      return NODE_RECORD_TEMPLATE.find(([k]) => k === key)?.[1] ?? '<empty>';
  }
}

/** `iscsiadm -m node -T … -p …`: the whole record. Passwords print as stored, like iscsiadm. */
export function renderNodeRecord(rec: NodeRecord): string {
  const body = NODE_RECORD_TEMPLATE.map(([k]) => `${k} = ${setting(rec, k)}`).join('\n');
  return `# BEGIN RECORD 2.1.8\n${body}\n# END RECORD\n`;
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
