import { z } from 'zod';
import { ApiErrorSchema } from '../../src-shared/errors.js';
import type { App } from '../http/app-type.js';
import type { ServerContext } from '../context.js';
import { ping } from '../db/queries/health.js';
import { RadiusStatsSchema } from '../radius/server.js';
import { AdmissionStatsSchema } from '../services/admission.js';

/**
 * Load-balancer probes: /healthz says the process answers, /readyz that the database does too, and what this
 * instance's verification gate admitted and shed (monitoring, the storm benchmark), and, where this instance runs
 * RADIUS, its counters: RADIUS drops are silent on the wire (RFC 2865), so this is where a gateway that "times out"
 * shows why. An instance that sheds stays
 * ready: taking it out of the pool would only move its load onto the others.
 */
export async function healthRoutes(app: App, ctx: ServerContext): Promise<void> {
  app.get('/healthz', { schema: { hide: true, response: { 200: z.object({ ok: z.literal(true) }) } } }, async () => ({
    ok: true as const,
  }));
  app.get(
    '/readyz',
    {
      schema: {
        hide: true,
        response: {
          200: z.object({ ok: z.literal(true), admission: AdmissionStatsSchema, radius: RadiusStatsSchema.optional() }),
          503: ApiErrorSchema,
        },
      },
    },
    async (_req, reply) => {
      try {
        await ping(ctx.db);
        const radius = app.radiusStats();
        return { ok: true as const, admission: app.admission.stats(), ...(radius ? { radius } : {}) };
      } catch {
        return reply.code(503).send({ error: 'internal', message: 'The database is not reachable.' });
      }
    },
  );
}
