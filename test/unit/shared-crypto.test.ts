import { describe, expect, it } from 'vitest';
import { normalizeCode, formatCode, isCrockford } from '../../src-shared/codes.js';
import { canonicalJson } from '../../src-shared/canonical.js';
import { open, seal } from '../../src-shared/crypto/aead.js';
import { generateX25519, openBox, sealTo } from '../../src-shared/crypto/box.js';
import { constantTimeEqual } from '../../src-shared/crypto/compare.js';
import { randomCrockford, randomBytes } from '../../src-shared/crypto/random.js';
import { generateEd25519, signPayload, verifyPayload } from '../../src-shared/crypto/sign.js';
import { oathtool } from '../helpers/oathtool.js';

describe('code normalisation', () => {
  it('drops spaces and dashes, folds case and maps I/L/O', () => {
    expect(normalizeCode(' 7k3m-q9xd 2b8t ')).toBe('7K3MQ9XD2B8T');
    expect(normalizeCode('iLo0')).toBe('1100');
    expect(isCrockford(normalizeCode('abc-def'))).toBe(true);
    expect(isCrockford('U')).toBe(false);
    expect(formatCode('7K3MQ9XD2B8T')).toBe('7K3M-Q9XD-2B8T');
  });
  it('random codes are Crockford of the asked length', () => {
    const c = randomCrockford(12);
    expect(c).toHaveLength(12);
    expect(isCrockford(c)).toBe(true);
    expect(normalizeCode(c)).toBe(c);
  });
});

describe('shared crypto constructions', () => {
  it('canonical JSON sorts keys at every depth', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 0, y: 1 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[1,{"y":1,"z":0}]},"b":1}',
    );
  });
  it('AES-GCM refuses a changed byte and a changed context', () => {
    const key = randomBytes(32);
    const sealed = seal(key, Buffer.from('secret'), 'row:1');
    expect(open(key, sealed, 'row:1').toString()).toBe('secret');
    expect(() => open(key, sealed, 'row:2')).toThrow();
    const tampered = Buffer.from(sealed);
    tampered[tampered.length - 1]! ^= 1;
    expect(() => open(key, tampered, 'row:1')).toThrow();
  });
  it('Ed25519 signatures are bound to domain, version and payload', () => {
    const k = generateEd25519();
    const sig = signPayload(k.privateKey, 'bundle', 1, { a: 1 });
    expect(verifyPayload(k.publicKey, sig, 'bundle', 1, { a: 1 })).toBe(true);
    expect(verifyPayload(k.publicKey, sig, 'sync', 1, { a: 1 })).toBe(false);
    expect(verifyPayload(k.publicKey, sig, 'bundle', 2, { a: 1 })).toBe(false);
    expect(verifyPayload(k.publicKey, sig, 'bundle', 1, { a: 2 })).toBe(false);
    expect(verifyPayload(generateEd25519().publicKey, sig, 'bundle', 1, { a: 1 })).toBe(false);
  });
  it('a sealed box opens only with the recipient key and context', () => {
    const r = generateX25519();
    const box = sealTo(r.publicKey, Buffer.from('codes'), 'bundle:dev1');
    expect(openBox(r, box, 'bundle:dev1').toString()).toBe('codes');
    expect(() => openBox(r, box, 'bundle:dev2')).toThrow();
    expect(() => openBox(generateX25519(), box, 'bundle:dev1')).toThrow();
  });
  it('constant-time equality compares content', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
  });
  it('oathtool is installed and produces RFC 6238 codes', () => {
    // RFC 6238 appendix B, SHA-1, T=59 s → 94287082 (8 digits)
    expect(oathtool('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', 59_000, { digits: 8 })).toBe('94287082');
  });
});
