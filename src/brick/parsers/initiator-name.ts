/**
 * Parser for `/etc/iscsi/initiatorname.iscsi`.
 *
 * Sample (from the seed): `InitiatorName=iqn.1993-08.org.debian:01:7cc8838d1c0`, after `##` comments.
 */
export function parseInitiatorName(text: string): string | null {
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#')) continue;
    const m = /^InitiatorName\s*=\s*(\S+)$/.exec(line);
    if (m?.[1]) return m[1];
  }
  return null;
}

/** `/etc/nvme/hostnqn`: one line, e.g. `nqn.2014-08.org.nvmexpress:uuid:2b8d2f9a-…`. */
export function parseHostNqn(text: string): string | null {
  const line = text.trim().split('\n')[0]?.trim() ?? '';
  return /^nqn\.\S+$/.test(line) ? line : null;
}
