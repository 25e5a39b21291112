import { z } from 'zod';
import { DeviceIdSchema, EpochMsSchema, Sha256HexSchema, UsernameSchema } from './common.js';
import { DeviceStatusSchema } from './enroll.js';

/** Admin API of devices and offline emergency access (console and API clients). */
export const DeviceSummarySchema = z.strictObject({
  deviceId: DeviceIdSchema,
  hostname: z.string(),
  status: DeviceStatusSchema,
  agentVersion: z.string(),
  machineIdHash: Sha256HexSchema,
  signingKeyFingerprint: Sha256HexSchema,
  enrolledAt: EpochMsSchema,
  approvedAt: EpochMsSchema.nullable(),
  approvedBy: z.string().nullable(),
  revokedAt: EpochMsSchema.nullable(),
  revokedBy: z.string().nullable(),
  lastSeenAt: EpochMsSchema.nullable(),
  /** Users whose offline data this device has received. */
  users: z.array(UsernameSchema),
});
export type DeviceSummary = z.infer<typeof DeviceSummarySchema>;

export const DeviceListQuerySchema = z.strictObject({
  status: DeviceStatusSchema.optional(),
  q: z.string().max(255).optional(),
});
export const DeviceListResponseSchema = z.strictObject({ devices: z.array(DeviceSummarySchema) });

export const DeviceParamsSchema = z.strictObject({ device: DeviceIdSchema });

export const ResetOfflineRequestSchema = z.strictObject({
  /** Only this user's slots; all users of the device when absent. */
  username: z.string().min(1).max(128).optional(),
});
export const ResetOfflineResponseSchema = z.strictObject({ retiredSlots: z.number().int().nonnegative() });

export const EnrollmentSecretResponseSchema = z.strictObject({ enrollmentSecret: z.string() });

export const EmergencyAccessRequestSchema = z.strictObject({
  /** The request the agent shows (16 symbols, any formatting). */
  request: z.string().min(1).max(64),
  reason: z.string().trim().min(3).max(500),
});
export const EmergencyAccessResponseSchema = z.strictObject({
  username: UsernameSchema,
  device: DeviceIdSchema,
  hostname: z.string(),
  slot: z.number().int().nonnegative(),
  /** The slot code, formatted in groups of four for reading aloud. Shown once. */
  code: z.string(),
  expiresAt: EpochMsSchema,
});
export type EmergencyAccessResponse = z.infer<typeof EmergencyAccessResponseSchema>;
