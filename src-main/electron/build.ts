import { build } from 'esbuild';

/**
 * Bundles the Electron shell: dist/electron/main.cjs (package.json "main") and dist/electron/preload.cjs.
 * The preload runs sandboxed, where `require` knows only a few Electron-provided modules, so it is one
 * self-contained file; the main bundle keeps native modules and Electron itself external.
 * Run: npx tsx src-main/electron/build.ts (the renderer is built by scripts/build-web.ts).
 */
export async function buildElectronShell(outdir = 'dist/electron'): Promise<void> {
  const common = {
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    minify: true,
    sourcemap: false,
    legalComments: 'none',
  } as const;
  await build({
    ...common,
    entryPoints: ['src-main/electron/main.ts'],
    outfile: `${outdir}/main.cjs`,
    external: ['electron', 'better-sqlite3', '@napi-rs/keyring', 'node-machine-id'],
  });
  await build({
    ...common,
    entryPoints: ['src-main/preload/preload.ts'],
    outfile: `${outdir}/preload.cjs`,
    external: ['electron'],
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await buildElectronShell();
  console.log('built dist/electron/main.cjs and dist/electron/preload.cjs');
}
