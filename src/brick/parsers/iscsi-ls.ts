/**
 * Parser for libiscsi's `iscsi-ls -i <initiator> iscsi://<portal>` (a SendTargets discovery by
 * the same user-space initiator QEMU uses).
 *
 * Sample (fixture `libiscsi-bin-vs-tgt.txt`): `Target:iqn.2024-01.org.peers:vol1 Portal:127.0.0.1:3260,1`
 */
export interface IscsiLsTarget {
  readonly iqn: string;
  readonly portal: string;
  readonly tpgt: number;
}

export function parseIscsiLs(stdout: string): IscsiLsTarget[] {
  const out: IscsiLsTarget[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^Target:(\S+) Portal:(\S+),(\d+)\s*$/.exec(line.trim());
    if (m) out.push({ iqn: m[1] ?? '', portal: m[2] ?? '', tpgt: Number(m[3]) });
  }
  return out;
}
