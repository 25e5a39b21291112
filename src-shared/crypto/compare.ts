import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Constant-time equality for secrets of any length: both sides are hashed first so that neither the content nor
 * the length of the expected value leaks through timing.
 */
export function constantTimeEqual(a: Buffer | string, b: Buffer | string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/** Overwrites a buffer that held a code or PIN, so it does not linger in memory longer than needed. */
export function wipe(...buffers: (Buffer | undefined)[]): void {
  for (const b of buffers) b?.fill(0);
}
