import { z } from 'zod';
import { CODE_METHODS, PURPOSES } from '../codes.js';
import { BundleDeltaSchema } from './bundle.js';
import {
  DeviceIdSchema,
  EpochMsSchema,
  NonceSchema,
  signedSchema,
  StepSchema,
  UsernameSchema,
  VersionSchema,
} from './common.js';
import { WipeOrderSchema } from './sync.js';

/**
 * POST /api/v1/devices/login (device-signed). Checked exactly as /api/v1/verify (lockout, replay, audit). On success
 * the answer carries a signed `result` bound to the request nonce; an approved device that logged in with the
 * user's normal token also gets a bundle delta. `held` tells the server what the agent already holds, so the delta
 * carries only new windows; the server ignores it when the generations no longer match.
 */
export const HeldStateSchema = z.strictObject({
  /** The last token window the agent holds verifiers for. */
  throughStep: StepSchema,
  tokenGeneration: z.number().int().nonnegative(),
  pinGeneration: z.number().int().nonnegative(),
  /** The slot indexes the agent holds unused. */
  slots: z.array(z.number().int().nonnegative()).max(100).default([]),
});
export type HeldState = z.infer<typeof HeldStateSchema>;

export const DeviceLoginRequestSchema = z.strictObject({
  v: VersionSchema,
  username: z.string().min(1).max(128),
  pin: z.string().max(128).optional(),
  code: z.string().min(1).max(64),
  purpose: z.enum(PURPOSES),
  held: HeldStateSchema.optional(),
});
export type DeviceLoginRequest = z.infer<typeof DeviceLoginRequestSchema>;

export const LoginResultSchema = z.strictObject({
  v: VersionSchema,
  deviceId: DeviceIdSchema,
  /** The nonce of the request this answers: a result cannot be replayed to another login. */
  requestNonce: NonceSchema,
  username: UsernameSchema,
  method: z.enum(CODE_METHODS),
  purpose: z.enum(PURPOSES),
  /** Present after a temporary code: a multi-use one may be cached as a PIN-bound verifier until expiresAt. */
  temporary: z.strictObject({ multiUse: z.boolean(), expiresAt: EpochMsSchema }).optional(),
  /** The user's PIN generation now: the agent records it with a cached temporary-code verifier (PIN-bound). */
  pinGeneration: z.number().int().nonnegative().optional(),
  deviceStatus: z.enum(['pending', 'approved']),
  serverTime: EpochMsSchema,
});
export type LoginResult = z.infer<typeof LoginResultSchema>;

export const DeviceLoginResponseSchema = z.strictObject({
  ok: z.literal(true),
  result: signedSchema(LoginResultSchema),
  bundle: BundleDeltaSchema.optional(),
});

/** A revoked device gets this (HTTP 403) to every signed request, and nothing else. */
export const DeviceRevokedResponseSchema = z.strictObject({
  error: z.literal('device_revoked'),
  message: z.string(),
  wipe: signedSchema(WipeOrderSchema),
});
