import * as z from 'zod';

/**
 * Every error that crosses a boundary (HTTP, IPC, CLI) carries one of these stable codes and a human message.
 * Clients branch on the code; the message is for people and may change.
 */
export const ERROR_CODES = [
  'bad_request',
  'validation_failed',
  'body_too_large',
  'unsupported_media_type',
  'not_found',
  'conflict',
  'unauthorized',
  'forbidden',
  'step_up_required',
  'csrf_failed',
  'invalid_credentials',
  'invalid_code',
  'locked',
  'rate_limited',
  'busy',
  'purpose_not_allowed',
  'feature_disabled',
  'not_eligible',
  'policy_violation',
  'weak_verifier_parameters',
  'user_inactive',
  'device_pending',
  'device_revoked',
  'bad_signature',
  'stale_sequence',
  'offline_unavailable',
  'offline_refused',
  'server_unreachable',
  'keychain_unavailable',
  'store_tampered',
  'store_damaged',
  'store_busy',
  'internal',
  'unavailable',
] as const;

export const ErrorCodeSchema = z.enum(ERROR_CODES);
export type ErrorCode = z.infer<typeof ErrorCodeSchema>;

export const ApiErrorSchema = z.object({
  error: ErrorCodeSchema,
  message: z.string(),
  retryAfterSeconds: z.number().int().nonnegative().optional(),
  details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});
export type ApiError = z.infer<typeof ApiErrorSchema>;

/** An error that is safe to show to a client: code, message and the HTTP status it maps to. */
export class LifelineError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly status: number = 400,
    readonly extra: { retryAfterSeconds?: number; details?: ApiError['details'] } = {},
  ) {
    super(message);
    this.name = 'LifelineError';
  }

  toJSON(): ApiError {
    return { error: this.code, message: this.message, ...this.extra };
  }
}
