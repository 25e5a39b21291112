import { AxeBuilder } from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { createAdminAndLogin, createUser, enableTemporaryCodes, nextTotp } from '../helpers/admin.js';
import { TestDevice } from '../integration/devices/test-device.js';
import {
  closeCodeDialog,
  freshApiSession,
  generateTemporaryCode,
  openUser,
  signIn,
  startConsole,
  type ConsoleEnv,
} from './console-support.js';

/**
 * Every page and dialog of the console scanned with axe-core (WCAG 2.1 A and AA rules): no serious or critical
 * violation. The same walk takes the screenshots of docs/admin-guide.md (docs/img/console-*.png).
 */
let env: ConsoleEnv;
const PIN = '482916';
test.use({ viewport: { width: 1280, height: 860 }, locale: 'en-GB', timezoneId: 'UTC' });

test.beforeAll(async () => {
  env = await startConsole();
  await enableTemporaryCodes(env.h);
  await env.h.http('PATCH', '/api/v1/admin/settings', { policies: { contractors: { enrollmentAllowed: false } } });
  await createUser(env.h, 'alice', { pin: PIN, withToken: true, email: 'alice@example.org' });
  await createUser(env.h, 'bob', { pin: PIN, withToken: true });
  await createUser(env.h, 'carol', { pin: PIN, policy: 'contractors' });
  const secret = (await env.h.http('GET', '/api/v1/admin/devices/enrollment-secret')).body.enrollmentSecret as string;
  for (const host of ['ws-field-07', 'ws-clinic-12']) await new TestDevice(env.server, host).enroll(secret);
});
test.afterAll(async () => {
  await env.server.close();
});
test.beforeEach(async () => {
  await freshApiSession(env);
});

/** Anything the browser refused under the page's CSP (an inline style or script would show up here). */
const cspViolations: string[] = [];
test.beforeEach(async ({ page }) => {
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content.Security.Policy/i.test(msg.text())) cspViolations.push(msg.text());
  });
});
test.afterEach(() => {
  expect(cspViolations).toEqual([]);
});

async function scan(page: Page, what: string, shot?: string): Promise<void> {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(bad.map((v) => `${what}: ${v.id} (${v.impact}) ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual(
    [],
  );
  if (shot)
    await page.screenshot({
      path: `docs/img/console-${shot}.png`,
      fullPage: !(await page.locator('dialog[open]').count()),
    });
}

async function go(page: Page, hash: string, heading: string): Promise<void> {
  await page.evaluate((h) => {
    location.hash = h;
  }, hash);
  await expect(page.getByRole('heading', { level: 1, name: heading })).toBeVisible();
  await page.waitForLoadState('networkidle');
}

test('sign-in, users, user page and its dialogs', async ({ page }) => {
  await page.goto(`${env.server.url}/console`);
  await scan(page, 'sign-in', 'sign-in');
  await signIn(page, env);
  await page.waitForLoadState('networkidle');
  await scan(page, 'users', 'users');

  await openUser(page, 'alice');
  await generateTemporaryCode(page, { amount: 3, unit: 'days', multiUse: true });
  await scan(page, 'temporary code dialog', 'temporary-code-dialog');
  await closeCodeDialog(page);
  await scan(page, 'user page', 'user');

  await page.getByRole('button', { name: 'Delete enrollment' }).click();
  await scan(page, 'delete enrollment confirmation', 'delete-enrollment');
  await page.getByRole('alertdialog').getByRole('button', { name: 'Cancel' }).click();

  await page.getByLabel('Number of codes').fill('6');
  await page.getByRole('button', { name: 'Generate emergency codes' }).click();
  await scan(page, 'emergency codes dialog', 'emergency-codes');
  await closeCodeDialog(page);

  env.server.clock.advance(16 * 60 * 1000);
  await page.getByRole('button', { name: 'Revoke code' }).click();
  await page.getByRole('alertdialog').getByRole('button', { name: 'Revoke code' }).click();
  const stepUp = page.getByRole('dialog', { name: 'Confirm it is you' });
  await expect(stepUp).toBeVisible();
  await scan(page, 'step-up dialog', 'step-up');
  await stepUp.getByLabel('Authenticator code').fill(nextTotp(env.server, env.h.adminTotpSecret));
  await stepUp.getByRole('button', { name: 'Confirm' }).click();
  await expect(page.locator('#temporary-code')).toContainText('No active temporary code.');

  await openUser(page, 'carol');
  await scan(page, 'contractor user page');
});

test('offline emergency access, audit and administration pages', async ({ page }) => {
  await signIn(page, env);
  await go(page, '#/emergency-access', 'Offline emergency access');
  await page.getByLabel('Request the user reads to you').fill('7K3M-Q9XD-2B8T-1234');
  await page.getByLabel('Reason (recorded in the audit log)').fill('phone left at home');
  await page.getByRole('button', { name: 'Get the code' }).click();
  await expect(page.getByRole('alert')).toBeVisible();
  await scan(page, 'offline emergency access', 'emergency-access');
  await go(page, '#/audit', 'Audit');
  await scan(page, 'audit', 'audit');
  await go(page, '#/admin/settings', 'Settings and policies');
  await scan(page, 'settings', 'settings');
  await go(page, '#/admin/roles', 'Roles');
  await scan(page, 'roles', 'roles');
  await go(page, '#/admin/admins', 'Administrators');
  await scan(page, 'administrators', 'admins');
  await go(page, '#/admin/clients', 'API clients');
  await page.getByLabel('Name').fill('vpn-gateway');
  await page.getByRole('button', { name: 'Register' }).click();
  await expect(page.getByRole('dialog')).toBeVisible();
  await scan(page, 'API client key dialog');
  await closeCodeDialog(page);
  await scan(page, 'API clients', 'clients');
  await go(page, '#/admin/devices', 'Devices');
  await scan(page, 'devices', 'devices');
});

test('what a helpdesk admin without codes.issue sees', async ({ page }) => {
  await env.h.http('PATCH', '/api/v1/admin/settings', { settings: { temporaryCodesEnabled: false } });
  const created = await createAdminAndLogin(env.h, 'hugo', ['helpdesk']);
  await signIn(page, env, { username: 'hugo', password: created.password, totpSecret: created.totpSecret });
  await openUser(page, 'bob');
  await expect(page.locator('#temporary-code')).toContainText('disabled for this enterprise');
  await scan(page, 'helpdesk view, temporary codes disabled', 'helpdesk-disabled');
  await env.h.http('PATCH', '/api/v1/admin/settings', { settings: { temporaryCodesEnabled: true } });
});
