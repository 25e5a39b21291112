import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { ApiErrorSchema } from '../../src-shared/errors.js';
import type { VerifyResult } from '../services/verification.js';

/** The failure body of every route that verifies a code (verify API, device login): one wording, one schema. */
export const VerifyFailureSchema = ApiErrorSchema.extend({
  ok: z.literal(false).optional(),
  permanent: z.boolean().optional(),
});

type VerifyFailure = Extract<VerifyResult, { ok: false }>;

/** Maps a failed verification to its HTTP answer; never says whether the user, the code or the PIN was wrong. */
export function sendVerifyFailure(reply: FastifyReply, r: VerifyFailure) {
  switch (r.error) {
    case 'invalid_code':
      return reply
        .code(401)
        .send({ ok: false as const, error: 'invalid_code', message: 'The code (or PIN) is not valid.' });
    case 'purpose_not_allowed':
      return reply.code(403).send({
        ok: false as const,
        error: 'purpose_not_allowed',
        message: 'This code may not be used for this purpose.',
      });
    case 'locked':
      reply.header('retry-after', String(r.retryAfterSeconds));
      return reply.code(423).send({
        ok: false as const,
        error: 'locked',
        message: r.permanent
          ? 'Too many failed attempts: ask the helpdesk to unlock.'
          : 'Too many failed attempts: try again later.',
        retryAfterSeconds: r.retryAfterSeconds,
        permanent: r.permanent,
      });
    case 'busy':
      // Not a lock and not counted: other attempts of this user hold every place for the moment (services/lockout.ts).
      reply.header('retry-after', String(r.retryAfterSeconds));
      return reply.code(429).send({
        ok: false as const,
        error: 'busy',
        message: 'Another sign-in for this user is being checked: try again in a moment.',
        retryAfterSeconds: r.retryAfterSeconds,
      });
  }
}
