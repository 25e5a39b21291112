import { constantTimeEqual } from '../../src-shared/crypto/compare.js';
import { hmacSha256, scryptAsync, SERVER_CODE_SCRYPT } from '../../src-shared/crypto/kdf.js';
import { randomBytes } from '../../src-shared/crypto/random.js';
import type { ServerContext } from '../context.js';
import type { UserRecord } from '../db/queries/users.js';

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

/** A user's stored PIN: from a UserRecord, or the two columns of a users row as read directly. */
export type StoredPin = Pick<UserRecord, 'pinHash' | 'pinSalt'> | { pin_hash: Buffer | null; pin_salt: Buffer | null };

/**
 * True only when the user has a PIN and `pin` matches it. Every call costs one derivation and one constant-time
 * comparison, whether or not the user has a PIN or one was given, so timing does not tell them apart.
 */
export async function checkPin(
  ctx: Pick<ServerContext, 'keys'>,
  user: StoredPin,
  pin: string | undefined,
): Promise<boolean> {
  const [pinHash, pinSalt] = 'pinHash' in user ? [user.pinHash, user.pinSalt] : [user.pin_hash, user.pin_salt];
  const hasPin = pinHash !== null && pinSalt !== null;
  const digest = await pinDigest(ctx, pin ?? '', hasPin ? pinSalt! : NO_PIN_SALT);
  const equal = constantTimeEqual(digest, hasPin ? pinHash! : NO_PIN_HASH);
  return equal && hasPin && pin !== undefined;
}
