import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiError } from '../../src-shared/errors.js';
import type { AdmissionGate, Release } from '../services/admission.js';

/** The 503 of a shed verification: nothing was decided, nothing counted; the caller may come back or go offline. */
export const SHED_MESSAGE =
  'The server is busy and did not check the code; try again shortly (an agent verifies offline meanwhile).';

/**
 * The preHandler hook of a gated route, which runs once the body is read and validated and the caller authenticated
 * (a slow or unauthenticated connection never holds a place): waits for a place in the instance's gate
 * (services/admission.ts), or answers 503 `unavailable` with Retry-After. The place is given back when the response closes, which Node signals once for
 * every response however it ends (sent, an error answer from a later hook, the client gone); a client that goes away
 * while waiting leaves the queue.
 */
export function admissionHook(gate: AdmissionGate) {
  return async function admit(_req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const closed = new AbortController();
    let release: Release | null = null;
    reply.raw.once('close', () => {
      closed.abort();
      release?.();
    });
    release = await gate.enter(closed.signal);
    if (release) {
      if (closed.signal.aborted) release(); // closed in the very moment it was admitted
      return undefined;
    }
    const retryAfterSeconds = gate.retryAfterSeconds;
    reply.header('retry-after', String(retryAfterSeconds));
    return reply.code(503).send({ error: 'unavailable', message: SHED_MESSAGE, retryAfterSeconds } satisfies ApiError);
  };
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The verification gate of this instance (app.ts), shared by the verify and device login routes. */
    admission: AdmissionGate;
  }
}
