import { constantTimeEqual } from '../../src-shared/crypto/compare.js';
import { hmacSha256, scryptAsync, SERVER_CODE_SCRYPT } from '../../src-shared/crypto/kdf.js';
import { randomBytes } from '../../src-shared/crypto/random.js';
import type { ServerContext } from '../context.js';
import type { UserRow } from './users.js';

/**
 * PINs are stored as HMAC(pepper, scrypt(PIN, per-user salt)): the same small work factor as codes (a PIN is checked
 * with every code, so it sits on the verify path), with the pepper from the key file as the real defence against
 * guessing from a stolen database (NIST SP 800-63B §5.1.2.2 applies to short secrets the same way).
 *
 * NOTE for callers: takes `ctx` first (for the pepper), unlike the first draft in notes/contracts.md.
 */
async function pinDigest(ctx: Pick<ServerContext, 'keys'>, pin: string, salt: Buffer): Promise<Buffer> {
  const stretched = await scryptAsync(pin.normalize('NFC'), salt, SERVER_CODE_SCRYPT);
  return hmacSha256(ctx.keys.pepper, 'pin', stretched);
}

export async function hashPin(ctx: Pick<ServerContext, 'keys'>, pin: string): Promise<{ hash: Buffer; salt: Buffer }> {
  const salt = randomBytes(16);
  return { hash: await pinDigest(ctx, pin, salt), salt };
}

const NO_PIN_SALT = Buffer.alloc(16);
const NO_PIN_HASH = Buffer.alloc(32);

/**
 * True only when the user has a PIN and `pin` matches it. Every call costs one derivation and one constant-time
 * comparison, whether or not the user has a PIN or one was given, so timing does not tell them apart.
 */
export async function checkPin(ctx: Pick<ServerContext, 'keys'>, user: Pick<UserRow, 'pin_hash' | 'pin_salt'>, pin: string | undefined): Promise<boolean> {
  const hasPin = user.pin_hash !== null && user.pin_salt !== null;
  const digest = await pinDigest(ctx, pin ?? '', hasPin ? user.pin_salt! : NO_PIN_SALT);
  const equal = constantTimeEqual(digest, hasPin ? user.pin_hash! : NO_PIN_HASH);
  return equal && hasPin && pin !== undefined;
}
