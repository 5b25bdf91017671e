/**
 * Parsers for `iscsiadm -m node` output.
 *
 * The record list (and `-m discovery -t sendtargets`, which prints the same format):
 * `127.0.0.1:3260,4294967295 iqn.2024-01.org.peers:vol1`
 * A single record (`-m node -T <iqn> -p <portal>`) is `key = value` lines between
 * `# BEGIN RECORD 2.1.8` and `# END RECORD`, e.g. `node.session.auth.authmethod = None`.
 */
export interface NodeEntry {
  readonly portal: string;
  readonly tpgt: number;
  readonly iqn: string;
}

const ENTRY_RE = /^(\[[^\]]+\]:\d+|[^\s,]+:\d+),(-?\d+) (\S+)\s*$/;

export function parseNodeList(stdout: string): NodeEntry[] {
  const out: NodeEntry[] = [];
  for (const line of stdout.split('\n')) {
    const m = ENTRY_RE.exec(line.trim());
    if (m) out.push({ portal: m[1] ?? '', tpgt: Number(m[2]), iqn: m[3] ?? '' });
  }
  return out;
}

/** `node.startup = manual` → `{ 'node.startup': 'manual' }`; `<empty>` becomes `''`. */
export function parseNodeRecord(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const m = /^([\w.[\]]+) = (.*)$/.exec(line.trim());
    if (m?.[1] !== undefined) out[m[1]] = m[2] === '<empty>' ? '' : (m[2] ?? '');
  }
  return out;
}
