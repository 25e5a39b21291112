import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

/**
 * `npm run dist`: builds the agent's installers on a machine that can reach Electron's downloads.
 *
 * The app is staged in dist/app with its own package.json listing only the native runtime dependencies, so that
 * electron-builder installs and rebuilds them for Electron THERE, leaving this checkout's node_modules built for
 * Node (the test suite keeps working). Everything else is bundled by esbuild. Signing comes from the environment
 * only (docs/deployment.md); `--azure` adds Azure Trusted Signing options from AZURE_* variables.
 */
const root = path.resolve(import.meta.dirname, '..');
const stage = path.join(root, 'dist/app');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const NATIVE = ['better-sqlite3', '@napi-rs/keyring'];
// electron-builder's native rebuild (@electron/rebuild) needs Node 22.12+, although the server and the tests run on
// Node 20.19+ (package.json "engines"): say so before minutes of staging, not in a stack trace after them.
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write(
    `npm run dist needs Node 22.12 or later (electron-builder's native rebuild); this is Node ${process.versions.node}\n`,
  );
  process.exit(2);
}
// Electron is an optional dependency (scripts/electron-postinstall.mjs): name its pinned version instead of letting
// electron-builder guess it from whatever node_modules holds.
const electronVersion: string = pkg.optionalDependencies.electron;

rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });

execFileSync(process.execPath, [path.join(root, 'node_modules/tsx/dist/cli.mjs'), 'scripts/build-web.ts'], {
  cwd: root,
  stdio: 'inherit',
});

const common = {
  bundle: true,
  platform: 'node' as const,
  target: 'node20',
  format: 'cjs' as const,
  external: ['electron', ...NATIVE],
  legalComments: 'none' as const,
};
await build({
  ...common,
  entryPoints: [path.join(root, 'src-main/electron/main.ts')],
  outfile: path.join(stage, 'main.cjs'),
});
// The preload runs sandboxed: one self-contained file, Electron's renderer-side modules only.
await build({
  ...common,
  entryPoints: [path.join(root, 'src-main/preload/preload.ts')],
  outfile: path.join(stage, 'preload.cjs'),
});
// Same layout as src-renderer/ (RENDERER_ASSETS in src-shared/ipc.ts maps URLs to these paths).
cpSync(path.join(root, 'src-renderer/dist'), path.join(stage, 'renderer', 'dist'), { recursive: true });
for (const file of ['index.html', 'app.css']) {
  const src = path.join(root, 'src-renderer', file);
  if (existsSync(src)) cpSync(src, path.join(stage, 'renderer', file));
}
cpSync(path.join(root, 'assets'), path.join(stage, 'assets'), { recursive: true });

writeFileSync(
  path.join(stage, 'package.json'),
  JSON.stringify(
    {
      name: 'lifeline-agent',
      productName: 'Lifeline',
      version: pkg.version,
      description: pkg.description,
      author: 'Lifeline contributors',
      main: 'main.cjs',
      dependencies: Object.fromEntries(NATIVE.map((n) => [n, pkg.dependencies[n]])),
    },
    null,
    2,
  ),
);

const args = [
  '--config',
  'electron-builder.yml',
  '--publish',
  'never',
  `-c.electronVersion=${electronVersion}`,
  ...process.argv.slice(2).filter((a) => a !== '--azure'),
];
if (process.argv.includes('--azure')) {
  for (const v of [
    'AZURE_TENANT_ID',
    'AZURE_CLIENT_ID',
    'AZURE_CLIENT_SECRET',
    'AZURE_SIGNING_ENDPOINT',
    'AZURE_SIGNING_ACCOUNT',
    'AZURE_CERT_PROFILE',
    'AZURE_PUBLISHER_NAME',
  ]) {
    if (!process.env[v]) throw new Error(`--azure needs ${v} in the environment`);
  }
  args.push(
    `-c.win.azureSignOptions.endpoint=${process.env.AZURE_SIGNING_ENDPOINT}`,
    `-c.win.azureSignOptions.codeSigningAccountName=${process.env.AZURE_SIGNING_ACCOUNT}`,
    `-c.win.azureSignOptions.certificateProfileName=${process.env.AZURE_CERT_PROFILE}`,
    `-c.win.azureSignOptions.publisherName=${process.env.AZURE_PUBLISHER_NAME}`,
  );
}
execFileSync(process.execPath, [path.join(root, 'node_modules/electron-builder/cli.js'), ...args], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, ELECTRON_SKIP_BINARY_DOWNLOAD: '' },
});
