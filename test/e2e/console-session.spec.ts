import { expect, test } from '@playwright/test';
import { startConsole, signIn, type ConsoleEnv } from './console-support.js';

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
    const res = await fetch('/api/v1/admin/sessions/step-up', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ otp: '000000' }), credentials: 'same-origin' });
    return { status: res.status, body: (await res.json()) as { error: string } };
  });
  expect(result.status).toBe(403);
  expect(result.body.error).toBe('csrf_failed');
  // A read with the cookie alone still works: CSRF guards changes, not reads.
  const me = await page.evaluate(async () => (await fetch('/api/v1/admin/sessions/current', { credentials: 'same-origin' })).status);
  expect(me).toBe(200);
});

test('signing out ends the server session', async ({ page }) => {
  await signIn(page, env);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByRole('heading', { name: 'Lifeline helpdesk console' })).toBeVisible();
  const status = await page.evaluate(async () => (await fetch('/api/v1/admin/sessions/current', { credentials: 'same-origin' })).status);
  expect(status).toBe(401);
});
