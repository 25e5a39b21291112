import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { existsSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from '@playwright/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowserShell, type LaunchedAgent } from '../../../src-main/browser-shell/launch.js';
import { BROWSER_SESSION_HEADER } from '../../../src-shared/ipc.js';
import { agentDeps, testKeychain } from './support.js';

/**
 * The browser shell's session, attacked from another port of 127.0.0.1. Browsers send a host's cookies to every
 * port of that host (RFC 6265 §8.5), so a session kept in a cookie reached any other local server the browser
 * visited, which could replay it. Real Chromium opens the real prompt (real agent core, real keychain); a second
 * local server records what the same browser sends it and replays that to the shell.
 */

const RENDERER_DIR = path.resolve(import.meta.dirname, '../../../src-renderer');
const CHROMIUM = '/usr/bin/chromium';

let agent: LaunchedAgent;
let browser: Browser;
let other: Server;
let otherOrigin: string;
let dataDir: string;
const seenByOther: IncomingHttpHeaders[] = [];

function post(
  url: string,
  headers: Record<string, string>,
  body = '{}',
): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: 'POST', headers: { 'content-type': 'application/json', ...headers } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'lifeline-shell-token-'));
  agent = await launchBrowserShell({ deps: agentDeps(dataDir, testKeychain()), rendererDir: RENDERER_DIR });
  other = createServer((req, res) => {
    seenByOther.push(req.headers);
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>another local server</title>');
  });
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
  otherOrigin = `http://127.0.0.1:${(other.address() as { port: number }).port}`;
  const isRoot = process.getuid?.() === 0;
  browser = await chromium.launch({
    headless: true,
    ...(existsSync(CHROMIUM) ? { executablePath: CHROMIUM } : {}),
    args: [...(isRoot ? ['--no-sandbox'] : []), '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (other ? other.close(() => resolve()) : resolve()));
  await agent?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('browser shell session', () => {
  it('works in the real page, survives a reload, and gives another port of 127.0.0.1 nothing it can replay', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(agent.shell.newLaunchUrl());
      await page.waitForSelector('body[data-ready="true"]');
      // The prompt is filled from the core's answer: the page's session works.
      expect(await page.getByLabel('Username').inputValue()).toBe(userInfo().username);
      await page.reload();
      await page.waitForSelector('body[data-ready="true"]');
      expect(await page.getByLabel('Username').inputValue()).toBe(userInfo().username);

      // The same browser then visits another local server: whatever it is sent is all that server can replay.
      await page.goto(`${otherOrigin}/`);
      // (Chromium may also ask for /favicon.ico: every request it sent there counts.)
      expect(seenByOther.length).toBeGreaterThanOrEqual(1);
      const jar = seenByOther.find((headers) => headers.cookie !== undefined)?.cookie;
      expect(jar).toBeUndefined();
      for (const headers of seenByOther) expect(Object.keys(headers)).not.toContain(BROWSER_SESSION_HEADER);

      // Replayed with every header a client can forge (this shell's Origin and Host), the jar opens nothing.
      const replay = await post(`${agent.shell.origin}/ipc/agent:config`, {
        origin: agent.shell.origin,
        ...(jar ? { cookie: jar } : {}),
      });
      expect(replay.status).toBe(401);
      expect(replay.body).toMatchObject({ ok: false, error: 'unauthorized' });
      // And the other port's page, in the browser, cannot call the shell either (it has no session to send).
      const fromOtherPort = await page.evaluate(async (url) => {
        try {
          const res = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: '{}',
            credentials: 'include',
          });
          return res.status;
        } catch {
          return 'blocked';
        }
      }, `${agent.shell.origin}/ipc/agent:config`);
      expect(fromOtherPort === 'blocked' || fromOtherPort >= 400).toBe(true);
    } finally {
      await context.close();
    }
  }, 60_000);

  it('refuses a call without the session header, or with one that was never issued, with a stable code', async () => {
    const attempts: Record<string, string>[] = [
      {},
      { [BROWSER_SESSION_HEADER]: 'A'.repeat(43) },
      { [BROWSER_SESSION_HEADER]: '' },
    ];
    for (const headers of attempts) {
      const res = await post(`${agent.shell.origin}/ipc/agent:config`, { origin: agent.shell.origin, ...headers });
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ ok: false, error: 'unauthorized' });
    }
  });
});
