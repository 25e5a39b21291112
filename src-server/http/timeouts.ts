import { z } from 'zod';

/**
 * How long the server waits on a connection. Without these bounds a client that sends its headers and then one byte
 * a minute holds its socket (and, were anything reserved before the body arrived, that too) for as long as it likes;
 * Node's own defaults are 60 s for the headers and 5 minutes for a request, checked only every 30 s. Places in the
 * verification gate are never held by a connection that is still sending (http/admission.ts), so these bound
 * sockets and memory, not verification.
 */
export const HttpTimeoutsSchema = z
  .strictObject({
    /** From the connection (or the previous request) until the request's headers have arrived (Node `headersTimeout`). */
    headersMs: z.number().int().min(100).max(600_000),
    /** From the connection until the whole request, body included, has arrived (`requestTimeout`); a 1 MiB sync fits. */
    requestMs: z.number().int().min(100).max(600_000),
    /** No byte either way on a connection with a request in progress, while it arrives or while it is answered (`connectionTimeout`). */
    idleMs: z.number().int().min(100).max(600_000),
    /** How long a keep-alive connection may sit between requests (`keepAliveTimeout`). */
    keepAliveMs: z.number().int().min(100).max(600_000),
  })
  // Node refuses a header timeout longer than the request timeout: the headers are part of the request.
  .refine((t) => t.headersMs <= t.requestMs, {
    message: 'the headers timeout cannot be longer than the request timeout',
    path: ['headersMs'],
  });
export type HttpTimeouts = z.infer<typeof HttpTimeoutsSchema>;

/**
 * Ten seconds for headers and thirty for a whole request are long for the API's small bodies on any real network;
 * the idle bound outlasts the slowest answer (a device login's bundle under load); the keep-alive time is Fastify's
 * default, above the 60 s idle timeout of common balancers so that the server never closes a connection a balancer
 * is about to reuse.
 */
export const DEFAULT_HTTP_TIMEOUTS: HttpTimeouts = {
  headersMs: 10_000,
  requestMs: 30_000,
  idleMs: 60_000,
  keepAliveMs: 72_000,
};

/** The defaults overlaid with what the operator gave, checked as a whole (a header timeout past the request's is refused). */
export function resolveHttpTimeouts(given: { [K in keyof HttpTimeouts]?: number | undefined }) {
  const defined = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
  return HttpTimeoutsSchema.safeParse({ ...DEFAULT_HTTP_TIMEOUTS, ...defined });
}

/**
 * The Fastify options (and Node server options) that apply the timeouts. Node checks the header and request timeouts
 * on a timer (30 s by default, which would stretch a 10 s timeout to 40 s); it runs here at most a second apart.
 */
export function fastifyTimeoutOptions(t: HttpTimeouts): {
  connectionTimeout: number;
  requestTimeout: number;
  keepAliveTimeout: number;
  server: { headersTimeout: number; requestTimeout: number; connectionsCheckingInterval: number };
} {
  return {
    connectionTimeout: t.idleMs,
    requestTimeout: t.requestMs,
    keepAliveTimeout: t.keepAliveMs,
    server: {
      headersTimeout: t.headersMs,
      requestTimeout: t.requestMs,
      connectionsCheckingInterval: Math.min(1_000, Math.ceil(t.headersMs / 2)),
    },
  };
}
