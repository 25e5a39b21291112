import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { FastifyReply } from 'fastify';
import type { App } from '../http/app-type.js';
import type { ServerContext } from '../context.js';
import { SESSION_IDLE_MS } from '../services/sessions.js';
import { consoleApiRoutes } from './api.js';

/**
 * The helpdesk console: one static page, its bundle (scripts/build-web.ts) and its stylesheet, under a CSP that
 * allows only this origin's script and style (no inline script, no CDN, no framing), plus the console's read API.
 */
const here = (rel: string) => fileURLToPath(new URL(rel, import.meta.url));
const FILES = {
  html: here('./static/index.html'),
  css: here('./static/console.css'),
  js: here('./dist/console.js'),
};

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

function secureHeaders(reply: FastifyReply, type: string): FastifyReply {
  return reply
    .header('content-type', type)
    .header('content-security-policy', CONSOLE_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer')
    .header('cross-origin-opener-policy', 'same-origin')
    .header('cache-control', 'no-store');
}

export async function consoleRoutes(app: App, ctx: ServerContext): Promise<void> {
  // The page tells the script how long the server keeps an idle session, so the header can show it.
  const html = (await readFile(FILES.html, 'utf8')).replace(
    '{{IDLE_MINUTES}}',
    String(Math.round(SESSION_IDLE_MS / 60_000)),
  );
  const css = await readFile(FILES.css, 'utf8');

  app.get('/console', { schema: { hide: true } }, async (_req, reply) =>
    secureHeaders(reply, 'text/html; charset=utf-8').send(html),
  );
  app.get('/console/', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/console', 301));
  app.get('/console/console.css', { schema: { hide: true } }, async (_req, reply) =>
    secureHeaders(reply, 'text/css; charset=utf-8').send(css),
  );
  app.get('/console/console.js', { schema: { hide: true } }, async (_req, reply) => {
    // Read per request: the bundle is rebuilt beside a running dev server, and is small.
    const js = await readFile(FILES.js, 'utf8').catch(() => undefined);
    if (js === undefined) {
      return secureHeaders(reply.code(503), 'application/json').send({
        error: 'internal',
        message: 'The console is not built: run `npm run build:web`.',
      });
    }
    return secureHeaders(reply, 'text/javascript; charset=utf-8').send(js);
  });
  await consoleApiRoutes(app, ctx);
}
