import { expect, test } from '@playwright/test';
import { createAdminAndLogin, createUser, enableTemporaryCodes } from '../helpers/admin.js';
import { freshApiSession, openUser, signIn, startConsole, type ConsoleEnv } from './console-support.js';

/**
 * Role limits as a helpdesk admin sees them (Imprivata FAQ): no settings, the 'disabled for this enterprise' message,
 * the Temporary Code section without Generate for a role lacking codes.issue, and absent for an ineligible user.
 */
let env: ConsoleEnv;
let helen: { password: string; totpSecret: string; token: string };
const PIN = '482916';

test.beforeAll(async () => {
  env = await startConsole();
  helen = await createAdminAndLogin(env.h, 'helen', ['helpdesk']);
  expect(
    (
      await env.h.http('PATCH', '/api/v1/admin/settings', {
        policies: { 'no-temp': { temporaryCodes: { allowed: false } } },
      })
    ).status,
  ).toBe(200);
  await createUser(env.h, 'ivan', { pin: PIN, withToken: true });
  await createUser(env.h, 'judy', { pin: PIN, policy: 'no-temp' });
});
test.afterAll(async () => {
  await env.server.close();
});
test.beforeEach(async () => {
  await freshApiSession(env);
});

const signInHelen = (page: Parameters<typeof signIn>[0]) =>
  signIn(page, env, { username: 'helen', password: helen.password, totpSecret: helen.totpSecret });

test('a helpdesk admin sees no administration pages and cannot open them by address', async ({ page }) => {
  await signInHelen(page);
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav.getByRole('link', { name: 'Users' })).toBeVisible();
  await expect(nav.getByRole('link', { name: 'Offline emergency access' })).toBeVisible();
  for (const hidden of ['Settings', 'Roles', 'Administrators', 'API clients', 'Audit'])
    await expect(nav.getByRole('link', { name: hidden })).toHaveCount(0);
  await page.evaluate(() => {
    location.hash = '#/admin/settings';
  });
  await expect(page.getByRole('heading', { level: 1, name: 'Not allowed' })).toBeVisible();
});

test('temporary codes off for the enterprise: the section says so and offers nothing', async ({ page }) => {
  await signInHelen(page);
  await openUser(page, 'ivan');
  const section = page.locator('#temporary-code');
  await expect(section).toContainText('Temporary codes are disabled for this enterprise');
  await expect(section.getByRole('button')).toHaveCount(0);
});

test('without codes.issue the section is there but has no Generate; an ineligible user has no section', async ({
  page,
}) => {
  await enableTemporaryCodes(env.h);
  await signInHelen(page);
  await openUser(page, 'ivan');
  const section = page.locator('#temporary-code');
  await expect(section).toContainText('No active temporary code.');
  await expect(section).toContainText('Your administrator role is not enabled to generate temporary codes.');
  await expect(section.getByRole('button', { name: /Generate/ })).toHaveCount(0);
  // The server agrees: the role cannot issue.
  const refused = await env.h.http('POST', '/api/v1/admin/users/ivan/temporary-code', { multiUse: true }, helen.token);
  expect(refused.status).toBe(403);
  expect(refused.body.error).toBe('forbidden');

  await openUser(page, 'judy');
  await expect(page.locator('#temporary-code')).toHaveCount(0);
});

test('a superadmin grants codes.issue through a custom role; Generate then appears for the helpdesk admin', async ({
  page,
  browser,
}) => {
  await signIn(page, env);
  await page.getByRole('link', { name: 'Roles' }).click();
  const form = page.getByRole('form', { name: 'New role' });
  await form.getByLabel('Role name').fill('code-issuer');
  await form.getByLabel('Generate temporary and emergency codes').check();
  await form.getByRole('button', { name: 'Create role' }).click();
  await expect(page.getByRole('heading', { name: 'code-issuer' })).toBeVisible();
  expect((await env.h.http('PATCH', '/api/v1/admin/admins/helen', { roles: ['helpdesk', 'code-issuer'] })).status).toBe(
    200,
  );

  const helenPage = await (await browser.newContext()).newPage();
  await signInHelen(helenPage);
  await openUser(helenPage, 'ivan');
  await expect(helenPage.locator('#temporary-code').getByRole('button', { name: 'Generate code' })).toBeVisible();
});
