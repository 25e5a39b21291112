import { expect, test } from '@playwright/test';
import { createUser } from '../helpers/admin.js';
import { oathtool } from '../helpers/oathtool.js';
import { TestDevice } from '../integration/devices/test-device.js';
import {
  apiClientKey,
  freshApiSession,
  openUser,
  signIn,
  startConsole,
  verify,
  type ConsoleEnv,
} from './console-support.js';

/** Administration through the console, each result checked through the API: users, token, PIN, unlock, settings, clients, devices. */
let env: ConsoleEnv;
const PIN = '482916';

test.beforeAll(async () => {
  env = await startConsole();
});
test.afterAll(async () => {
  await env.server.close();
});
test.beforeEach(async () => {
  await freshApiSession(env);
});

test('a new user: added, PIN set, token enrolled from the QR dialog; the token then verifies with the PIN', async ({
  page,
}) => {
  const key = await apiClientKey(env);
  await signIn(page, env);
  await page.getByLabel('Username').fill('Lena');
  await page.getByLabel('Display name (optional)').fill('Lena Larsen');
  await page.getByRole('button', { name: 'Add user' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Lena Larsen (lena)' })).toBeVisible();

  await page.getByLabel('New PIN', { exact: true }).fill(PIN);
  await page.getByLabel('New PIN again').fill(PIN);
  await page.getByRole('button', { name: 'Set PIN' }).click();
  await expect(page.getByRole('status')).toContainText('The PIN of lena is set.');

  await page.getByRole('button', { name: 'Enroll a token' }).click();
  const dialog = page.getByRole('dialog', { name: 'Token for lena' });
  await expect(dialog.getByRole('img', { name: 'QR code of the token for lena' })).toBeVisible();
  await dialog.getByText('Key for typing in by hand').click();
  const secret = (await dialog.locator('[data-secret]').textContent())!.replace(/\s/g, '');
  await dialog.getByRole('button', { name: 'Done' }).click();
  await expect(page.locator('dialog')).toHaveCount(0);
  expect(await page.content()).not.toContain(secret);
  await expect(page.getByRole('region', { name: 'Token' })).toContainText('Authenticator app (TOTP, SHA1, 6 digits)');

  const code = oathtool(secret, env.server.clock.now());
  expect(await verify(env, key, { username: 'lena', code, pin: PIN })).toMatchObject({
    status: 200,
    body: { method: 'token' },
  });
});

test('a locked user is unlocked from the user page', async ({ page }) => {
  const key = await apiClientKey(env, 'portal');
  const mia = await createUser(env.h, 'mia', { pin: PIN, withToken: true });
  for (let i = 0; i < 3; i++) await verify(env, key, { username: 'mia', code: '000000', pin: PIN });
  expect(
    (await verify(env, key, { username: 'mia', code: oathtool(mia.totpSecret!, env.server.clock.now()), pin: PIN }))
      .status,
  ).toBe(423);
  await signIn(page, env);
  await openUser(page, 'mia');
  await expect(page.locator('dl.summary')).toContainText('Locked until');
  await page.getByRole('button', { name: 'Unlock' }).click();
  await expect(page.locator('dl.summary')).toContainText('Not locked');
  env.server.clock.advance(30_000);
  expect(
    await verify(env, key, { username: 'mia', code: oathtool(mia.totpSecret!, env.server.clock.now()), pin: PIN }),
  ).toMatchObject({ status: 200 });
});

test('deactivating a user: the active temporary code stops working and the section disappears', async ({ page }) => {
  const key = await apiClientKey(env, 'gateway-3');
  await env.h.http('PATCH', '/api/v1/admin/settings', { settings: { temporaryCodesEnabled: true } });
  await createUser(env.h, 'omar', { pin: PIN, withToken: true });
  const issued = await env.h.http('POST', '/api/v1/admin/users/omar/temporary-code', { multiUse: true });
  expect(issued.status).toBe(201);
  await signIn(page, env);
  await openUser(page, 'omar');
  await expect(page.locator('#temporary-code')).toContainText('An active multi-use code');
  await page.getByRole('button', { name: 'Deactivate user' }).click();
  await page.getByRole('alertdialog', { name: 'Deactivate omar?' }).getByRole('button', { name: 'Deactivate' }).click();
  await expect(page.locator('dl.summary')).toContainText('Inactive');
  await expect(page.locator('#temporary-code')).toHaveCount(0);
  expect(await verify(env, key, { username: 'omar', code: issued.body.code as string, pin: PIN })).toMatchObject({
    status: 401,
    body: { error: 'invalid_code' },
  });
  await page.getByRole('button', { name: 'Activate user' }).click();
  await expect(page.locator('dl.summary')).toContainText('Active');
});

test('settings: temporary codes are enabled for the enterprise from the console', async ({ page }) => {
  await env.h.http('PATCH', '/api/v1/admin/settings', { settings: { temporaryCodesEnabled: false } });
  await signIn(page, env);
  await page.getByRole('link', { name: 'Settings' }).click();
  const box = page.getByLabel('Allow temporary codes');
  await expect(box).not.toBeChecked();
  await box.check();
  await page.getByRole('button', { name: 'Save settings' }).click();
  await expect(page.getByRole('status')).toContainText('Settings saved.');
  expect((await env.h.http('GET', '/api/v1/admin/settings')).body.settings.temporaryCodesEnabled).toBe(true);
});

test('policies: the longest temporary code lifetime is set in the default policy, and the API then holds to it', async ({
  page,
}) => {
  await signIn(page, env);
  await page.getByRole('link', { name: 'Settings' }).click();
  const form = page.getByRole('form', { name: 'Policy “default” (default)' });
  await form.getByLabel('Longest lifetime', { exact: true }).fill('7');
  await form.getByLabel('Longest lifetime: unit').selectOption('days');
  await form.getByRole('button', { name: 'Save policy default' }).click();
  await expect(page.getByRole('status')).toContainText('Policy default saved.');
  const policies = (await env.h.http('GET', '/api/v1/admin/settings')).body.policies as {
    name: string;
    policy: { temporaryCodes: { maxLifetimeMinutes: number } };
  }[];
  expect(policies.find((p) => p.name === 'default')?.policy.temporaryCodes.maxLifetimeMinutes).toBe(7 * 24 * 60);
  await createUser(env.h, 'nina', { pin: PIN });
  await env.h.http('PATCH', '/api/v1/admin/settings', { settings: { temporaryCodesEnabled: true } });
  const refused = await env.h.http('POST', '/api/v1/admin/users/nina/temporary-code', {
    expiresInMinutes: 8 * 24 * 60,
  });
  expect(refused.body.error).toBe('policy_violation');
});

test('API clients: the key is shown once and works; a revoked client is refused', async ({ page }) => {
  await signIn(page, env);
  await page.getByRole('link', { name: 'API clients' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'API clients' })).toBeVisible();
  await page.getByLabel('Name').fill('remote-portal');
  await page.getByRole('button', { name: 'Register' }).click();
  const dialog = page.getByRole('dialog', { name: 'Key for remote-portal' });
  const key = (await dialog.locator('.code').textContent())!.trim();
  await dialog.getByRole('button', { name: 'Done' }).click();
  expect(await page.content()).not.toContain(key);
  // A known client gets a verdict on the code (401 invalid_code), not 401 unauthorized.
  expect(await verify(env, key, { username: 'nobody', code: '123456' })).toMatchObject({
    status: 401,
    body: { error: 'invalid_code' },
  });
  await page.getByRole('button', { name: 'Revoke remote-portal' }).click();
  await page.getByRole('alertdialog').getByRole('button', { name: 'Revoke client' }).click();
  await expect(page.getByRole('table')).toContainText('revoked');
  expect(await verify(env, key, { username: 'nobody', code: '123456' })).toMatchObject({
    status: 401,
    body: { error: 'unauthorized' },
  });
});

test('devices: a pending device is approved, its offline data reset, then it is revoked', async ({ page }) => {
  const secret = (await env.h.http('GET', '/api/v1/admin/devices/enrollment-secret')).body.enrollmentSecret as string;
  const device = new TestDevice(env.server, 'ws-field-07');
  expect((await device.enroll(secret)).status).toBe(200);
  const status = async () =>
    ((await env.h.http('GET', '/api/v1/admin/devices')).body.devices as { deviceId: string; status: string }[]).find(
      (d) => d.deviceId === device.deviceId,
    )?.status;
  expect(await status()).toBe('pending');

  await signIn(page, env);
  await page.getByRole('link', { name: 'Devices' }).click();
  await page.getByRole('button', { name: `Approve ${device.deviceId}` }).click();
  await expect(page.getByRole('status')).toContainText('approved');
  expect(await status()).toBe('approved');

  await page.getByRole('button', { name: `Reset offline data of ${device.deviceId}` }).click();
  await page.getByRole('alertdialog').getByRole('button', { name: 'Reset offline data' }).click();
  await expect(page.getByRole('status')).toContainText('reset');
  const resets = (await env.h.http('GET', '/api/v1/admin/audit?type=device.reset-offline')).body.events as {
    device: string;
  }[];
  expect(resets.map((e) => e.device)).toContain(device.deviceId);

  await page.getByRole('button', { name: `Revoke ${device.deviceId}` }).click();
  await page.getByRole('alertdialog').getByRole('button', { name: 'Revoke device' }).click();
  await expect(page.getByRole('status')).toContainText('revoked');
  expect(await status()).toBe('revoked');
});
