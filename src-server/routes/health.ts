import { z } from 'zod';
import type { App } from '../app.js';
import type { ServerContext } from '../context.js';

/** Load-balancer probes: /healthz says the process answers, /readyz that the database does too. */
export async function healthRoutes(app: App, ctx: ServerContext): Promise<void> {
  app.get('/healthz', { schema: { hide: true, response: { 200: z.object({ ok: z.literal(true) }) } } }, async () => ({ ok: true as const }));
  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    try {
      await ctx.db.get('SELECT 1 AS one');
      return { ok: true };
    } catch {
      return reply.code(503).send({ error: 'internal', message: 'The database is not reachable.' });
    }
  });
}
