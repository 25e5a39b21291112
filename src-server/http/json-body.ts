import type { FastifyInstance } from 'fastify';
import { LifelineError } from '../../src-shared/errors.js';

/**
 * Deeper than any body of the API (a sync batch, a policy patch: five or six levels). Recursive code after the parser
 * (the device signature's canonical JSON, schema validation) would overflow the stack on a body nested thousands deep
 * and answer 500; a request that deep is refused before it is parsed, whoever sent it.
 */
export const MAX_JSON_DEPTH = 32;

const OPEN_OBJECT = 0x7b; // {
const OPEN_ARRAY = 0x5b; // [
const CLOSE_OBJECT = 0x7d; // }
const CLOSE_ARRAY = 0x5d; // ]
const QUOTE = 0x22; // "
const BACKSLASH = 0x5c; // \

/** Whether the JSON text nests objects and arrays deeper than `max`; brackets inside strings do not count. */
export function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++depth > max) return true;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      depth--;
    }
  }
  return false;
}

/**
 * Replaces Fastify's JSON body parser with the same parser (secure-json-parse, prototype poisoning refused) behind a
 * depth check: `400 bad_request` for a body nested deeper than MAX_JSON_DEPTH.
 */
export function useDepthLimitedJsonParser(
  app: Pick<FastifyInstance, 'getDefaultJsonParser' | 'removeContentTypeParser' | 'addContentTypeParser'>,
): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = body as string;
    if (nestsDeeperThan(text, MAX_JSON_DEPTH)) {
      done(
        new LifelineError('bad_request', `The JSON body is nested more than ${MAX_JSON_DEPTH} levels deep.`, 400),
        undefined,
      );
      return;
    }
    parse(req, text, done);
  });
}
