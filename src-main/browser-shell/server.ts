import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import {
  BROWSER_SESSION_HEADER,
  dispatchIpc,
  ipcFailure,
  RENDERER_ASSETS,
  RENDERER_CSP,
  type AgentApi,
  type IpcFailure,
} from '../../src-shared/ipc.js';

/**
 * The browser shell: the agent's renderer and the IPC contract over HTTP on 127.0.0.1, for development and tests
 * where Electron's binary is not installed (docs/design.md §5). It is not part of packaged builds.
 *
 * Who may call it: only the page opened with the launch URL. The URL carries a random one-time token in its
 * fragment (never sent to a server, never logged); the page strips it from the address bar and history, then
 * trades it once (POST /session, token in the body) for a session id in the answer's body. The page keeps that id in
 * sessionStorage (scoped to this origin, port included) and sends it in the BROWSER_SESSION_HEADER on every call.
 * Not a cookie: a browser sends the cookies of 127.0.0.1 to every port of 127.0.0.1 (RFC 6265 §8.5), so any other
 * local server the browser visits would receive it. Every request must also name this listener in Host (so a
 * DNS-rebound name is refused) and, when it has one, come from this origin.
 */

export interface BrowserShellOptions {
  api: AgentApi;
  /** Folder holding index.html, app.css and dist/renderer.js. */
  rendererDir: string;
  /** 0 picks a free port. */
  port?: number;
  /** How long a launch token stays valid before it is exchanged. */
  launchTokenTtlMs?: number;
}

export interface BrowserShell {
  /** http://127.0.0.1:<port> */
  origin: string;
  /** A fresh one-time launch URL (origin + '/#launch=<token>'); each can be exchanged for a session once. */
  newLaunchUrl(): string;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 16 * 1024;
const HOST = '127.0.0.1';

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': RENDERER_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'x-frame-options': 'DENY',
};

/** Tokens and session ids are kept as SHA-256 digests: the comparison is constant time and memory holds no live value. */
function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Compares against every stored digest (no early exit), so timing says nothing about which one matched. */
function holds(digests: Iterable<string>, value: string): boolean {
  const wanted = digest(value);
  let found = false;
  for (const stored of digests) found = timingSafeEqual(Buffer.from(stored, 'hex'), wanted) || found;
  return found;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(text);
}

function refuse(res: ServerResponse, status: number, failure: IpcFailure): void {
  send(res, status, failure);
}

async function readJson(
  req: IncomingMessage,
): Promise<{ ok: true; value: unknown } | { ok: false; failure: IpcFailure; status: number }> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type))
    return { ok: false, status: 415, failure: ipcFailure('unsupported_media_type', 'Send application/json.') };
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES)
      return { ok: false, status: 413, failure: ipcFailure('body_too_large', 'The request body is too large.') };
    chunks.push(chunk as Buffer);
  }
  try {
    return { ok: true, value: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown };
  } catch {
    return { ok: false, status: 400, failure: ipcFailure('bad_request', 'The body is not valid JSON.') };
  }
}

export async function startBrowserShell(options: BrowserShellOptions): Promise<BrowserShell> {
  const ttl = options.launchTokenTtlMs ?? 10 * 60_000;
  const launchTokens = new Map<string, number>(); // sha256 hex → expiry
  const sessions = new Set<string>(); // sha256 hex; a session lives as long as this process
  let origin = '';
  let hostHeader = '';

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) refuse(res, 500, ipcFailure('internal', 'The shell failed unexpectedly.'));
      else res.end();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // DNS rebinding: a page on evil.example that rebinds its name to 127.0.0.1 still sends Host: evil.example.
    if (req.headers.host !== hostHeader) return refuse(res, 421, ipcFailure('forbidden', 'Wrong Host header.'));
    // Any request that says where it comes from must come from here; fetch() from the page always says so.
    const requestOrigin = req.headers.origin;
    if (requestOrigin !== undefined && requestOrigin !== origin)
      return refuse(res, 403, ipcFailure('forbidden', 'Foreign origin.'));
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none')
      return refuse(res, 403, ipcFailure('forbidden', 'Cross-site request.'));

    const url = new URL(req.url ?? '/', origin);
    if (req.method === 'GET' || req.method === 'HEAD') return serveAsset(url.pathname, req, res);
    if (req.method !== 'POST') return refuse(res, 405, ipcFailure('bad_request', 'Method not allowed.'));
    // State-changing requests must carry the Origin header: browsers always send it on POST fetches.
    if (requestOrigin !== origin) return refuse(res, 403, ipcFailure('forbidden', 'Missing origin.'));

    if (url.pathname === '/session') return exchangeLaunchToken(req, res);
    const match = /^\/ipc\/([a-z:-]{1,64})$/.exec(url.pathname);
    if (!match) return refuse(res, 404, ipcFailure('not_found', 'No such resource.'));
    const session = req.headers[BROWSER_SESSION_HEADER];
    if (typeof session !== 'string' || !holds(sessions, session))
      return refuse(res, 401, ipcFailure('unauthorized', 'Open the agent with the link it printed at launch.'));
    const body = await readJson(req);
    if (!body.ok) return refuse(res, body.status, body.failure);
    send(res, 200, await dispatchIpc(options.api, match[1]!, body.value));
  }

  async function serveAsset(pathname: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const asset = Object.hasOwn(RENDERER_ASSETS, pathname) ? RENDERER_ASSETS[pathname] : undefined;
    if (!asset) return refuse(res, 404, ipcFailure('not_found', 'No such resource.'));
    const bytes = await readFile(path.join(options.rendererDir, asset.file));
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': asset.type, 'content-length': String(bytes.length) });
    res.end(req.method === 'HEAD' ? undefined : bytes);
  }

  async function exchangeLaunchToken(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJson(req);
    if (!body.ok) return refuse(res, body.status, body.failure);
    const token = (body.value as { token?: unknown } | null)?.token;
    const now = Date.now();
    for (const [stored, expiresAt] of launchTokens) if (expiresAt <= now) launchTokens.delete(stored);
    if (typeof token !== 'string' || token.length > 128 || !holds(launchTokens.keys(), token)) {
      return refuse(
        res,
        401,
        ipcFailure('unauthorized', 'This launch link was already used or has expired; ask for a new one.'),
      );
    }
    launchTokens.delete(digest(token).toString('hex')); // exchanged once
    const sessionId = randomBytes(32).toString('base64url');
    sessions.add(digest(sessionId).toString('hex'));
    send(res, 200, { ok: true, session: sessionId });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, HOST, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  origin = `http://${HOST}:${port}`;
  hostHeader = `${HOST}:${port}`;

  return {
    origin,
    newLaunchUrl() {
      const token = randomBytes(32).toString('base64url');
      launchTokens.set(digest(token).toString('hex'), Date.now() + ttl);
      return `${origin}/#launch=${token}`;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
