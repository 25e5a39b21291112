import { expect, test } from '@playwright/test';
import { createUser, enableTemporaryCodes } from '../helpers/admin.js';
import { freshApiSession, startConsole, signIn, type ConsoleEnv } from './console-support.js';

let env: ConsoleEnv;
test.beforeAll(async () => {
  env = await startConsole();
});
test.afterAll(async () => {
  await env.server.close();
});

test('the console page is served under a strict CSP with no inline script', async ({ request }) => {
  const res = await request.get(`${env.server.url}/console`);
  expect(res.status()).toBe(200);
  const csp = res.headers()['content-security-policy'] ?? '';
  expect(csp).toContain("script-src 'self'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).not.toContain('unsafe-inline');
  const html = await res.text();
  expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
  expect(html).not.toMatch(/https?:\/\//);
});

test('sign-in sets an httpOnly SameSite=Strict cookie and keeps nothing in storage', async ({ page, context }) => {
  await signIn(page, env);
  const cookie = (await context.cookies()).find((c) => c.name === 'lifeline_session');
  expect(cookie).toBeDefined();
  expect(cookie!.httpOnly).toBe(true);
  expect(cookie!.sameSite).toBe('Strict');
  expect(await page.evaluate(() => document.cookie)).not.toContain('lifeline_session');
  expect(await page.evaluate(() => localStorage.length + sessionStorage.length)).toBe(0);
  await expect(page.locator('#idle')).toContainText('Idle sign-out after 30 min');
});

test('a change without the CSRF token is refused even with the session cookie', async ({ page }) => {
  await signIn(page, env);
  const result = await page.evaluate(async () => {
    const res = await fetch('/api/v1/admin/sessions/step-up', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ otp: '000000' }),
      credentials: 'same-origin',
    });
    return { status: res.status, body: (await res.json()) as { error: string } };
  });
  expect(result.status).toBe(403);
  expect(result.body.error).toBe('csrf_failed');
  // A read with the cookie alone still works: CSRF guards changes, not reads.
  const me = await page.evaluate(
    async () => (await fetch('/api/v1/admin/sessions/current', { credentials: 'same-origin' })).status,
  );
  expect(me).toBe(200);
});

test('signing out ends the server session', async ({ page }) => {
  await signIn(page, env);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByRole('heading', { name: 'Lifeline helpdesk console' })).toBeVisible();
  const status = await page.evaluate(
    async () => (await fetch('/api/v1/admin/sessions/current', { credentials: 'same-origin' })).status,
  );
  expect(status).toBe(401);
});

test('the server ending the session (idle on its clock) sends the console back to sign-in', async ({ page }) => {
  await signIn(page, env);
  env.server.clock.advance(31 * 60 * 1000);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit' }).click();
  await expect(page.getByRole('heading', { name: 'Lifeline helpdesk console' })).toBeVisible();
  await expect(page.getByRole('alert')).toContainText('Your session has ended');
});

test('the console signs itself out after the idle time without requests', async ({ page }) => {
  await page.clock.install();
  await signIn(page, env);
  await page.clock.fastForward('31:00');
  await expect(page.getByRole('alert')).toContainText('signed out after 30 minutes without activity');
  await expect(page.getByLabel('Password')).toHaveValue('');
});

test('keyboard only: find a user with "/", generate a code, read it, close it', async ({ page }) => {
  await freshApiSession(env);
  await enableTemporaryCodes(env.h);
  await createUser(env.h, 'olga', { pin: '482916', withToken: true });
  await signIn(page, env);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit' }).focus();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { level: 1, name: 'Audit' })).toBeVisible();
  await page.locator('main').focus();
  await page.keyboard.press('/');
  await expect(page.getByLabel('Find a user')).toBeFocused();
  await page.keyboard.type('olga');
  // The page first lists everyone; the search redraws the results when its answer arrives. A Tab taken before that
  // would land on a row about to be replaced, so wait for the old row to go.
  const rowBeforeSearch = await page.getByRole('link', { name: 'olga', exact: true }).elementHandle();
  await page.keyboard.press('Enter');
  await rowBeforeSearch?.waitForElementState('hidden');
  await expect(page.getByRole('link', { name: 'olga', exact: true })).toBeVisible();
  await page.keyboard.press('Tab'); // the Search button
  await page.keyboard.press('Tab'); // the first result
  await expect(page.getByRole('link', { name: 'olga', exact: true })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { level: 1, name: 'olga' })).toBeVisible();
  const generate = page.locator('#temporary-code').getByRole('button', { name: 'Generate code' });
  for (let i = 0; i < 40 && !(await generate.evaluate((el) => el === document.activeElement)); i++)
    await page.keyboard.press('Tab');
  await expect(generate).toBeFocused();
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog', { name: 'Temporary code for olga' });
  await expect(dialog.getByRole('button', { name: 'Done' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.locator('dialog')).toHaveCount(0);
  await expect(page.locator('#temporary-code')).toContainText('An active single-use code expires');
});
