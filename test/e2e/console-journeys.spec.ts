import { expect, test } from '@playwright/test';
import { createUser, enableTemporaryCodes, nextTotp } from '../helpers/admin.js';
import { oathtool } from '../helpers/oathtool.js';
import {
  apiClientKey,
  closeCodeDialog,
  freshApiSession,
  generateTemporaryCode,
  openUser,
  signIn,
  startConsole,
  verify,
  type ConsoleEnv,
} from './console-support.js';

/**
 * The helpdesk procedures of the Imprivata and Salesforce seeds, done in the console in Chromium and checked through
 * POST /api/v1/verify as a VPN gateway would, with token codes from oathtool at the server's (manual) time.
 */
let env: ConsoleEnv;
let key: string;
const PIN = '482916';
const DAY = 24 * 3600 * 1000;

test.beforeAll(async () => {
  env = await startConsole();
  await enableTemporaryCodes(env.h);
  key = await apiClientKey(env);
  const contractors = await env.h.http('PATCH', '/api/v1/admin/settings', {
    policies: { contractors: { enrollmentAllowed: false } },
  });
  expect(contractors.status).toBe(200);
});
test.afterAll(async () => {
  await env.server.close();
});
test.beforeEach(async () => {
  await freshApiSession(env);
});

test('misplaced device: a multi-use code with the chosen expiry works, then the normal token revokes it', async ({
  page,
}) => {
  const alice = await createUser(env.h, 'alice', { pin: PIN, withToken: true });
  await signIn(page, env);
  await openUser(page, 'alice');
  const issuedAt = env.server.clock.now();
  const { code, dialogText } = await generateTemporaryCode(page, { amount: 3, unit: 'days', multiUse: true });
  // The script of the seed: expiry date and time, only this user, cannot sign orders, where to enter it.
  expect(dialogText).toContain('The code expires on');
  expect(dialogText).toContain('It works only for your account, alice');
  expect(dialogText).toContain('It cannot be used to sign orders');
  expect(dialogText).toContain('enter your PIN and this code');
  // The expiry read out is the chosen one: three days from issue, as the browser formats it for the helpdesk.
  const expected = await page.evaluate(
    (ms) => new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'short' }).format(new Date(ms)),
    issuedAt + 3 * DAY,
  );
  expect(dialogText).toContain(`The code expires on ${expected}.`);
  await closeCodeDialog(page);
  await expect(page.locator('#temporary-code')).toContainText('An active multi-use code expires');

  expect(await verify(env, key, { username: 'alice', code, pin: PIN })).toMatchObject({
    status: 200,
    body: { ok: true, method: 'temporary' },
  });
  env.server.clock.advance(DAY);
  expect(await verify(env, key, { username: 'alice', code, pin: PIN })).toMatchObject({
    status: 200,
    body: { method: 'temporary' },
  });
  // Past the chosen expiry it would fail; before that, the user finds the phone and uses it once:
  const token = oathtool(alice.totpSecret!, env.server.clock.now());
  expect(await verify(env, key, { username: 'alice', code: token, pin: PIN })).toMatchObject({
    status: 200,
    body: { method: 'token' },
  });
  expect(await verify(env, key, { username: 'alice', code, pin: PIN })).toMatchObject({
    status: 401,
    body: { error: 'invalid_code' },
  });
  await page.reload();
  await signIn(page, env);
  await openUser(page, 'alice');
  await expect(page.locator('#temporary-code')).toContainText('No active temporary code.');
});

test('stolen device: the enrollment is deleted after a confirmation, then a code is issued', async ({ page }) => {
  const bob = await createUser(env.h, 'bob', { pin: PIN, withToken: true });
  await signIn(page, env);
  await openUser(page, 'bob');
  await page.getByRole('button', { name: 'Delete enrollment' }).click();
  const confirm = page.getByRole('alertdialog', { name: 'Delete the token enrollment of bob?' });
  await expect(confirm).toContainText('not even if the device turns up again');
  await confirm.getByRole('button', { name: 'Delete enrollment' }).click();
  await expect(page.getByRole('region', { name: 'Token' })).toContainText('No token enrolled.');
  const { code } = await generateTemporaryCode(page, { amount: 7, unit: 'days', multiUse: true });
  await closeCodeDialog(page);

  const stolenToken = oathtool(bob.totpSecret!, env.server.clock.now());
  expect(await verify(env, key, { username: 'bob', code: stolenToken, pin: PIN })).toMatchObject({
    status: 401,
    body: { error: 'invalid_code' },
  });
  expect(await verify(env, key, { username: 'bob', code, pin: PIN })).toMatchObject({
    status: 200,
    body: { method: 'temporary' },
  });
});

test('contractor: a 14-day code works; a longer lifetime is refused by the policy', async ({ page }) => {
  await createUser(env.h, 'carol', { pin: PIN, policy: 'contractors' });
  await signIn(page, env);
  await openUser(page, 'carol');
  await expect(page.getByRole('region', { name: 'Token' })).toContainText('does not allow enrolling one');
  const section = page.locator('#temporary-code');
  await expect(section).toContainText('The policy allows 5 minutes to 14 days');

  // 15 days: the console refuses before asking the server, and the server refuses it too.
  await section.getByLabel('Lifetime', { exact: true }).fill('15');
  await section.getByLabel('Lifetime: unit').selectOption('days');
  await section.getByRole('button', { name: 'Generate code' }).click();
  await expect(section.getByRole('alert')).toContainText('from 5 minutes to 14 days');
  await expect(page.locator('dialog')).toHaveCount(0);
  const direct = await env.h.http('POST', '/api/v1/admin/users/carol/temporary-code', {
    expiresInMinutes: 15 * 24 * 60,
    multiUse: true,
  });
  expect(direct.status).toBe(400);
  expect(direct.body.error).toBe('policy_violation');

  const { code } = await generateTemporaryCode(page, { amount: 14, unit: 'days', multiUse: true });
  await closeCodeDialog(page);
  env.server.clock.advance(13 * DAY);
  expect(await verify(env, key, { username: 'carol', code, pin: PIN })).toMatchObject({
    status: 200,
    body: { method: 'temporary' },
  });
  env.server.clock.advance(2 * DAY);
  expect(await verify(env, key, { username: 'carol', code, pin: PIN })).toMatchObject({ status: 401 });
});

test('revoke: after Revoke code the code no longer verifies', async ({ page }) => {
  await createUser(env.h, 'dave', { pin: PIN, withToken: true });
  await signIn(page, env);
  await openUser(page, 'dave');
  const { code } = await generateTemporaryCode(page, { amount: 8, unit: 'hours', multiUse: true });
  await closeCodeDialog(page);
  expect(await verify(env, key, { username: 'dave', code, pin: PIN })).toMatchObject({ status: 200 });
  await page.getByRole('button', { name: 'Revoke code' }).click();
  await page.getByRole('alertdialog').getByRole('button', { name: 'Revoke code' }).click();
  await expect(page.locator('#temporary-code')).toContainText('No active temporary code.');
  expect(await verify(env, key, { username: 'dave', code, pin: PIN })).toMatchObject({
    status: 401,
    body: { error: 'invalid_code' },
  });
});

test('replace: the user forgot the code; the new one works and the old one does not', async ({ page }) => {
  await createUser(env.h, 'erin', { pin: PIN, withToken: true });
  await signIn(page, env);
  await openUser(page, 'erin');
  const first = await generateTemporaryCode(page, { amount: 1, unit: 'days', multiUse: false });
  await closeCodeDialog(page);
  const second = await generateTemporaryCode(page, { amount: 1, unit: 'days', multiUse: false, replace: true });
  await closeCodeDialog(page);
  expect(second.code).not.toBe(first.code);
  expect(await verify(env, key, { username: 'erin', code: first.code, pin: PIN })).toMatchObject({ status: 401 });
  expect(await verify(env, key, { username: 'erin', code: second.code, pin: PIN })).toMatchObject({
    status: 200,
    body: { method: 'temporary' },
  });
  // Single-use: a second use fails.
  expect(await verify(env, key, { username: 'erin', code: second.code, pin: PIN })).toMatchObject({ status: 401 });
});

test('step-up: after 15 minutes the console asks for a fresh code and then finishes the action', async ({ page }) => {
  await createUser(env.h, 'frank', { pin: PIN, withToken: true });
  await signIn(page, env);
  await openUser(page, 'frank');
  env.server.clock.advance(16 * 60 * 1000);
  const section = page.locator('#temporary-code');
  await section.getByRole('button', { name: 'Generate code' }).click();
  const stepUpDialog = page.getByRole('dialog', { name: 'Confirm it is you' });
  await expect(stepUpDialog).toBeVisible();
  await stepUpDialog.getByLabel('Authenticator code').fill(nextTotp(env.server, env.h.adminTotpSecret));
  await stepUpDialog.getByRole('button', { name: 'Confirm' }).click();
  const dialog = page.getByRole('dialog', { name: 'Temporary code for frank' });
  await expect(dialog).toBeVisible();
  const code = (await dialog.locator('.code').textContent())!.trim();
  await closeCodeDialog(page);
  expect(await verify(env, key, { username: 'frank', code, pin: PIN })).toMatchObject({ status: 200 });
});

test('emergency code set: generated, printable, each code works once with the PIN, voided from the console', async ({
  page,
}) => {
  await createUser(env.h, 'gina', { pin: PIN });
  await signIn(page, env);
  await openUser(page, 'gina');
  await page.getByLabel('Number of codes').fill('4');
  await page.getByRole('button', { name: 'Generate emergency codes' }).click();
  const dialog = page.getByRole('dialog', { name: 'Emergency codes for gina' });
  await expect(dialog.locator('ol.codes li')).toHaveCount(4);
  await expect(dialog.getByRole('button', { name: 'Print' })).toBeVisible();
  const codes = await dialog.locator('ol.codes li').allTextContents();
  await closeCodeDialog(page);
  await expect(page.getByRole('region', { name: 'Emergency code sets' })).toContainText('4 of 4 codes unused');
  expect(await verify(env, key, { username: 'gina', code: codes[0]!, pin: PIN })).toMatchObject({
    status: 200,
    body: { method: 'emergency' },
  });
  expect(await verify(env, key, { username: 'gina', code: codes[0]!, pin: PIN })).toMatchObject({ status: 401 });
  // Voided from the console, the unused rest stop working.
  await page.reload();
  await signIn(page, env);
  await openUser(page, 'gina');
  await expect(page.getByRole('region', { name: 'Emergency code sets' })).toContainText('3 of 4 codes unused');
  await page.getByRole('button', { name: 'Void codes' }).click();
  await page.getByRole('alertdialog').getByRole('button', { name: 'Void codes' }).click();
  await expect(page.getByRole('button', { name: 'Void codes' })).toHaveCount(0);
  expect(await verify(env, key, { username: 'gina', code: codes[1]!, pin: PIN })).toMatchObject({ status: 401 });
});
