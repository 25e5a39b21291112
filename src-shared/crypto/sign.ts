import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { canonicalJson } from '../canonical.js';

/**
 * Ed25519 signatures over a domain-separated, versioned, canonical encoding:
 *   "lifeline/<domain>/v<version>\n" ‖ canonicalJson(payload)
 * so a signature made for one message type can never be replayed as another.
 */
export function signingInput(domain: string, version: number, payload: unknown): Buffer {
  return Buffer.from(`lifeline/${domain}/v${version}\n${canonicalJson(payload)}`, 'utf8');
}

export interface Ed25519KeyPair {
  publicKey: string; // raw 32 bytes, base64url
  privateKey: string; // PKCS#8 DER, base64url
}

export function generateEd25519(): Ed25519KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    publicKey: exportRawPublic(publicKey),
    privateKey: privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64url'),
  };
}

function exportRawPublic(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' });
  if (!jwk.x) throw new Error('not an OKP public key');
  return jwk.x; // JWK x is the raw key, base64url
}

function publicFromRaw(raw: string, crv: 'Ed25519' | 'X25519'): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv, x: raw }, format: 'jwk' });
}

export function signPayload(privateKeyB64: string, domain: string, version: number, payload: unknown): string {
  const key = createPrivateKey({ key: Buffer.from(privateKeyB64, 'base64url'), format: 'der', type: 'pkcs8' });
  return sign(null, signingInput(domain, version, payload), key).toString('base64url');
}

export function verifyPayload(
  publicKeyRaw: string,
  signature: string,
  domain: string,
  version: number,
  payload: unknown,
): boolean {
  try {
    return verify(
      null,
      signingInput(domain, version, payload),
      publicFromRaw(publicKeyRaw, 'Ed25519'),
      Buffer.from(signature, 'base64url'),
    );
  } catch {
    return false;
  }
}

/** SHA-256 of the raw public key, hex: what IT pins in the agent's policy. */
export function keyFingerprint(publicKeyRaw: string): string {
  return createHash('sha256').update(Buffer.from(publicKeyRaw, 'base64url')).digest('hex');
}

export { publicFromRaw };
