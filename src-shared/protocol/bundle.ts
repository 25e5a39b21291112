import { z } from 'zod';
import { OfflinePolicySchema } from '../policy.js';
import {
  Base64UrlSchema,
  DeviceIdSchema,
  EpochMsSchema,
  PublicKeySchema,
  Sha256HexSchema,
  SignatureSchema,
  StepSchema,
  UsernameSchema,
  VersionSchema,
} from './common.js';

/**
 * The bundle delta (docs/design.md §5): what an approved device receives after a successful online login with the user's
 * normal token. The header is readable (the agent checks it before decrypting); the content is sealed to the
 * device's X25519 key with a context bound to device, user and sequence (`bundleSealContext`); the server signs
 * header and box together (domain SIGNATURE_DOMAINS.bundle). Build, verify and open it with
 * src-shared/crypto/bundle.ts, never by hand.
 */
export const BundleHeaderSchema = z
  .strictObject({
    v: VersionSchema,
    deviceId: DeviceIdSchema,
    username: UsernameSchema,
    /** Strictly increasing per device and user: the agent refuses a bundle whose sequence is not above the last one. */
    sequence: z.number().int().positive(),
    issuedAt: EpochMsSchema,
    /** After this time the agent uses nothing it learnt from this bundle (issuedAt + maxDaysWithoutContact). */
    expiresAt: EpochMsSchema,
    /** The user's PIN generation on the server; verifiers built under another generation are void. */
    pinGeneration: z.number().int().nonnegative(),
    /** The user's token generation; when it differs from what the agent holds, the agent drops its windows. */
    tokenGeneration: z.number().int().nonnegative(),
    /** The token windows in this delta, inclusive; `windowsTo = windowsFrom - 1` means none. */
    windowsFrom: StepSchema,
    windowsTo: z.number().int().min(-1),
    /** True when the agent must discard every window it holds for this user before adding these. */
    replaceWindows: z.boolean(),
  })
  .refine((h) => h.windowsTo >= h.windowsFrom - 1, { message: 'windowsTo must be ≥ windowsFrom - 1' });
export type BundleHeader = z.infer<typeof BundleHeaderSchema>;

export const SealedBoxSchema = z.strictObject({ ephemeralPublicKey: PublicKeySchema, ciphertext: Base64UrlSchema });

export const BundleDeltaSchema = z.strictObject({
  header: BundleHeaderSchema,
  box: SealedBoxSchema,
  keyFingerprint: Sha256HexSchema,
  signature: SignatureSchema,
});
export type BundleDelta = z.infer<typeof BundleDeltaSchema>;

export const TOKEN_ALGORITHMS = ['SHA1', 'SHA256', 'SHA512'] as const;

export const TokenWindowsSchema = z
  .strictObject({
    algorithm: z.enum(TOKEN_ALGORITHMS),
    digits: z.union([z.literal(6), z.literal(8)]),
    period: z.number().int().positive(),
    firstStep: StepSchema,
    /** The codes of steps firstStep, firstStep+1, … concatenated (each `digits` long): compact for 20 000 windows. */
    codes: z.string().regex(/^[0-9]*$/),
  })
  .refine((t) => t.codes.length % t.digits === 0, { message: 'codes must be a whole number of codes' });
export type TokenWindows = z.infer<typeof TokenWindowsSchema>;

export const OfflineSlotSchema = z.strictObject({
  index: z.number().int().nonnegative(),
  code: z.string().length(12),
  expiresAt: EpochMsSchema,
});
export type OfflineSlot = z.infer<typeof OfflineSlotSchema>;

export const BundleContentSchema = z.strictObject({
  v: VersionSchema,
  /** Absent when the delta adds no window. */
  tokenWindows: TokenWindowsSchema.optional(),
  /** Slots not delivered to this device before (all active ones when the agent said it holds none). */
  slots: z.array(OfflineSlotSchema),
  /** Every slot index still active for this user on this device: the agent drops the slots not listed. */
  activeSlots: z.array(z.number().int().nonnegative()),
  offline: OfflinePolicySchema,
});
export type BundleContent = z.infer<typeof BundleContentSchema>;

/** The context the content is sealed under: a box made for one device, user or sequence opens for no other. */
export function bundleSealContext(h: Pick<BundleHeader, 'deviceId' | 'username' | 'sequence'>): string {
  return `bundle/v1/${h.deviceId}/${h.username}/${h.sequence}`;
}

/** The token code of `step` inside a TokenWindows block, or undefined when the block does not hold it. */
export function windowCode(t: TokenWindows, step: number): string | undefined {
  const i = step - t.firstStep;
  if (i < 0 || (i + 1) * t.digits > t.codes.length) return undefined;
  return t.codes.slice(i * t.digits, (i + 1) * t.digits);
}
