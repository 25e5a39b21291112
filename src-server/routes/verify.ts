import { z } from 'zod';
import { CODE_METHODS, PURPOSES } from '../../src-shared/codes.js';
import { ApiErrorSchema } from '../../src-shared/errors.js';
import type { App } from '../http/app-type.js';
import type { ServerContext } from '../context.js';
import { authenticateApiClient } from '../services/api-clients.js';
import { admissionHook } from '../http/admission.js';
import { sendVerifyFailure, VerifyFailureSchema } from '../http/verify-failure.js';
import { verifyCode } from '../services/verification.js';

const VerifyBody = z.strictObject({
  username: z.string().min(1).max(256),
  code: z
    .string()
    .min(1)
    .max(64)
    .describe('Token code, temporary code or emergency code; spaces, dashes and case do not matter'),
  pin: z.string().min(1).max(128).optional().describe("The user's PIN, where the policy needs it"),
  purpose: z.enum(PURPOSES),
});

/**
 * POST /api/v1/verify for API clients (docs/design.md §4). A failure never says whether the user exists, is inactive, or
 * whether the code or the PIN was wrong: all of that is `invalid_code`, with the reason in the audit log.
 */
export async function verifyRoutes(app: App, ctx: ServerContext): Promise<void> {
  app.post(
    '/api/v1/verify',
    {
      schema: {
        tags: ['verify'],
        summary: 'Check a second factor for a user',
        description: 'Authorization: Bearer <API client key>. PIN and code are checked together.',
        security: [{ clientKey: [] }],
        body: VerifyBody,
        response: {
          200: z.object({ ok: z.literal(true), method: z.enum(CODE_METHODS) }),
          401: VerifyFailureSchema.describe(
            'invalid_code (wrong code or PIN, unknown or inactive user) or unauthorized (bad client key)',
          ),
          403: VerifyFailureSchema.describe(
            'purpose_not_allowed: the code was right but may not be used for this purpose',
          ),
          423: VerifyFailureSchema.describe('locked, with retryAfterSeconds; permanent: only an admin can unlock'),
          429: VerifyFailureSchema.describe(
            'busy, with Retry-After: other attempts of this user are being checked; nothing was checked or counted, send it again',
          ),
          400: ApiErrorSchema,
          503: ApiErrorSchema.describe(
            'unavailable, with Retry-After: the instance is at its limit and checked nothing (no attempt counted)',
          ),
        },
      },
      // Authenticate before the body is even parsed: an unknown caller learns nothing about the schema.
      onRequest: async (req) => {
        req.apiClient = await authenticateApiClient(ctx, req.headers.authorization);
      },
      // The instance's gate (http/admission.ts) once the whole body is in and valid: a connection still sending holds
      // no place, and a shed request costs nothing and counts against nobody.
      preHandler: admissionHook(app.admission),
    },
    async (req, reply) => {
      const client = req.apiClient!;
      const r = await verifyCode(ctx, { ...req.body, channel: { kind: 'client', id: client.clientId } });
      if (r.ok) return { ok: true as const, method: r.method };
      return sendVerifyFailure(reply, r);
    },
  );
}

declare module 'fastify' {
  interface FastifyRequest {
    apiClient?: import('../services/api-clients.js').ApiClientView;
  }
}
