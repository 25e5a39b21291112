import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Protocol } from 'electron';
import { RENDERER_ASSETS, RENDERER_CSP } from '../../src-shared/ipc.js';
import { APP_HOST, APP_SCHEME } from './security.js';

/**
 * The renderer is served from app://lifeline, never file:// (a file:// page could read any file the user can).
 * Only the fixed list of assets is served; no path from a URL reaches the file system.
 */

/** Must run before `app.ready`: a standard, secure scheme gets an origin, so CSP 'self' and fetch work. */
export function registerAppScheme(protocol: Pick<Protocol, 'registerSchemesAsPrivileged'>): void {
  protocol.registerSchemesAsPrivileged([
    {
      scheme: APP_SCHEME,
      privileges: { standard: true, secure: true, supportFetchAPI: true, corsEnabled: false, stream: false },
    },
  ]);
}

export async function rendererResponse(rendererDir: string, requestUrl: string): Promise<Response> {
  const url = new URL(requestUrl);
  const asset =
    url.host === APP_HOST && Object.hasOwn(RENDERER_ASSETS, url.pathname) ? RENDERER_ASSETS[url.pathname] : undefined;
  if (!asset) return new Response('not found', { status: 404, headers: { 'content-type': 'text/plain' } });
  const bytes = await readFile(path.join(rendererDir, asset.file));
  return new Response(bytes, {
    status: 200,
    headers: {
      'content-type': asset.type,
      'content-security-policy': RENDERER_CSP,
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-store',
    },
  });
}

export function serveRenderer(protocol: Pick<Protocol, 'handle'>, rendererDir: string): void {
  protocol.handle(APP_SCHEME, (request) => rendererResponse(rendererDir, request.url));
}
