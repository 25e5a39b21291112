import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** AES-256-GCM. Output: iv ‖ tag ‖ ciphertext. `aad` binds the ciphertext to its context (row id, purpose). */
export function seal(key: Buffer, plaintext: Buffer, aad: Buffer | string = ''): Buffer {
  if (key.length !== 32) throw new Error('seal: key must be 32 bytes');
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), ct]);
}

/** Throws when the ciphertext, its tag or its context was changed. */
export function open(key: Buffer, sealed: Buffer, aad: Buffer | string = ''): Buffer {
  if (key.length !== 32) throw new Error('open: key must be 32 bytes');
  if (sealed.length < IV_BYTES + TAG_BYTES) throw new Error('open: ciphertext too short');
  const iv = sealed.subarray(0, IV_BYTES);
  const tag = sealed.subarray(IV_BYTES, IV_BYTES + TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
}
