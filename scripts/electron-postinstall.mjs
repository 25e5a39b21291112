// Runs after `npm ci` / `npm install` (package.json "postinstall"). Plain Node, no dependencies: it must work before
// anything else does.
//
// Electron is an optional dependency (docs/decisions.md, "Electron without its download"): its own install step
// downloads the Electron binary from GitHub, which a hospital network behind a proxy (or a CI machine that reaches
// only the npm registry) cannot do, and a failed optional dependency does not fail the install. npm then removes the
// package, and with it Electron's type declarations, which the Electron shell is type-checked against. This puts the
// same pinned package back from the npm registry, without running its download, so `npm test` still type-checks the
// shell; where the download worked, it does nothing. It never fails the install.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const pinned = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).optionalDependencies.electron;
const target = path.join(root, 'node_modules', 'electron');

function installedVersion() {
  try {
    return JSON.parse(readFileSync(path.join(target, 'package.json'), 'utf8')).version;
  } catch {
    return undefined;
  }
}

/** The binary is there when path.txt names a file under dist/ (the same check scripts/start.ts makes). */
function hasBinary() {
  try {
    return existsSync(path.join(target, 'dist', readFileSync(path.join(target, 'path.txt'), 'utf8').trim()));
  } catch {
    return false;
  }
}

function restoreTypesOnly() {
  const work = mkdtempSync(path.join(tmpdir(), 'lifeline-electron-'));
  try {
    // npm_execpath is the npm running this install: the same registry, proxy and cache settings.
    const npm = process.env.npm_execpath;
    const packArgs = ['pack', `electron@${pinned}`, '--pack-destination', work, '--silent'];
    const tarball = (
      npm
        ? execFileSync(process.execPath, [npm, ...packArgs])
        : execFileSync('npm', packArgs, { shell: process.platform === 'win32' })
    )
      .toString()
      .trim()
      .split('\n')
      .pop();
    execFileSync('tar', ['-xzf', path.join(work, tarball), '-C', work]);
    rmSync(target, { recursive: true, force: true });
    renameSync(path.join(work, 'package'), target);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

try {
  if (installedVersion() === pinned && hasBinary()) process.exit(0);
  if (installedVersion() !== pinned) restoreTypesOnly();
  console.log(
    `lifeline: Electron ${pinned}'s binary is not installed (it downloads from GitHub, which this machine did not reach).\n` +
      '  Nothing is lost: `npm start` runs the agent in the browser shell and `npm test` needs no Electron binary.\n' +
      '  To run the Electron shell or build installers, run `npm install` again on a machine that can reach GitHub.',
  );
} catch (err) {
  console.warn(
    `lifeline: could not restore Electron's type declarations (${err instanceof Error ? err.message : String(err)}); the Electron shell will not type-check until \`npm install\` succeeds.`,
  );
}
