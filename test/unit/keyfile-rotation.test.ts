import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  activateNextSigningKey,
  createKeyFile,
  listSigningKeys,
  loadKeyFile,
  retireSigningKey,
  stageNextSigningKey,
} from '../../src-server/keyfile.js';
import { signPayload, verifyPayload } from '../../src-shared/crypto/sign.js';
import { tempDir } from '../helpers/tmp.js';

const tmp = tempDir('lifeline-keys-');
afterAll(() => tmp.cleanup());
const file = path.join(tmp.dir, 'lifeline.key');

describe('server signing key rotation', () => {
  it('stages, activates and retires keys while agents always have an accepted key', () => {
    createKeyFile(file, 1);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const first = loadKeyFile(file).signing.fingerprint;

    const next = stageNextSigningKey(file, 2);
    let keys = loadKeyFile(file);
    expect(keys.signing.fingerprint).toBe(first); // staging does not change what signs
    expect(keys.allSigningKeys.map((k) => k.fingerprint)).toEqual([first, next]);
    expect(() => stageNextSigningKey(file, 3)).toThrow(/already staged/);

    expect(activateNextSigningKey(file)).toBe(next);
    keys = loadKeyFile(file);
    expect(keys.signing.fingerprint).toBe(next);
    expect(keys.allSigningKeys.map((k) => k.fingerprint)).toEqual([next, first]); // overlap: both accepted
    const sig = signPayload(keys.signing.privateKey, 'bundle', 1, { x: 1 });
    expect(verifyPayload(keys.allSigningKeys[0]!.publicKey, sig, 'bundle', 1, { x: 1 })).toBe(true);

    expect(() => retireSigningKey(file, next.slice(0, 12))).toThrow(/current signing key cannot be retired/);
    expect(retireSigningKey(file, first.slice(0, 12))).toBe(first);
    keys = loadKeyFile(file);
    expect(keys.allSigningKeys.map((k) => k.fingerprint)).toEqual([next]);
    expect(keys.auditKeys.map((k) => k.fingerprint)).toEqual([next, first]); // old checkpoints stay verifiable
    expect(listSigningKeys(file).map((k) => k.state)).toEqual(['retired', 'current']);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).not.toContain('"state": "next"');
  });

  it('refuses a key file without exactly one current key', () => {
    const t = tempDir('lifeline-keys2-');
    const f = path.join(t.dir, 'k');
    createKeyFile(f, 1);
    const kf = JSON.parse(readFileSync(f, 'utf8'));
    kf.signingKeys[0].state = 'previous';
    writeFileSync(f, JSON.stringify(kf));
    expect(() => loadKeyFile(f)).toThrow(/exactly one current signing key/);
    t.cleanup();
  });
});
