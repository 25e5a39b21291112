import { AxeBuilder } from '@axe-core/playwright';
import { expect, test } from '@playwright/test';
import { approve, slotVerifiers, tokenLogin, world, type World } from '../integration/agent/harness.js';
import { openUser, signIn } from './console-support.js';

/**
 * A field user offline (RSA offline emergency access): the agent core (real store, real keychain) shows a request,
 * the helpdesk types it into the console with a reason, reads back the code, and the agent accepts it offline.
 * Needs the Secret Service of the test session (scripts/test-in-session.sh).
 */
let w: World;

test.beforeAll(async () => {
  w = await world();
  await tokenLogin(w);
  await approve(w);
  await tokenLogin(w); // now approved: this login brings the offline data and the emergency slots
  expect(slotVerifiers(w.agent)).toBeGreaterThan(0);
});
test.afterAll(async () => {
  await w?.close();
});

test('offline emergency access: request → reason → code read back → accepted by the agent offline, once', async ({
  page,
}) => {
  await w.relay.down();
  const shown = w.agent.emergencyRequest('alice');
  if (!shown.ok) throw new Error(`no request: ${JSON.stringify(shown)}`);

  await signIn(page, { server: w.server, h: w.h });
  await page.getByRole('link', { name: 'Offline emergency access' }).click();
  const requestField = page.getByLabel('Request the user reads to you');

  // A misheard symbol is caught by the check symbol before anything is revealed.
  const wrong = shown.request.replace(/[0-9A-Z]/i, (c) => (c === '7' ? '8' : '7'));
  await requestField.fill(wrong);
  await page.getByLabel('Reason (recorded in the audit log)').fill('phone left at home');
  await page.getByRole('button', { name: 'Get the code' }).click();
  await expect(page.getByRole('alert')).toContainText(/check character does not match|16 letters/);
  await expect(page.locator('dialog')).toHaveCount(0);

  // The reason is required.
  await requestField.fill(shown.request.toLowerCase());
  await page.getByLabel('Reason (recorded in the audit log)').fill('');
  await page.getByRole('button', { name: 'Get the code' }).click();
  await expect(page.locator('dialog')).toHaveCount(0);

  await page
    .getByLabel('Reason (recorded in the audit log)')
    .fill('field visit, no phone signal, token left in the car');
  await page.getByRole('button', { name: 'Get the code' }).click();
  const dialog = page.getByRole('dialog', { name: 'Offline emergency code for alice' });
  await expect(dialog).toContainText(`device ${w.agent.device().deviceId}`);
  await expect(dialog.locator('.code')).toBeHidden();
  const serious = async () =>
    (await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze()).violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => v.id);
  expect(await serious()).toEqual([]);
  await dialog.getByRole('button', { name: 'The caller is alice: show the code' }).click();
  expect(await serious()).toEqual([]);
  const code = (await dialog.locator('.code').textContent())!.trim();
  await expect(dialog).toContainText('It works once, only for alice on this workstation.');
  await dialog.getByRole('button', { name: 'Done' }).click();
  await expect(page.locator('dialog')).toHaveCount(0);
  expect(await page.content()).not.toContain(code);

  expect(await w.agent.emergencySubmit({ username: 'alice', code })).toMatchObject({
    ok: true,
    mode: 'offline',
    method: 'offline-emergency',
  });
  expect(await w.agent.emergencySubmit({ username: 'alice', code })).toMatchObject({ ok: false });

  // The user page lists the workstation that holds alice's offline data.
  await openUser(page, 'alice');
  await expect(page.getByRole('region', { name: 'Devices' })).toContainText(
    w.agent.device().deviceId ?? 'no device id',
  );

  // RSA's reset for this user on this workstation, from the user page.
  await page.getByRole('button', { name: /^Reset offline data on / }).click();
  await page.getByRole('alertdialog').getByRole('button', { name: 'Reset offline data' }).click();
  await expect(page.getByRole('status')).toContainText('is reset');
  const resets = (await w.h.http('GET', '/api/v1/admin/audit?type=device.reset-offline')).body.events as {
    subject: string | null;
    device: string | null;
  }[];
  expect(resets.at(0)).toMatchObject({ subject: 'alice', device: w.agent.device().deviceId });

  // The reveal is audited with its reason, never with the code.
  const reveals = (await w.h.http('GET', '/api/v1/admin/audit?type=offline.emergency-reveal')).body.events as {
    reason: string | null;
    subject: string | null;
  }[];
  expect(reveals.at(0)).toMatchObject({
    subject: 'alice',
    reason: 'field visit, no phone signal, token left in the car',
  });
  expect(JSON.stringify(reveals)).not.toContain(code.replace(/-/g, ''));
});
