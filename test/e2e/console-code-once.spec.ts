import { expect, test } from '@playwright/test';
import { appendAudit } from '../../src-server/services/audit.js';
import { createUser, enableTemporaryCodes } from '../helpers/admin.js';
import {
  apiClientKey,
  closeCodeDialog,
  generateTemporaryCode,
  openUser,
  pageHolds,
  signIn,
  startConsole,
  verify,
  type ConsoleEnv,
} from './console-support.js';

/**
 * "After you click Done, the code is hidden from view and cannot be viewed again" (Imprivata, Salesforce): after the
 * dialog closes, no page, no storage and no later response carries the code; and the audit export is safe to open
 * in a spreadsheet.
 */
let env: ConsoleEnv;
const PIN = '482916';

test.beforeAll(async () => {
  env = await startConsole();
  await enableTemporaryCodes(env.h);
  await createUser(env.h, 'kim', { pin: PIN, withToken: true });
});
test.afterAll(async () => {
  await env.server.close();
});

/** Every spelling of the code someone could find: as shown, without dashes, lower case. */
function spellings(code: string): string[] {
  const bare = code.replace(/-/g, '');
  return [code, bare, bare.toLowerCase()];
}

test('after Done the code is nowhere: not in any page, storage or later response', async ({ page }) => {
  const key = await apiClientKey(env);
  await signIn(page, env);
  await openUser(page, 'kim');
  const { code } = await generateTemporaryCode(page, { amount: 2, unit: 'days', multiUse: true });
  const needles = spellings(code);
  expect(await pageHolds(page, needles)).toContain(`DOM of ${page.url()}`); // the check can see it while shown

  const later: { url: string; body: string }[] = [];
  page.on('response', (res) => {
    void res
      .text()
      .then((body) => later.push({ url: res.url(), body }))
      .catch(() => undefined);
  });
  await closeCodeDialog(page);
  expect(await pageHolds(page, needles)).toEqual([]);

  // Walk every page the admin can reach, and the user page again.
  const pages = [
    '#/users',
    '#/emergency-access',
    '#/audit',
    '#/admin/settings',
    '#/admin/roles',
    '#/admin/admins',
    '#/admin/clients',
    '#/admin/devices',
  ];
  for (const hash of pages) {
    await page.evaluate((h) => {
      location.hash = h;
    }, hash);
    await expect(page.locator('main h1')).toBeVisible();
    await page.waitForLoadState('networkidle');
    expect(await pageHolds(page, needles)).toEqual([]);
  }
  await openUser(page, 'kim');
  await expect(page.locator('#temporary-code')).toContainText('An active multi-use code expires');
  expect(await pageHolds(page, needles)).toEqual([]);
  await page.waitForLoadState('networkidle');
  expect(later.length).toBeGreaterThan(10);
  for (const r of later) for (const n of needles) expect(r.body.includes(n), `${r.url} carries the code`).toBe(false);

  // The code is still valid: it was hidden, not revoked.
  expect(await verify(env, key, { username: 'kim', code, pin: PIN })).toMatchObject({
    status: 200,
    body: { method: 'temporary' },
  });
});

test('audit: filters, the per-day chart and a CSV export whose formula-like cells are escaped', async ({ page }) => {
  // A reason typed by someone outside the helpdesk could be a spreadsheet formula.
  await appendAudit(env.server.ctx.db, env.server.ctx, {
    type: 'device.offline-success',
    outcome: 'success',
    actorKind: 'device',
    actor: 'DEV0000001',
    subject: 'kim',
    reason: '=HYPERLINK("http://evil.example","x")',
  });
  await appendAudit(env.server.ctx.db, env.server.ctx, {
    type: 'device.offline-failure',
    outcome: 'failure',
    actorKind: 'device',
    actor: 'DEV0000001',
    subject: 'kim',
    reason: '@SUM(1+1)',
  });
  await signIn(page, env);
  await page.getByRole('link', { name: 'Audit' }).click();
  // Wait for the page itself: until it replaces the users page, 'User' also names that page's fields.
  await expect(page.getByRole('heading', { level: 1, name: 'Audit' })).toBeVisible();
  await page.getByLabel('User', { exact: true }).fill('kim');
  await page.getByRole('button', { name: 'Apply filter' }).click();
  const table = page.getByRole('table', { name: /Audit events/ });
  await expect(table).toContainText('temporary-code.issue');
  await expect(table).toContainText('device.offline-failure');
  await expect(table).not.toContainText('admin.login');

  await page.getByLabel('Event type').fill('temporary-code');
  await page.getByRole('button', { name: 'Apply filter' }).click();
  await expect(table).toContainText('temporary-code.issue');
  await expect(table).not.toContainText('device.offline');

  // The chart counts today (the server's day): one code issued, one verification, one offline use (the failure is not a use) for kim.
  await page.getByLabel('Event type').fill('');
  await page.getByRole('button', { name: 'Apply filter' }).click();
  const today = new Date(env.server.clock.now()).toISOString().slice(0, 10);
  const chart = page.getByRole('figure');
  await expect(chart.getByRole('img')).toHaveAttribute('aria-label', /1 codes issued, 1 verifications, 1 offline uses/);
  await chart.getByText('Numbers per day').click();
  await expect(chart.getByRole('row', { name: new RegExp(`^${today}`) })).toHaveText(
    new RegExp(`${today}\\s*1\\s*1\\s*1`),
  );

  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Export CSV' }).click(),
  ]);
  const csv = await (
    await download.createReadStream()
  )
    .toArray()
    .then((chunks) => Buffer.concat(chunks).toString('utf8'));
  expect(csv.split('\r\n')[0]).toBe(
    'id,time_utc,type,outcome,actor_kind,actor,subject,device,purpose,method,reason,details',
  );
  expect(csv).toContain(`"'=HYPERLINK(""http://evil.example"",""x"")"`);
  expect(csv).toContain("'@SUM(1+1)");
  expect(csv).not.toMatch(/(^|,)[=+\-@]/m);
});
