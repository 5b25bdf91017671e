/**
 * Parser for `lsblk -o NAME,RO -l -n` (the read-only check os-brick runs).
 *
 * Sample (fixture `lsblk-name-ro.txt`): `loop0  0` ; from the seed:
 * `36006016015e03a00ab2df25bb82d0ea9  0`.
 */
export interface LsblkRo {
  readonly name: string;
  readonly ro: boolean;
}

export function parseLsblkRo(stdout: string): LsblkRo[] {
  const out: LsblkRo[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^(\S+)\s+([01])\s*$/.exec(line.trim());
    if (m?.[1] !== undefined) out.push({ name: m[1], ro: m[2] === '1' });
  }
  return out;
}

/** `blockdev --getro /dev/sdb` prints `0` or `1`. */
export function parseBlockdevGetro(stdout: string): boolean | null {
  const s = stdout.trim();
  return s === '1' ? true : s === '0' ? false : null;
}
