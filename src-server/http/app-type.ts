import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';

/**
 * The Fastify instance every route module registers on, with zod schemas as the type provider. A module of its own
 * so that route modules depend on the type and not on app.ts, which imports them (no import circle). The raw server
 * types stay open because the same app runs on node:http or node:https (--tls-cert).
 */
export type App = FastifyInstance<any, any, any, any, ZodTypeProvider>; // eslint-disable-line @typescript-eslint/no-explicit-any
