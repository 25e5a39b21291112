import { createPrivateKey, diffieHellman, generateKeyPairSync } from 'node:crypto';
import { open, seal } from './aead.js';
import { hkdf } from './kdf.js';
import { publicFromRaw } from './sign.js';

/**
 * Encryption to a device's X25519 key: an ephemeral X25519 key, ECDH, HKDF-SHA256 bound to both public keys and a
 * context string, then AES-256-GCM. Only the holder of the device's private key (in its OS keychain) can open it.
 */
export interface X25519KeyPair {
  publicKey: string; // raw, base64url
  privateKey: string; // PKCS#8 DER, base64url
}

export function generateX25519(): X25519KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  const jwk = publicKey.export({ format: 'jwk' });
  return {
    publicKey: jwk.x as string,
    privateKey: privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64url'),
  };
}

export interface SealedBox {
  ephemeralPublicKey: string;
  ciphertext: string; // base64url of iv ‖ tag ‖ ct
}

function boxKey(shared: Buffer, ephemeralPub: string, recipientPub: string, context: string): Buffer {
  return hkdf(shared, Buffer.from(`${ephemeralPub}.${recipientPub}`), `lifeline/box/v1/${context}`);
}

export function sealTo(recipientPublicRaw: string, plaintext: Buffer, context: string): SealedBox {
  const eph = generateKeyPairSync('x25519');
  const ephPub = eph.publicKey.export({ format: 'jwk' }).x as string;
  const shared = diffieHellman({ privateKey: eph.privateKey, publicKey: publicFromRaw(recipientPublicRaw, 'X25519') });
  const key = boxKey(shared, ephPub, recipientPublicRaw, context);
  return { ephemeralPublicKey: ephPub, ciphertext: seal(key, plaintext, context).toString('base64url') };
}

export function openBox(recipient: X25519KeyPair, box: SealedBox, context: string): Buffer {
  const privateKey = createPrivateKey({
    key: Buffer.from(recipient.privateKey, 'base64url'),
    format: 'der',
    type: 'pkcs8',
  });
  const shared = diffieHellman({ privateKey, publicKey: publicFromRaw(box.ephemeralPublicKey, 'X25519') });
  const key = boxKey(shared, box.ephemeralPublicKey, recipient.publicKey, context);
  return open(key, Buffer.from(box.ciphertext, 'base64url'), context);
}
