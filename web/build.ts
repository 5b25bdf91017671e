/**
 * Build the dashboard into web/dist/ (committed, so `npm start` needs no build step):
 * `npx tsx web/build.ts [OUTDIR]`. esbuild bundles web/src/main.ts — with the shared pure modules
 * it imports (`src/trace/explain.ts`, the CLI's progress frame) — into one ES module.
 * The output depends only on the sources, so a test rebuilds and compares.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));

export async function buildDashboard(outDir = join(here, 'dist')): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: [join(here, 'src', 'main.ts')],
    outfile: join(outDir, 'app.js'),
    bundle: true,
    format: 'esm',
    target: 'es2022',
    platform: 'browser',
    legalComments: 'none',
    charset: 'utf8',
    logLevel: 'warning',
  });
  copyFileSync(join(here, 'index.html'), join(outDir, 'index.html'));
  copyFileSync(join(here, 'style.css'), join(outDir, 'app.css'));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildDashboard(process.argv[2] ? resolve(process.argv[2]) : undefined);
}
