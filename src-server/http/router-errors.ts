import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiError } from '../../src-shared/errors.js';

/**
 * Errors raised before a route runs, in the `{error, message}` shape of every other answer: the router's (Fastify's
 * `frameworkErrors`: a malformed percent-escape, a path segment longer than `maxParamLength`) and Node's HTTP parser's
 * (`clientErrorHandler`: a request that took longer than the header or request timeout, headers too large, bytes that
 * are not HTTP). Neither names the path or echoes the input.
 */
export function frameworkErrors(err: FastifyError, _req: FastifyRequest, reply: FastifyReply): void {
  switch (err.code) {
    case 'FST_ERR_BAD_URL':
      void reply
        .code(400)
        .send({ error: 'bad_request', message: 'The URL is not valid (a malformed %-escape).' } satisfies ApiError);
      return;
    case 'FST_ERR_MAX_PARAM_LENGTH':
      void reply.code(414).send({ error: 'bad_request', message: 'A part of the URL is too long.' } satisfies ApiError);
      return;
    default:
      void reply.code(500).send({
        error: 'internal',
        message: 'Something went wrong on the server; it has been logged.',
      } satisfies ApiError);
  }
}

/** Answers a connection Node's parser gave up on, on the socket itself, then closes it. */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  // A reset connection is gone already; there is nobody to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const { status, body } = clientErrorAnswer(err.code);
  const json = JSON.stringify(body);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`,
    );
  }
  socket.destroy();
}

function clientErrorAnswer(code: string | undefined): { status: number; body: ApiError } {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return { status: 408, body: { error: 'bad_request', message: 'The request did not arrive in time.' } };
  if (code === 'HPE_HEADER_OVERFLOW')
    return { status: 431, body: { error: 'bad_request', message: 'The request headers are too large.' } };
  return { status: 400, body: { error: 'bad_request', message: 'The request is not valid HTTP.' } };
}
