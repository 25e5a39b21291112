import Fastify, { type FastifyError } from 'fastify';
import fastifySwagger from '@fastify/swagger';
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { LifelineError, type ApiError } from '../src-shared/errors.js';
import type { ServerContext } from './context.js';
import { DatabaseBusyError, isUniqueViolation } from './db/errors.js';
import { silentConnectionCloser } from './http/graceful-close.js';
import { useDepthLimitedJsonParser } from './http/json-body.js';
import { clientErrorHandler, frameworkErrors } from './http/router-errors.js';
import { DEFAULT_HTTP_TIMEOUTS, fastifyTimeoutOptions, type HttpTimeouts } from './http/timeouts.js';
import type { RadiusStats } from './radius/server.js';
import { registerRoutes } from './routes/index.js';
import {
  AdmissionGate,
  defaultAdmissionLimits,
  withinConnections,
  type AdmissionLimits,
} from './services/admission.js';

import type { App } from './http/app-type.js';

export type { App };

export interface AppOptions {
  /** Largest accepted body; every API body is small JSON. */
  bodyLimit?: number;
  /** Proxies whose X-Forwarded-For is believed: addresses, CIDRs or 'loopback'. */
  trustProxy?: boolean | string | string[];
  /** TLS certificate and key (PEM): the server then speaks HTTPS (main.ts --tls-cert/--tls-key). */
  https?: { cert: Buffer; key: Buffer };
  /** Verifications in progress and waiting on this instance (services/admission.ts); defaults from the machine. */
  admission?: AdmissionLimits;
  /** How long a connection may take to send its request or sit idle (http/timeouts.ts); defaults there. */
  timeouts?: HttpTimeouts;
  /** The counters of this instance's RADIUS server, when one runs (it starts after the app): shown on /readyz. */
  radiusStats?: () => RadiusStats | undefined;
}

/**
 * The server as a Fastify instance that tests build and `inject` into or listen on; main.ts is the only place that
 * calls listen(). Errors leave as `{error, message}` with a stable code; nothing internal reaches a client.
 */
export async function buildApp(ctx: ServerContext, options: AppOptions = {}): Promise<App> {
  const { server: serverTimeouts, ...timeouts } = fastifyTimeoutOptions(options.timeouts ?? DEFAULT_HTTP_TIMEOUTS);
  const app = Fastify({
    loggerInstance: ctx.log.child({ component: 'http' }),
    bodyLimit: options.bodyLimit ?? 64 * 1024,
    trustProxy: options.trustProxy ?? false,
    return503OnClosing: true,
    ...timeouts,
    // Node's header timeout and its checking interval are options of the HTTP(S) server itself.
    ...(options.https ? { https: { ...options.https, ...serverTimeouts } } : { http: serverTimeouts }),
    frameworkErrors,
    clientErrorHandler,
  }).withTypeProvider<ZodTypeProvider>();

  const silentConnections = silentConnectionCloser(app.server);
  app.addHook('preClose', (done) => {
    silentConnections.closing();
    done();
  });
  useDepthLimitedJsonParser(app);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const { status, body } = toApiError(err);
    if (status === 503) req.log.warn({ err: { type: err.name } }, 'request refused: database busy');
    else if (status >= 500) req.log.error({ err: { type: err.name, code: err.code } }, 'request failed');
    if (body.retryAfterSeconds !== undefined) reply.header('retry-after', String(body.retryAfterSeconds));
    return reply.code(status).send(body);
  });
  app.decorate(
    'admission',
    new AdmissionGate(withinConnections(options.admission ?? defaultAdmissionLimits(), ctx.db.connections), ctx.log),
  );
  app.decorate('radiusStats', options.radiusStats ?? (() => undefined));
  app.setNotFoundHandler((_req, reply) =>
    reply.code(404).send({ error: 'not_found', message: 'No such resource.' } satisfies ApiError),
  );

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Lifeline Server API', version: '1' },
      components: {
        securitySchemes: {
          adminBearer: {
            type: 'http',
            scheme: 'bearer',
            description: 'Admin session token from POST /api/v1/admin/sessions',
          },
          clientKey: { type: 'http', scheme: 'bearer', description: 'API client key (VPN gateway, portal)' },
        },
      },
    },
    transform: jsonSchemaTransform,
  });

  await registerRoutes(app, ctx);
  app.get('/api/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}

function toApiError(err: FastifyError): { status: number; body: ApiError } {
  if (err instanceof LifelineError) return { status: err.status, body: err.toJSON() };
  if (hasZodFastifySchemaValidationErrors(err)) {
    const details = err.validation.map((v) => ({ path: v.instancePath || '/', message: v.message ?? 'invalid' }));
    return {
      status: 400,
      body: { error: 'validation_failed', message: 'The request does not match the schema.', details },
    };
  }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, body: { error: 'body_too_large', message: 'The request body is too large.' } };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, body: { error: 'unsupported_media_type', message: 'Send application/json.' } };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, body: { error: 'bad_request', message: 'The body is not valid JSON.' } };
  }
  if (err.validation) {
    return { status: 400, body: { error: 'validation_failed', message: 'The request does not match the schema.' } };
  }
  // Overload, not a fault: the request never reached the database, so the client retries after a pause.
  if (err instanceof DatabaseBusyError) {
    return {
      status: 503,
      body: {
        error: 'unavailable',
        message: 'The server is busy; try again shortly.',
        retryAfterSeconds: err.retryAfterSeconds,
      },
    };
  }
  // Two requests (on two instances) that both passed an "exists already?" check: the unique index refused the second.
  if (isUniqueViolation(err))
    return {
      status: 409,
      body: { error: 'conflict', message: 'It was created or changed at the same moment by another request.' },
    };
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return { status: err.statusCode, body: { error: 'bad_request', message: 'The request could not be processed.' } };
  }
  return {
    status: 500,
    body: { error: 'internal', message: 'Something went wrong on the server; it has been logged.' },
  };
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The RADIUS server's counters on this instance, undefined when it runs none (AppOptions.radiusStats). */
    radiusStats: () => RadiusStats | undefined;
  }
}
