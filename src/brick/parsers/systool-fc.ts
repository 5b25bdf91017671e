/**
 * Parser for `systool -c fc_host -v`.
 *
 * Without FC HBAs (fixture `systool-fc_host.txt`, and the seed) it prints
 * `Error opening class fc_host` and exits 1: that means "no FC", not a failure. With HBAs each
 * host is a block of attributes, e.g.:
 * ```
 *   Class Device = "host5"
 *     node_name           = "0x20000024ff7c5a11"
 *     port_name           = "0x21000024ff7c5a11"
 *     port_state          = "Online"
 * ```
 */
export interface FcHost {
  readonly device: string;
  readonly nodeName: string;
  readonly portName: string;
  readonly portState: string;
}

export function systoolSaysNoFc(output: string): boolean {
  return /Error opening class fc_host/.test(output);
}

export function parseSystoolFcHosts(stdout: string): FcHost[] {
  const out: FcHost[] = [];
  let cur: { device: string; attrs: Record<string, string> } | null = null;
  const flush = (): void => {
    if (cur) {
      out.push({
        device: cur.device,
        nodeName: cur.attrs['node_name'] ?? '',
        portName: cur.attrs['port_name'] ?? '',
        portState: cur.attrs['port_state'] ?? '',
      });
    }
  };
  for (const raw of stdout.split('\n')) {
    const dev = /^\s*Class Device\s*=\s*"([^"]+)"/.exec(raw);
    if (dev?.[1] !== undefined) {
      flush();
      cur = { device: dev[1], attrs: {} };
      continue;
    }
    const kv = /^\s*(\w+)\s*=\s*"([^"]*)"/.exec(raw);
    if (cur && kv?.[1] !== undefined) cur.attrs[kv[1]] = kv[2] ?? '';
  }
  flush();
  return out;
}

/** `0x21000024ff7c5a11` → `21000024ff7c5a11`, as os-brick reports WWPNs. */
export function stripHexPrefix(wwn: string): string {
  return wwn.replace(/^0x/i, '').toLowerCase();
}
