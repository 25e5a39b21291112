import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { loadKeyFile } from '../../../src-server/keyfile.js';
import { tempDir } from '../../helpers/tmp.js';

const run = promisify(execFile);
const tsx = path.resolve('node_modules/tsx/dist/cli.mjs');
const cli = (...args: string[]) =>
  run(process.execPath, [tsx, path.resolve('src-server/main.ts'), ...args], { encoding: 'utf8' });
const tmp = tempDir('lifeline-keys-cli-');
afterAll(() => tmp.cleanup());

describe('keys CLI: rotating the server signing key', () => {
  it('stages, activates and retires a key; the current key cannot be retired', async () => {
    await cli('init', '--data', tmp.dir);
    const keyFile = path.join(tmp.dir, 'lifeline.key');
    const first = loadKeyFile(keyFile).signing.fingerprint;

    expect((await cli('keys', 'stage', '--data', tmp.dir)).stdout).toMatch(/Staged next signing key [0-9a-f]{64}/);
    const listed = (await cli('keys', 'list', '--data', tmp.dir)).stdout;
    expect(listed).toMatch(new RegExp(`current\\s+${first}`));
    expect(listed).toMatch(/next\s+[0-9a-f]{64}/);

    await cli('keys', 'activate', '--data', tmp.dir);
    const second = loadKeyFile(keyFile).signing.fingerprint;
    expect(second).not.toBe(first);
    expect(loadKeyFile(keyFile).allSigningKeys.map((k) => k.fingerprint)).toEqual([second, first]);

    const refused = await cli('keys', 'retire', second.slice(0, 16), '--data', tmp.dir).catch(
      (e: { code: number; stdout: string }) => e,
    );
    expect((refused as { code: number }).code).toBe(1);
    expect((refused as { stdout: string }).stdout).toMatch(/current signing key cannot be retired/);

    await cli('keys', 'retire', first.slice(0, 16), '--data', tmp.dir);
    expect(loadKeyFile(keyFile).allSigningKeys.map((k) => k.fingerprint)).toEqual([second]);
  });
});
