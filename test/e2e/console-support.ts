import { execFileSync } from 'node:child_process';
import { AxeBuilder } from '@axe-core/playwright';
import { expect, type Page } from '@playwright/test';
import { bootstrap, loginAdmin, nextTotp, TEST_ADMIN_PASSWORD, type AdminHarness } from '../helpers/admin.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** Shared set-up of the console specs: a real server on loopback, its bootstrap superadmin, the console bundle. */
let built = false;
export function buildConsole(): void {
  if (built) return;
  // The bundle the server serves; rebuilt so a spec never runs against a stale one.
  execFileSync('npx', ['tsx', 'scripts/build-web.ts'], { stdio: 'ignore' });
  built = true;
}

export interface ConsoleEnv {
  server: TestServer;
  h: AdminHarness;
}

export async function startConsole(): Promise<ConsoleEnv> {
  buildConsole();
  const server = await startTestServer();
  const h = await bootstrap(server);
  return { server, h };
}

/** Signs in through the page with password and a fresh oathtool code at the server's (manual) time. */
export async function signIn(
  page: Page,
  env: ConsoleEnv,
  who: { username: string; password: string; totpSecret: string } = {
    username: 'admin',
    password: TEST_ADMIN_PASSWORD,
    totpSecret: env.h.adminTotpSecret,
  },
): Promise<void> {
  await page.goto(`${env.server.url}/console`);
  await page.getByLabel('Administrator name').fill(who.username);
  await page.getByLabel('Password').fill(who.password);
  await page.getByLabel('Authenticator code').fill(nextTotp(env.server, who.totpSecret));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Users' })).toBeVisible();
}

/** Registers an API client (as a VPN gateway would be) and returns its key, to check journeys through /api/v1/verify. */
export async function apiClientKey(env: ConsoleEnv, name = 'vpn-gateway'): Promise<string> {
  const res = await env.h.http('POST', '/api/v1/admin/clients', { name });
  if (res.status !== 201) throw new Error(`client registration failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.key as string;
}

/** POST /api/v1/verify as that client: the result every journey is checked against. */
export async function verify(
  env: ConsoleEnv,
  key: string,
  body: { username: string; code: string; pin?: string; purpose?: string },
): Promise<{ status: number; body: { ok?: boolean; method?: string; error?: string } }> {
  const res = await env.h.http('POST', '/api/v1/verify', { purpose: 'remote-access', ...body }, key);
  return { status: res.status, body: res.body };
}

/** Finds a user the way the helpdesk does (search, then the link) and waits for the user page. */
export async function openUser(page: Page, username: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users', exact: true }).click();
  await page.getByLabel('Find a user').fill(username);
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByRole('link', { name: username, exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: username })).toBeVisible();
}

/**
 * Generates a temporary code in the user's Temporary Code section and returns it as the dialog showed it, after
 * checking the dialog's script. The dialog is left open; the caller clicks Done.
 */
export async function generateTemporaryCode(
  page: Page,
  opts: { amount: number; unit: 'minutes' | 'hours' | 'days'; multiUse: boolean; replace?: boolean },
): Promise<{ code: string; dialogText: string }> {
  const section = page.locator('#temporary-code');
  await section.getByLabel('Lifetime', { exact: true }).fill(String(opts.amount));
  await section.getByLabel('Lifetime: unit').selectOption(opts.unit);
  const multi = section.getByLabel('Use multiple times until it expires');
  if (opts.multiUse) await multi.check();
  else await multi.uncheck();
  await section.getByRole('button', { name: opts.replace ? 'Replace code' : 'Generate code' }).click();
  if (opts.replace) await page.getByRole('alertdialog').getByRole('button', { name: 'Replace code' }).click();
  const dialog = page.getByRole('dialog', { name: /^Temporary code for / });
  await expect(dialog).toBeVisible();
  const code = (await dialog.locator('.code').textContent())!.trim();
  return { code, dialogText: (await dialog.textContent()) ?? '' };
}

export async function closeCodeDialog(page: Page): Promise<void> {
  await page.getByRole('dialog').getByRole('button', { name: 'Done' }).click();
  await expect(page.locator('dialog')).toHaveCount(0);
}

/** The tests move the server clock by days; a new sign-in gives the harness's API calls a live, high-assurance session. */
export async function freshApiSession(env: ConsoleEnv): Promise<void> {
  env.h.adminToken = await loginAdmin(env.h, 'admin', TEST_ADMIN_PASSWORD, env.h.adminTotpSecret);
}

/** Where a shown-once secret (a code, a key) can still be found: the page's DOM, its storage, its URL. */
export async function pageHolds(page: Page, needles: string[]): Promise<string[]> {
  const found: string[] = [];
  const html = await page.content();
  const storage = await page.evaluate(async () => {
    const parts = [document.cookie, JSON.stringify({ ...localStorage }), JSON.stringify({ ...sessionStorage })];
    if ('caches' in window) parts.push((await caches.keys()).join(','));
    if ('indexedDB' in window && indexedDB.databases) parts.push(JSON.stringify(await indexedDB.databases()));
    return parts.join('\n');
  });
  for (const n of needles) {
    if (html.includes(n)) found.push(`DOM of ${page.url()}`);
    if (storage.includes(n)) found.push('storage');
    if (page.url().includes(n)) found.push('URL');
  }
  return found;
}

/** axe-core (WCAG 2.1 A and AA rules) on the page as it is now: the serious and critical violations, as readable lines. */
export async function seriousA11yViolations(page: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}) ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}
