/**
 * Parser for `multipathd show status`.
 *
 * Sample (from the seed):
 * ```
 * path checker states:
 * up                  3
 *
 * paths: 2
 * busy: False
 * ```
 * When the daemon is not running the command exits 1 with no output (fixture
 * `multipathd-show-status-nodaemon.txt`); the caller decides from the exit code.
 */
export interface MultipathdStatus {
  readonly checkerStates: Readonly<Record<string, number>>;
  readonly paths: number | null;
  readonly busy: boolean | null;
}

export function parseMultipathdStatus(stdout: string): MultipathdStatus {
  const checkerStates: Record<string, number> = {};
  let paths: number | null = null;
  let busy: boolean | null = null;
  let inStates = false;
  for (const raw of stdout.split('\n')) {
    const line = raw.trim();
    if (line === 'path checker states:') {
      inStates = true;
      continue;
    }
    const p = /^paths:\s*(\d+)$/.exec(line);
    const b = /^busy:\s*(\w+)$/i.exec(line);
    if (p) paths = Number(p[1]);
    else if (b) busy = (b[1] ?? '').toLowerCase() === 'true';
    else if (inStates) {
      const s = /^(\S+)\s+(\d+)$/.exec(line);
      if (s?.[1] !== undefined) checkerStates[s[1]] = Number(s[2]);
      else inStates = false;
    }
  }
  return { checkerStates, paths, busy };
}
