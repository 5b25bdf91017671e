/**
 * How the guest's runner hands a case's result to this machine: a file per case under the job's
 * `results/`, announced by a console line. Case names are free text (the bench's rows: spaces,
 * parentheses, `I/O`), so the file's name is the case's name URI-encoded, and the console line
 * is parsed up to its last two words.
 */
export function resultFileName(caseName: string): string {
  return `${encodeURIComponent(caseName)}.json`;
}

export function caseEndLine(caseName: string, ok: boolean, ms: number): string {
  return `HITCH-CASE-END ${caseName} ${ok ? 'ok' : 'FAILED'} ${ms}ms`;
}

/** The case a `caseEndLine` announces, or null for any other line. */
export function parseCaseEnd(line: string): string | null {
  return /HITCH-CASE-END (.+) (?:ok|FAILED) \d+ms\s*$/.exec(line)?.[1] ?? null;
}
