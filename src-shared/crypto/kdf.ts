import { createHmac, hkdfSync, scrypt, type ScryptOptions } from 'node:crypto';

export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  N: number;
  r: number;
  p: number;
  keyLength?: number;
}

/**
 * The server's code-hash parameters: a small work factor (NIST SP 800-63B §5.1.2.2 for codes under 112 bits) that
 * keeps a verification in the low milliseconds. The pepper (a key held outside the database) is the main defence.
 */
export const SERVER_CODE_SCRYPT: ScryptParams = { N: 2 ** 12, r: 8, p: 1 };

/** scrypt in libuv's thread pool, so a verification never blocks the event loop. */
export function scryptAsync(secret: Buffer | string, salt: Buffer | string, params: ScryptParams): Promise<Buffer> {
  const keyLength = params.keyLength ?? 32;
  const options: ScryptOptions = {
    N: params.N,
    r: params.r,
    p: params.p,
    maxmem: 256 * params.N * params.r + 1024 * 1024,
  };
  return new Promise((resolve, reject) =>
    scrypt(secret, salt, keyLength, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export function hmacSha256(key: Buffer, ...parts: (Buffer | string)[]): Buffer {
  const h = createHmac('sha256', key);
  // Length-prefix every part so that ("ab","c") and ("a","bc") never collide.
  for (const part of parts) {
    const b = typeof part === 'string' ? Buffer.from(part, 'utf8') : part;
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    h.update(len).update(b);
  }
  return h.digest();
}

export function hkdf(ikm: Buffer, salt: Buffer | string, info: string, length = 32): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, length));
}
