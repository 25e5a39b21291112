import { z } from 'zod';
import { ApiErrorSchema } from '../../src-shared/errors.js';

/** OpenAPI `security` for routes behind adminGuard (bearer for API callers; the console uses its cookie). */
export const ADMIN_SECURITY = [{ adminBearer: [] }];

/** The error responses an admin route can give, documented once. */
export const ADMIN_ERRORS = {
  400: ApiErrorSchema.describe('Bad input (validation_failed, bad_request, policy_violation)'),
  401: ApiErrorSchema.describe('Not signed in, or the session ended (unauthorized)'),
  403: ApiErrorSchema.describe(
    'Missing permission (forbidden), high assurance needed (step_up_required) or CSRF token missing (csrf_failed)',
  ),
  404: ApiErrorSchema.describe('No such resource (not_found)'),
  409: ApiErrorSchema.describe('Conflicts with the current state (conflict)'),
} as const;

export const UsernameParam = z.strictObject({
  username: z.string().min(1).max(256).describe('The username (normalised: NFC, trimmed, lower case)'),
});

/**
 * A time filter in epoch ms, within what a JavaScript Date holds (±8.64e15 ms): a larger one would pass a plain integer
 * check and throw when it becomes a Date (a 500), so it is refused as bad input.
 */
export const EpochMsQuery = z.coerce.number().int().min(0).max(8.64e15);

export const OkSchema = z.object({ ok: z.literal(true) });
