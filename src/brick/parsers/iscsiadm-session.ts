/**
 * Parser for `iscsiadm -m session` (no `-P`): one line per session.
 *
 * Sample (from the seed): `tcp: [3] 192.168.1.60:3260,5 iqn.1992-04.com.emc:cx.apm00150602415.b0 (non-flash)`
 * IPv6 portals are bracketed: `tcp: [4] [fd00::1]:3260,1 iqn.2010-10.org.openstack:volume-1 (non-flash)`.
 * With no sessions iscsiadm exits 21 and prints `iscsiadm: No active sessions.` on stderr.
 */
export interface IscsiSession {
  readonly transport: string;
  readonly sid: number;
  /** `ip:port` as iscsiadm prints it (IPv6 in brackets). */
  readonly portal: string;
  readonly tpgt: number;
  readonly iqn: string;
  /** `non-flash` for ordinary sessions; `flash` for sessions stored in adapter flash. */
  readonly kind: string;
}

const LINE_RE = /^(\S+): \[(\d+)\] (\[[^\]]+\]:\d+|[^\s,]+:\d+),(-?\d+) (\S+)(?: \((\S+)\))?\s*$/;

export function parseIscsiSessions(stdout: string): IscsiSession[] {
  const out: IscsiSession[] = [];
  for (const line of stdout.split('\n')) {
    const m = LINE_RE.exec(line.trim());
    if (!m) continue;
    out.push({
      transport: m[1] ?? '',
      sid: Number(m[2]),
      portal: m[3] ?? '',
      tpgt: Number(m[4]),
      iqn: m[5] ?? '',
      kind: m[6] ?? 'non-flash',
    });
  }
  return out;
}
