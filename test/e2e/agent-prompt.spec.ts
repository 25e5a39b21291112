import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, Socket, type Server } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { launchBrowserShell, type LaunchedAgent } from '../../src-main/browser-shell/launch.js';
import { OsKeychain } from '../../src-main/core/keychain.js';
import { UserRecordSchema } from '../../src-main/core/user-record.js';
import {
  bootstrap,
  createUser,
  loginAdmin,
  TEST_ADMIN_PASSWORD,
  type AdminHarness,
  type Http,
} from '../helpers/admin.js';
import { oathtool } from '../helpers/oathtool.js';
import { startTestServer, TEST_VERIFIER_FLOOR, type TestServer } from '../helpers/server.js';

/**
 * The agent's prompt and status view in Chromium, through the browser shell, against a real server and the real
 * agent core (real SQLite on both sides, the real keychain of the test's D-Bus session, oathtool codes).
 *
 * The agent reaches the server through a small TCP relay standing in for the network: "the server stopped" is
 * the server really closed; a restarted server gets a new port and the relay points at it, so the agent keeps
 * its configured URL. While the workstation is offline the relay refuses connections, but the helpdesk still
 * reaches the restarted server, as in real life.
 *
 * The tests run in order and share one agent: each state follows from the one before.
 * Screenshots of each state go to docs/img/agent-*.png (docs/agent.md).
 */

const ROOT = path.resolve(import.meta.dirname, '../..');
const IMG = path.join(ROOT, 'docs/img');
const RENDERER_DIR = path.join(ROOT, 'src-renderer');
const PIN = '246810';
const BOB_PIN = '135790';
const DAY = 86_400_000;

/** The network between workstation and server: forwards to `target`, or refuses when it is null. */
class Relay {
  target: number | null = null;
  private readonly sockets = new Set<Socket>();
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<Relay> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const relay = new Relay(server, `http://127.0.0.1:${port}`);
    server.on('connection', (client) => relay.forward(client));
    return relay;
  }

  private forward(client: Socket): void {
    if (this.target === null) return void client.destroy();
    const upstream = new Socket();
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    upstream.connect(this.target, '127.0.0.1', () => {
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  /** Cuts the line: open connections die, new ones are refused. */
  cut(): void {
    this.target = null;
    for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function adminHttp(server: () => TestServer, token: () => string): Http {
  return async (method, p, body, tok) => {
    const headers: Record<string, string> = {};
    const bearer = tok === null ? undefined : (tok ?? token());
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(server().url + p, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function expectOk(what: string, p: Promise<{ status: number; body: unknown }>): Promise<any> {
  const res = await p;
  if (res.status < 200 || res.status >= 300) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

function buildRenderer(): void {
  try {
    execFileSync('npx', ['tsx', 'scripts/build-web.ts'], { cwd: ROOT, stdio: 'ignore' });
  } catch (err) {
    // The script builds the renderer first; a failure in another bundle must not hide the agent's tests.
    if (!existsSync(path.join(RENDERER_DIR, 'dist/renderer.js'))) throw err;
  }
}

interface Env {
  dataDir: string;
  agentDir: string;
  server: TestServer;
  h: AdminHarness;
  adminToken: string;
  relay: Relay;
  agent: LaunchedAgent;
  alice: string;
  bob: string;
}

let env: Env;

async function openPrompt(page: Page): Promise<void> {
  await page.goto(env.agent.shell.newLaunchUrl());
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true');
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(IMG, `agent-${name}.png`) });
}

/** Steps the shared clock to the start of a fresh TOTP step, so the code has not been used before. */
function freshStep(): number {
  const clock = env.server.clock;
  clock.set((Math.floor(clock.now() / 30_000) + 1) * 30_000 + 1_000);
  return clock.now();
}

async function signIn(page: Page, username: string, pin: string, code: string): Promise<void> {
  const user = page.getByLabel('Username');
  await user.fill(username);
  await page.getByLabel('PIN', { exact: true }).fill(pin);
  await page.getByLabel('Code', { exact: true }).fill(code);
  await page.getByLabel('Code', { exact: true }).press('Enter');
}

const result = (page: Page) => page.locator('#result');

test.describe.configure({ mode: 'serial' });

test.beforeAll(async () => {
  test.setTimeout(180_000);
  buildRenderer();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'lifeline-e2e-server-'));
  const agentDir = mkdtempSync(path.join(tmpdir(), 'lifeline-e2e-agent-'));
  const server = await startTestServer({ dataDir });
  const h = await bootstrap(server);
  // Two days of offline data with light verifier hashing: test servers and agents lower the floor (TEST_VERIFIER_FLOOR).
  await expectOk(
    'policy',
    h.http('PATCH', '/api/v1/admin/settings', {
      policies: { default: { offline: { days: 2, verifierScrypt: { N: 16, r: 8, p: 1 } } } },
    }),
  );
  const alice = await createUser(h, 'alice', { pin: PIN, withToken: true });
  const bob = await createUser(h, 'bob', { pin: BOB_PIN, withToken: true });
  const { enrollmentSecret } = await expectOk(
    'enrollment secret',
    h.http('GET', '/api/v1/admin/devices/enrollment-secret'),
  );
  const relay = await Relay.start();
  relay.target = Number(new URL(server.url).port);
  const agent = await launchBrowserShell({
    rendererDir: RENDERER_DIR,
    deps: {
      config: {
        serverUrl: relay.url,
        enrollmentSecret,
        serverKeyFingerprints: [server.ctx.keys.signing.fingerprint],
        dataDir: agentDir,
        reachabilityBudgetMs: 1_500,
      },
      keychain: new OsKeychain(`lifeline-e2e-${randomBytes(6).toString('hex')}`),
      machineId: { hash: async () => createHash('sha256').update('e2e-workstation').digest('hex') },
      clock: server.clock,
      autoSync: false,
      verifierScryptFloor: TEST_VERIFIER_FLOOR,
    },
  });
  const device = await agent.core.ensureEnrolled(5_000);
  expect(device?.status).toBe('pending');
  await expectOk('approve', h.http('POST', `/api/v1/admin/devices/${device!.deviceId}/approve`));
  env = {
    dataDir,
    agentDir,
    server,
    h,
    adminToken: h.adminToken,
    relay,
    agent,
    alice: alice.totpSecret!,
    bob: bob.totpSecret!,
  };
});

test.afterAll(async () => {
  await env?.agent.close();
  await env?.relay.close();
  await env?.server.close();
  for (const dir of [env?.dataDir, env?.agentDir]) if (dir) rmSync(dir, { recursive: true, force: true });
});

test('online sign-in with an oathtool code, keyboard only, launch token gone from the URL', async ({ page }) => {
  await openPrompt(page);
  expect(await page.evaluate(() => location.hash)).toBe('');
  await expect(page.getByLabel('Username')).toHaveValue(userInfo().username);
  // Bob signs in online too, so he has offline data for the lockout test later.
  const bobOnline = await env.agent.service.login({
    username: 'bob',
    pin: BOB_PIN,
    code: oathtool(env.bob, freshStep()),
    purpose: 'logon',
  });
  expect(bobOnline).toMatchObject({ ok: true, mode: 'online' });

  await page.getByLabel('Username').fill('alice');
  await page.keyboard.press('Tab');
  await expect(page.getByLabel('PIN', { exact: true })).toBeFocused();
  await page.keyboard.type(PIN);
  await page.keyboard.press('Tab');
  await page.keyboard.type(oathtool(env.alice, freshStep()));
  await page.keyboard.press('Enter');
  await expect(result(page)).toContainText('Signed in');
  await expect(result(page)).not.toContainText('offline');
  await expect(page.locator('#connection')).toContainText('Online');
  await env.agent.core.whenIdle(); // offline data built in the background
  await expect(page.getByLabel('PIN', { exact: true })).toHaveValue('');
  await shot(page, 'online-success');
});

test("the status view's numbers equal what the store holds", async ({ page }) => {
  await openPrompt(page);
  await page.getByRole('button', { name: 'Status' }).click();
  const store = env.agent.core.store!;
  const now = env.server.clock.now();
  for (const username of ['alice', 'bob']) {
    const ref = store.userRef(username);
    const record = store.getUser(ref, UserRecordSchema)!;
    const lastWindow = store.maxVerifierPosition(ref, 'token')!;
    const days = Math.floor(((lastWindow + 1) * record.periodSeconds * 1000 - now) / DAY);
    const slots = store.verifiers(ref, 'slot').length;
    expect(days).toBeGreaterThanOrEqual(1);
    expect(slots).toBeGreaterThan(0);
    const row = page.locator(`#status-users tr[data-username="${username}"] td`);
    await expect(row.nth(0)).toHaveText(String(days));
    await expect(row.nth(1)).toHaveText(String(slots));
  }
  await expect(page.locator('#status-pending')).toHaveText(String(store.outboxSize()));
  await expect(page.locator('#status-server')).toContainText('Reachable');
  await expect(page.locator('#status-device')).toHaveText('Enrolled and approved');
  await shot(page, 'status');
});

test('server stopped: the prompt says offline and an offline sign-in succeeds', async ({ page }) => {
  await env.server.close();
  env.relay.cut();
  await openPrompt(page);
  await signIn(page, 'alice', PIN, oathtool(env.alice, freshStep()));
  await expect(result(page)).toContainText('Signed in offline');
  await expect(result(page)).toContainText(/\d+ days? of offline data left/);
  await expect(page.locator('#connection')).toContainText('Offline mode');
  await shot(page, 'offline-success');
  // A fresh prompt says so before anyone types anything.
  await openPrompt(page);
  await page.getByLabel('Username').fill('alice');
  await expect(page.locator('#connection')).toContainText('Offline mode');
  await expect(page.locator('#connection')).toContainText(/\d+ days? of offline data left for alice/);
  await shot(page, 'offline-prompt');
});

test('wrong codes: tries left, then the lock with a live countdown', async ({ page }) => {
  await openPrompt(page);
  await signIn(page, 'bob', BOB_PIN, '000000');
  await expect(result(page)).toContainText('did not match');
  await expect(result(page)).toContainText(/\d+ tries left/);
  await expect(page.getByLabel('Code', { exact: true })).toBeFocused();
  await shot(page, 'wrong-code');
  for (let attempt = 0; attempt < 5 && !(await page.locator('#countdown').isVisible()); attempt++) {
    await page.getByLabel('Code', { exact: true }).fill('000000');
    await page.getByLabel('Code', { exact: true }).press('Enter');
    await expect(result(page)).not.toHaveAttribute('aria-busy', 'true');
  }
  await expect(result(page)).toContainText(/locked until \d\d:\d\d/);
  const countdown = page.locator('#countdown');
  await expect(countdown).toBeVisible();
  await expect(page.getByRole('button', { name: 'Sign in', exact: true })).toBeDisabled();
  const first = await countdown.textContent();
  await expect(countdown).not.toHaveText(first!, { timeout: 3_000 }); // it ticks
  await shot(page, 'locked');
});

test("'I don't have my token': the request, the helpdesk reveals the code, the code is accepted offline", async ({
  page,
}) => {
  // The helpdesk's server is back, the workstation is still offline.
  env.server = await startTestServer({ dataDir: env.dataDir, clock: env.server.clock });
  const http = adminHttp(
    () => env.server,
    () => env.adminToken,
  );
  env.adminToken = await loginAdmin({ server: env.server, http }, 'admin', TEST_ADMIN_PASSWORD, env.h.adminTotpSecret);

  await openPrompt(page);
  await page.getByLabel('Username').fill('alice');
  await page.getByRole('button', { name: "I don't have my token" }).click();
  const request = page.locator('#emergency-request');
  await expect(request).not.toBeEmpty();
  await expect(page.getByRole('textbox', { name: 'Code from the helpdesk' })).toBeFocused();
  await shot(page, 'emergency-request');

  const revealed = await expectOk(
    'reveal',
    http('POST', '/api/v1/admin/emergency-access', {
      request: await request.textContent(),
      reason: 'e2e: alice called, identity checked',
    }),
  );
  expect(revealed.username).toBe('alice');
  await page.getByRole('textbox', { name: 'Code from the helpdesk' }).fill(revealed.code as string);
  await page.getByRole('textbox', { name: 'Code from the helpdesk' }).press('Enter'); // no PIN: the user may have forgotten it
  await expect(result(page)).toContainText('Signed in offline');
  await expect(result(page)).toContainText('used up');
  await shot(page, 'emergency-success');
});

test("server restarted: 'sync now' empties the queue", async ({ page }) => {
  env.relay.target = Number(new URL(env.server.url).port);
  const store = env.agent.core.store!;
  const before = store.outboxSize();
  expect(before).toBeGreaterThan(0);
  await openPrompt(page);
  await page.getByRole('button', { name: 'Status' }).click();
  await expect(page.locator('#status-pending')).toHaveText(String(before));
  await page.getByRole('button', { name: 'Sync now' }).click();
  await expect(page.locator('#sync-result')).toContainText('Sync complete: nothing left to send.');
  expect(store.outboxSize()).toBe(0);
  await expect(page.locator('#status-pending')).toHaveText('0');
  await expect(page.locator('#status-server')).toContainText('Reachable');
  await shot(page, 'synced');
});

test('a multi-use temporary code from the helpdesk: accepted, and the prompt warns that it expires soon', async ({
  page,
}) => {
  const http = adminHttp(
    () => env.server,
    () => env.adminToken,
  );
  await expectOk(
    'enable temporary codes',
    http('PATCH', '/api/v1/admin/settings', { settings: { temporaryCodesEnabled: true } }),
  );
  const issued = await expectOk(
    'issue',
    http('POST', '/api/v1/admin/users/alice/temporary-code', { expiresInMinutes: 90, multiUse: true }),
  );
  await openPrompt(page);
  await signIn(page, 'alice', PIN, issued.code as string);
  await expect(result(page)).toContainText('Signed in');
  await expect(result(page)).toContainText(/Your temporary code expires soon: \d\d:\d\d \(in \d+ minutes\)/);
  await expect(result(page)).toHaveAttribute('data-tone', 'warn');
  await shot(page, 'temporary-code');
  await page.getByRole('button', { name: 'Status' }).click();
  await expect(page.locator('#status-users tr[data-username="alice"] td').nth(2)).toContainText(
    /\d\d:\d\d \(in \d+ minutes\)/,
  );
});

test('accessibility: no serious or critical axe violations on the prompt, a result and the status view', async ({
  page,
}) => {
  const serious = async () =>
    (await new AxeBuilder({ page }).analyze()).violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id}: ${v.help}`);
  await openPrompt(page);
  expect(await serious()).toEqual([]);
  await signIn(page, 'alice', PIN, '000000');
  await expect(result(page)).toContainText('did not match');
  expect(await serious()).toEqual([]);
  await page.getByRole('button', { name: 'Status' }).click();
  expect(await serious()).toEqual([]);
});

test('the prompt fits 800×600 without scrolling', async ({ page }) => {
  await page.setViewportSize({ width: 800, height: 600 });
  await openPrompt(page);
  expect(await page.evaluate(() => document.documentElement.scrollHeight)).toBeLessThanOrEqual(600);
  await expect(page.getByRole('button', { name: 'Sign in', exact: true })).toBeInViewport();
  await shot(page, '800x600');
});
