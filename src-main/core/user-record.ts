import { z } from 'zod';
import { OfflinePolicySchema } from '../../src-shared/policy.js';

/**
 * What the agent keeps per user (sealed in the store's `users` table). Verifiers live in their own rows; this is
 * the bookkeeping around them: the offline rules the server sent, the sequence of the last bundle accepted, how
 * far token windows are burned, and the offline failure count and lock.
 */
export const UserRecordSchema = z.object({
  username: z.string(),
  offline: OfflinePolicySchema,
  /** TOTP period and digits of the user's token (the windows are time steps of this period). */
  periodSeconds: z.number().int().positive().default(30),
  digits: z.union([z.literal(6), z.literal(8)]).default(6),
  /** Sequence of the last bundle accepted for this user on this device; a bundle must carry a larger one. */
  lastSequence: z.number().int().default(0),
  /** Bundles are refused after this moment (the header's expiry). */
  bundleExpiresAt: z.number().int().nullable().default(null),
  /** PIN and token generations the verifiers were built with (reported at sync; a change on the server resets). */
  pinGeneration: z.number().int().nullable().default(null),
  tokenGeneration: z.number().int().nullable().default(null),
  /** Every window up to and including this one is burned (used offline or older than one used). */
  burnedThrough: z.number().int().nullable().default(null),
  /** Last window the downloaded data covers. */
  windowsUntil: z.number().int().nullable().default(null),
  /** Consecutive offline failures, and the lock they caused. */
  failures: z.number().int().nonnegative().default(0),
  lockedUntil: z.number().int().nullable().default(null),
  /** Cached multi-use temporary code: when it expires. */
  temporaryExpiresAt: z.number().int().nullable().default(null),
});
export type UserRecord = z.infer<typeof UserRecordSchema>;

export function newUserRecord(username: string, offline: z.input<typeof OfflinePolicySchema>): UserRecord {
  return UserRecordSchema.parse({ username, offline });
}

/** Offline lock after `failures` consecutive failures: none for the first two, then 30 s doubling, at most an hour. */
export function offlineLockMs(failures: number): number {
  if (failures < 3) return 0;
  return Math.min(30_000 * 2 ** (failures - 3), 60 * 60_000);
}
