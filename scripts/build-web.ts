import { existsSync } from 'node:fs';
import { build } from 'esbuild';

/**
 * Bundles the two browser apps (the agent's renderer and the helpdesk console) into static files the shells serve.
 * No CDN: everything the pages need is in these bundles.
 */
const apps = [
  { entry: 'src-renderer/main.ts', outfile: 'src-renderer/dist/renderer.js' },
  { entry: 'src-server/console/web/main.ts', outfile: 'src-server/console/dist/console.js' },
];

for (const app of apps) {
  if (!existsSync(app.entry)) continue;
  await build({
    entryPoints: [app.entry],
    outfile: app.outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: false,
    minify: true,
    legalComments: 'none',
  });
  if (!process.argv.includes('--quiet')) console.log(`built ${app.outfile}`);
}
