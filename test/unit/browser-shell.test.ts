import { request as httpRequest } from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROWSER_SESSION_HEADER, IPC_CONTRACT, type AgentApi } from '../../src-shared/ipc.js';
import { startBrowserShell, type BrowserShell } from '../../src-main/browser-shell/server.js';

/**
 * The browser shell's door, over real HTTP on loopback. The core is a recording stand-in: these requests are
 * refused before any core would see them, which is what `reached` proves.
 */

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function send(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: options.method ?? 'GET', headers: options.headers, setHost: !options.headers?.host },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

const reached: string[] = [];
const api = Object.fromEntries(
  Object.values(IPC_CONTRACT).map(({ method }) => [
    method,
    async () => (
      reached.push(method),
      { ok: true, osUsername: 'alice', serverUrl: 'https://x', kiosk: false, version: '0' }
    ),
  ]),
) as unknown as AgentApi;

let shell: BrowserShell;
let host: string;
/** The header the page sends its session id in. */
let session: Record<string, string>;

function launchToken(): string {
  return new URL(shell.newLaunchUrl()).hash.replace('#launch=', '');
}

async function exchange(token: string, headers: Record<string, string> = {}): Promise<Reply> {
  return send(`${shell.origin}/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: shell.origin, ...headers },
    body: JSON.stringify({ token }),
  });
}

function ipc(channel: string, headers: Record<string, string>, body = '{}'): Promise<Reply> {
  return send(`${shell.origin}/ipc/${channel}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
}

beforeAll(async () => {
  shell = await startBrowserShell({ api, rendererDir: path.resolve('src-renderer') });
  host = new URL(shell.origin).host;
  const res = await exchange(launchToken());
  session = { [BROWSER_SESSION_HEADER]: (JSON.parse(res.body) as { session: string }).session };
});
afterAll(() => shell.close());

describe('browser shell', () => {
  it('listens on 127.0.0.1 only', () => {
    expect(new URL(shell.origin).hostname).toBe('127.0.0.1');
  });

  it('keeps the launch token out of the query and path, and trades it once for a session id in the body, never a cookie', async () => {
    const url = new URL(shell.newLaunchUrl());
    expect(url.search).toBe('');
    expect(url.pathname).toBe('/');
    const token = url.hash.replace('#launch=', '');
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const first = await exchange(token);
    expect(first.status).toBe(200);
    expect(first.headers['set-cookie']).toBeUndefined();
    expect(JSON.parse(first.body)).toMatchObject({ ok: true, session: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    const second = await exchange(token);
    expect(second.status).toBe(401);
    expect(JSON.parse(second.body)).toMatchObject({ ok: false, error: 'unauthorized' });
  });

  it('refuses a wrong launch token and a token exchange from a foreign origin', async () => {
    expect((await exchange('A'.repeat(43))).status).toBe(401);
    const token = launchToken();
    expect((await exchange(token, { origin: 'http://evil.example' })).status).toBe(403);
    expect((await exchange(token)).status).toBe(200); // the refused attempt did not burn it
  });

  it('refuses a launch token past its lifetime', async () => {
    const shortLived = await startBrowserShell({ api, rendererDir: path.resolve('src-renderer'), launchTokenTtlMs: 1 });
    try {
      const token = new URL(shortLived.newLaunchUrl()).hash.replace('#launch=', '');
      await new Promise((resolve) => setTimeout(resolve, 20));
      const res = await send(`${shortLived.origin}/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: shortLived.origin },
        body: JSON.stringify({ token }),
      });
      expect(res.status).toBe(401);
    } finally {
      await shortLived.close();
    }
  });

  it('answers a request with the session header from its own origin', async () => {
    reached.length = 0;
    const res = await ipc('agent:config', { ...session, origin: shell.origin });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ ok: true, osUsername: 'alice' });
    expect(reached).toEqual(['config']);
  });

  it('refuses a request without the session header, with a wrong one, a foreign Origin, a foreign Host or no Origin', async () => {
    reached.length = 0;
    const cases: Array<[string, Record<string, string>, number]> = [
      ['no session header', { origin: shell.origin }, 401],
      ['forged session header', { origin: shell.origin, [BROWSER_SESSION_HEADER]: 'x'.repeat(43) }, 401],
      [
        'session id as a cookie',
        { origin: shell.origin, cookie: `lifeline_agent=${session[BROWSER_SESSION_HEADER]}` },
        401,
      ],
      ['foreign origin', { origin: 'http://evil.example', ...session }, 403],
      ['null origin', { origin: 'null', ...session }, 403],
      ['localhost origin', { origin: shell.origin.replace('127.0.0.1', 'localhost'), ...session }, 403],
      ['no origin', { ...session }, 403],
      ['cross-site fetch', { origin: shell.origin, ...session, 'sec-fetch-site': 'cross-site' }, 403],
      ['rebound host', { origin: shell.origin, ...session, host: `evil.example:${new URL(shell.origin).port}` }, 421],
      ['localhost host', { origin: shell.origin, ...session, host: `localhost:${new URL(shell.origin).port}` }, 421],
    ];
    for (const [name, headers, status] of cases) {
      const res = await ipc('agent:login', headers, JSON.stringify({ username: 'a', pin: 'p', code: 'c' }));
      expect(res.status, name).toBe(status);
      expect(JSON.parse(res.body), name).toMatchObject({ ok: false });
    }
    expect(reached).toEqual([]);
  });

  it('refuses a page or asset requested under a foreign Host (DNS rebinding)', async () => {
    expect((await send(`${shell.origin}/`, { headers: { host: 'evil.example' } })).status).toBe(421);
    expect((await send(`${shell.origin}/`, { headers: { host } })).status).toBe(200);
  });

  it('validates every payload with the contract and refuses non-JSON, oversized and unknown channels', async () => {
    reached.length = 0;
    const ok = { ...session, origin: shell.origin };
    expect(JSON.parse((await ipc('agent:login', ok, '{"username":"a"}')).body)).toMatchObject({
      ok: false,
      error: 'validation_failed',
    });
    expect(JSON.parse((await ipc('agent:status', ok, '{"x":1}')).body)).toMatchObject({
      ok: false,
      error: 'validation_failed',
    });
    expect((await ipc('agent:login', ok, 'not json')).status).toBe(400);
    expect((await ipc('agent:login', { ...ok, 'content-type': 'text/plain' })).status).toBe(415);
    expect((await ipc('agent:login', ok, JSON.stringify({ username: 'a'.repeat(20_000) }))).status).toBe(413);
    expect(JSON.parse((await ipc('agent:nope', ok)).body)).toMatchObject({ ok: false, error: 'not_found' });
    expect((await ipc('agent:login/x', ok)).status).toBe(404);
    expect(reached).toEqual([]);
  });

  it('serves only the renderer assets, with the CSP and no-store', async () => {
    const page = await send(`${shell.origin}/`);
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    expect(page.headers['cache-control']).toBe('no-store');
    for (const p of ['/package.json', '/../package.json', '/dist/renderer.js', '/index.ts', '/%2e%2e/package.json']) {
      expect((await send(`${shell.origin}${p}`)).status, p).toBe(404);
    }
  });
});
