/** Plain text tables and key/value blocks for the CLI's human output. */

/** A table with a header row; columns as wide as their widest cell. */
export function table(headers: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const cells = [headers.map(String), ...rows.map((r) => r.map((c) => (c === null || c === undefined ? '' : String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]): string => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  if (rows.length === 0) return `${line(cells[0] ?? [])}\n(none)`;
  return cells.map(line).join('\n');
}

/** `key  value` lines, keys aligned. */
export function fields(obj: Readonly<Record<string, unknown>>): string {
  const keys = Object.keys(obj);
  const w = Math.max(...keys.map((k) => k.length));
  return keys
    .map((k) => {
      const v = obj[k];
      const text = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
      return `${k.padEnd(w)}  ${text}`;
    })
    .join('\n');
}

/** Pretty JSON for `--json`. */
export const json = (v: unknown): string => JSON.stringify(v, null, 2);
