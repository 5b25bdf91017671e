/** The URL of dist/cli/main.js while dist/ is up to date with src/, else null (see compiled.js). */
export function compiledEntry(root: string): string | null;
