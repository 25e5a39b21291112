import { constantTimeEqual } from '../../src-shared/crypto/compare.js';
import { hmacSha256, scryptAsync, type ScryptParams } from '../../src-shared/crypto/kdf.js';
import { randomBytes } from '../../src-shared/crypto/random.js';
import type { ServerContext } from '../context.js';

/**
 * Admin passwords: scrypt N=2^15, r=8, p=1 (32 MiB, tens of milliseconds: OWASP's recommended floor for scrypt),
 * over HMAC(pepper, password) so a stolen database alone cannot be attacked. Stored as
 * `scrypt$N$r$p$salt$hash`, so the parameters can be raised later without breaking existing hashes.
 */
export const ADMIN_PASSWORD_SCRYPT: ScryptParams = { N: 2 ** 15, r: 8, p: 1 };
export const ADMIN_PASSWORD_MIN = 12;

async function derive(
  ctx: Pick<ServerContext, 'keys'>,
  password: string,
  salt: Buffer,
  params: ScryptParams,
): Promise<Buffer> {
  return scryptAsync(hmacSha256(ctx.keys.pepper, 'admin-password', password.normalize('NFC')), salt, params);
}

export async function hashPassword(ctx: Pick<ServerContext, 'keys'>, password: string): Promise<string> {
  const salt = randomBytes(16);
  const p = ADMIN_PASSWORD_SCRYPT;
  const hash = await derive(ctx, password, salt, p);
  return ['scrypt', p.N, p.r, p.p, salt.toString('base64url'), hash.toString('base64url')].join('$');
}

/** Used when the admin does not exist, so an unknown name costs the same time as a wrong password. */
const DUMMY_HASH = [
  'scrypt',
  ADMIN_PASSWORD_SCRYPT.N,
  ADMIN_PASSWORD_SCRYPT.r,
  ADMIN_PASSWORD_SCRYPT.p,
  Buffer.alloc(16).toString('base64url'),
  Buffer.alloc(32).toString('base64url'),
].join('$');

export async function verifyPassword(
  ctx: Pick<ServerContext, 'keys'>,
  stored: string | undefined,
  password: string,
): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = (stored ?? DUMMY_HASH).split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const derived = await derive(ctx, password, Buffer.from(salt, 'base64url'), {
    N: Number(n),
    r: Number(r),
    p: Number(p),
  });
  return constantTimeEqual(derived, Buffer.from(hash, 'base64url')) && stored !== undefined;
}
