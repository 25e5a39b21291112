import { CODE_LENGTHS } from '../../src-shared/codes.js';
import { constantTimeEqual, wipe } from '../../src-shared/crypto/compare.js';
import { hmacSha256, scryptAsync, SERVER_CODE_SCRYPT } from '../../src-shared/crypto/kdf.js';
import type { ServerContext } from '../context.js';

/**
 * Stored codes (temporary codes, emergency codes) are kept as HMAC(pepper, scrypt(code, users.code_salt)) (DESIGN
 * §4): scrypt with a small work factor because the codes have ~40-60 bits, the pepper because it lives outside the
 * database. The salt is per user, not per code, so a typed code is derived ONCE and then compared against the
 * user's temporary code and every code of the emergency set.
 */
const DOMAIN = 'lifeline/code-hash/v1';

export async function hashCode(ctx: ServerContext, salt: Buffer, normalizedCode: string): Promise<Buffer> {
  const secret = Buffer.from(normalizedCode, 'utf8');
  try {
    const derived = await scryptAsync(secret, salt, SERVER_CODE_SCRYPT);
    try {
      return hmacSha256(ctx.keys.pepper, DOMAIN, derived);
    } finally {
      wipe(derived);
    }
  } finally {
    wipe(secret);
  }
}

/**
 * Whether a typed code could be a stored code at all, decided from its shape only (never from what the user has),
 * so skipping the derivation for a 6-digit token code tells a timing observer nothing they did not type themselves.
 */
export function couldBeStoredCode(normalizedCode: string): boolean {
  return (
    normalizedCode.length >= Math.min(CODE_LENGTHS.emergency, CODE_LENGTHS.temporaryMin) &&
    normalizedCode.length <= CODE_LENGTHS.temporaryMax
  );
}

/**
 * Index of the candidate equal to `hash`, or -1. Every candidate is compared, with no early exit, so the time taken
 * says nothing about which one matched or how many there are beyond their count.
 */
export function matchHash(hash: Buffer, candidates: readonly Buffer[]): number {
  let found = -1;
  for (let i = 0; i < candidates.length; i++) {
    const equal = constantTimeEqual(hash, candidates[i]!);
    if (equal && found === -1) found = i;
  }
  return found;
}
