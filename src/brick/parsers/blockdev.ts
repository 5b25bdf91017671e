/** `blockdev --getro /dev/sdb` prints `0` or `1` (the read-only check brick runs on a new disk). */
export function parseBlockdevGetro(stdout: string): boolean | null {
  const s = stdout.trim();
  return s === '1' ? true : s === '0' ? false : null;
}
