import { z } from 'zod';
import { PURPOSES } from './codes.js';
import { VERIFIER_SCRYPT_FLOOR } from './verifier-floor.js';

/**
 * Enterprise settings and per-user policies (docs/design.md §3), with their defaults. The server stores them as JSON and
 * parses them through these schemas; the agent receives `offline` inside signed bundles.
 */
const MINUTE = 1;
const DAY = 24 * 60 * MINUTE;

export const TOKEN_BEHAVIOURS = ['deny-token', 'allow-and-disable-codes', 'allow-after-codes-expire'] as const;

export const ScryptParamsSchema = z.strictObject({
  N: z
    .number()
    .int()
    .min(2 ** 4)
    .max(2 ** 20)
    .refine((n) => (n & (n - 1)) === 0, 'N must be a power of two'),
  r: z.number().int().min(1).max(32),
  p: z.number().int().min(1).max(4),
});

export const OfflinePolicySchema = z.strictObject({
  allowed: z.boolean().default(true),
  /** Days of token windows downloaded ahead (RSA 'days of offline authentication data'). */
  days: z.number().int().min(1).max(30).default(7),
  /** Days without contacting the server after which the agent refuses offline logins. */
  maxDaysWithoutContact: z.number().int().min(1).max(90).default(14),
  emergencySlotsPerDevice: z.number().int().min(0).max(20).default(5),
  slotLifetimeDays: z.number().int().min(1).max(365).default(90),
  maxOfflineFailures: z.number().int().min(3).max(100).default(10),
  devicesNeedApproval: z.boolean().default(true),
  /** RSA's 'use offline code for online access'; off by default: one code could then be used on both sides of a sync. */
  emergencyCodeOnline: z.boolean().default(false),
  /** Verifier hashing on the agent; never below VERIFIER_SCRYPT_FLOOR (the server and the agent both refuse it). */
  verifierScrypt: ScryptParamsSchema.default({ ...VERIFIER_SCRYPT_FLOOR }),
});

export const TemporaryCodePolicySchema = z
  .strictObject({
    allowed: z.boolean().default(true),
    minLifetimeMinutes: z
      .number()
      .int()
      .min(1)
      .default(5 * MINUTE),
    maxLifetimeMinutes: z
      .number()
      .int()
      .min(1)
      .max(30 * DAY)
      .default(14 * DAY),
    defaultLifetimeMinutes: z.number().int().min(1).default(DAY),
    multiUseAllowed: z.boolean().default(true),
    codeLength: z.number().int().min(8).max(24).default(12),
    pinRequired: z.boolean().default(true),
    purposes: z.array(z.enum(PURPOSES)).min(1).default(['logon', 'unlock', 'remote-access']),
    revokeOnTokenSuccess: z.boolean().default(true),
    maxPerHour: z.number().int().min(1).max(6).default(6),
  })
  .refine((t) => t.minLifetimeMinutes <= t.defaultLifetimeMinutes && t.defaultLifetimeMinutes <= t.maxLifetimeMinutes, {
    message: 'temporary code lifetimes must satisfy min ≤ default ≤ max',
  });

export const LockoutPolicySchema = z.strictObject({
  maxFailures: z.number().int().min(1).max(10).default(3),
  lockMinutes: z
    .number()
    .int()
    .min(1)
    .max(24 * 60)
    .default(15),
  /** Lock periods without a success before only an admin can unlock (≤ 100 failures ever, NIST 800-63B §5.2.2). */
  maxLockPeriods: z.number().int().min(1).max(100).default(10),
});

export const EmergencyPolicySchema = z.strictObject({
  maxCount: z.number().int().min(1).max(100).default(10),
  defaultExpiresInHours: z
    .number()
    .int()
    .min(1)
    .max(24 * 365)
    .nullable()
    .default(72),
  tokenBehaviour: z.enum(TOKEN_BEHAVIOURS).default('deny-token'),
});

export const PolicySchema = z
  .strictObject({
    temporaryCodes: TemporaryCodePolicySchema.default(TemporaryCodePolicySchema.parse({})),
    enrollmentAllowed: z.boolean().default(true),
    lockout: LockoutPolicySchema.default(LockoutPolicySchema.parse({})),
    pin: z
      .strictObject({ required: z.boolean().default(true), minLength: z.number().int().min(4).max(64).default(6) })
      .default({ required: true, minLength: 6 }),
    offline: OfflinePolicySchema.default(OfflinePolicySchema.parse({})),
    emergencyCodes: EmergencyPolicySchema.default(EmergencyPolicySchema.parse({})),
    /** Devices are approved without an admin (only where offline data is not at stake). */
    autoApproveDevices: z.boolean().default(false),
  })
  .refine((p) => !p.offline.allowed || p.pin.required, {
    message: 'a PIN is required wherever offline access is allowed',
    path: ['pin', 'required'],
  })
  .refine((p) => p.pin.minLength >= 6 || !p.pin.required, {
    message: 'PINs are at least 6 characters',
    path: ['pin', 'minLength'],
  });
export type Policy = z.infer<typeof PolicySchema>;

export const DEFAULT_POLICY: Policy = PolicySchema.parse({});

export const EnterpriseSettingsSchema = z.strictObject({
  /** Off until a permitted admin turns it on (Imprivata: disabled for the enterprise by default). */
  temporaryCodesEnabled: z.boolean().default(false),
  offlineEnabled: z.boolean().default(true),
  emergencyCodesEnabled: z.boolean().default(true),
});
export type EnterpriseSettings = z.infer<typeof EnterpriseSettingsSchema>;
export const DEFAULT_SETTINGS: EnterpriseSettings = EnterpriseSettingsSchema.parse({});
