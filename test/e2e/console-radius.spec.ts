import { expect, test } from '@playwright/test';
import { startRadiusServer, type RadiusServer } from '../../src-server/radius/server.js';
import { createAdminAndLogin, createUser, nextTotp } from '../helpers/admin.js';
import { oathtool } from '../helpers/oathtool.js';
import { radclient } from '../integration/radius/radclient.js';
import { TestDevice } from '../integration/devices/test-device.js';
import {
  freshApiSession,
  pageHolds,
  seriousA11yViolations,
  signIn,
  startConsole,
  type ConsoleEnv,
} from './console-support.js';

/**
 * RADIUS clients in the console: a gateway registered on the page gets a shared secret shown once, FreeRADIUS's
 * radclient proves that secret works against the real RADIUS listener, and deleting the client on the page makes the
 * listener drop the next request. Also the devices page's agent versions, where IT finds stragglers.
 */
let env: ConsoleEnv;
let radius: RadiusServer;
let aliceSecret: string;
const PIN = '482916';
test.use({ viewport: { width: 1280, height: 860 }, locale: 'en-GB', timezoneId: 'UTC' });

test.beforeAll(async () => {
  env = await startConsole();
  aliceSecret = (await createUser(env.h, 'alice', { pin: PIN, withToken: true })).totpSecret!;
  radius = await startRadiusServer(env.server.ctx, { host: '127.0.0.1', port: 0, admission: env.server.app.admission });
});
test.afterAll(async () => {
  await radius?.close();
  await env?.server.close();
});
test.beforeEach(async () => {
  await freshApiSession(env);
});

/** PIN + alice's token code of a fresh step (every TOTP step is accepted once), as the gateway would send it. */
function accessRequest(secret: string): ReturnType<typeof radclient> {
  env.server.clock.set((Math.floor(env.server.clock.now() / 30_000) + 1) * 30_000 + 2_000);
  const code = oathtool(aliceSecret, env.server.clock.now());
  return radclient(radius.port, secret, { 'User-Name': 'alice', 'User-Password': PIN + code });
}

test('register a RADIUS client: secret shown once, accepted by radclient; deleted after step-up, then requests are dropped', async ({
  page,
}) => {
  await signIn(page, env);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'RADIUS clients' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'RADIUS clients' })).toBeVisible();
  await expect(page.getByText('No RADIUS client is registered.')).toBeVisible();

  // BlastRADIUS protection is on by default; turning it off shows why it matters, in words.
  const requireMa = page.getByLabel('Require Message-Authenticator');
  await expect(requireMa).toBeChecked();
  await expect(page.getByText(/CVE-2024-3596/)).toBeHidden();
  await requireMa.uncheck();
  await expect(page.getByRole('alert').filter({ hasText: 'BlastRADIUS, CVE-2024-3596' })).toBeVisible();
  expect(await seriousA11yViolations(page)).toEqual([]);
  await requireMa.check();
  await expect(page.getByText(/CVE-2024-3596/)).toBeHidden();

  await page.getByLabel('Name').fill('vpn-gw-1');
  await page.getByLabel('Allowed source addresses').fill('127.0.0.1/32, 192.0.2.10');
  await page.getByRole('button', { name: 'Register RADIUS client' }).click();
  const dialog = page.getByRole('dialog', { name: 'Shared secret for vpn-gw-1' });
  await expect(dialog).toBeVisible();
  await expect(dialog).toContainText('shown only this once');
  const secret = (await dialog.locator('.code').textContent())!.trim();
  expect(secret).toMatch(/^[0-9a-f]{32}$/);
  expect(await seriousA11yViolations(page)).toEqual([]);
  expect(await pageHolds(page, [secret])).toContain(`DOM of ${page.url()}`); // the check can see it while shown

  const later: { url: string; body: string }[] = [];
  page.on('response', (res) => {
    void res
      .text()
      .then((body) => later.push({ url: res.url(), body }))
      .catch(() => undefined);
  });
  await dialog.getByRole('button', { name: 'Done' }).click();
  await expect(page.locator('dialog')).toHaveCount(0);
  const list = page.getByRole('table', { name: 'Registered RADIUS clients' });
  await expect(list.getByRole('row', { name: /vpn-gw-1/ })).toContainText('127.0.0.1/32, 192.0.2.10');
  await expect(list.getByRole('row', { name: /vpn-gw-1/ })).toContainText('Required');
  expect(await pageHolds(page, [secret])).toEqual([]);
  expect(await seriousA11yViolations(page)).toEqual([]);
  await page.screenshot({ path: 'docs/img/console-radius-clients.png', fullPage: true });

  // The registration is real: FreeRADIUS's radclient, signing with the secret the dialog showed, gets Access-Accept.
  const accepted = await accessRequest(secret);
  expect(accepted.code, accepted.output).toBe('Access-Accept');

  // The secret is in no page, storage or later response.
  for (const hash of ['#/users', '#/audit', '#/admin/clients', '#/admin/devices', '#/admin/radius-clients']) {
    await page.evaluate((h) => {
      location.hash = h;
    }, hash);
    await expect(page.locator('main h1')).toBeVisible();
    await page.waitForLoadState('networkidle');
    expect(await pageHolds(page, [secret])).toEqual([]);
  }
  expect(later.length).toBeGreaterThan(4);
  for (const r of later) expect(r.body.includes(secret), `${r.url} carries the secret`).toBe(false);

  // Deleting is a high-assurance action: 16 minutes after sign-in the console asks for a fresh code, then retries.
  env.server.clock.advance(16 * 60 * 1000);
  await page.getByRole('button', { name: 'Delete vpn-gw-1' }).click();
  const confirm = page.getByRole('alertdialog', { name: 'Delete vpn-gw-1?' });
  await expect(confirm).toContainText('dropped at once');
  await confirm.getByRole('button', { name: 'Delete client' }).click();
  const stepUp = page.getByRole('dialog', { name: 'Confirm it is you' });
  await stepUp.getByLabel('Authenticator code').fill(nextTotp(env.server, env.h.adminTotpSecret));
  await stepUp.getByRole('button', { name: 'Confirm' }).click();
  await expect(page.getByText('No RADIUS client is registered.')).toBeVisible();
  await expect(page.getByRole('status')).toContainText('vpn-gw-1 deleted.');

  // Its packets now come from an unknown source: dropped silently, so radclient hears nothing.
  const droppedBefore = radius.stats.dropped.unknownSource;
  const dropped = await accessRequest(secret);
  expect(dropped.code, dropped.output).toBeUndefined();
  expect(radius.stats.dropped.unknownSource).toBe(droppedBefore + 1);
});

test('an admin without clients.manage sees no RADIUS page in the menu and is refused at its address', async ({
  page,
}) => {
  const hugo = await createAdminAndLogin(env.h, 'hugo', ['helpdesk']);
  await signIn(page, env, { username: 'hugo', password: hugo.password, totpSecret: hugo.totpSecret });
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav.getByRole('link', { name: 'Users', exact: true })).toBeVisible();
  await expect(nav.getByRole('link', { name: 'RADIUS clients' })).toHaveCount(0);
  await page.evaluate(() => {
    location.hash = '#/admin/radius-clients';
  });
  await expect(page.getByRole('heading', { level: 1, name: 'Not allowed' })).toBeVisible();
  await expect(page.getByLabel('Name')).toHaveCount(0);
});

test('devices: each agent version is listed and the ones older than the newest are marked outdated', async ({
  page,
}) => {
  const enrollmentSecret = (await env.h.http('GET', '/api/v1/admin/devices/enrollment-secret')).body
    .enrollmentSecret as string;
  const current = new TestDevice(env.server, 'ws-current-01');
  const straggler = new TestDevice(env.server, 'ws-straggler-02');
  expect((await current.enroll(enrollmentSecret)).status).toBe(200);
  expect((await straggler.enroll(enrollmentSecret)).status).toBe(200);
  // The simulated agent always reports 0.1.0-test; the column the sync writes stands in for an upgraded agent here.
  await env.server.ctx.db.run('UPDATE devices SET agent_version = ? WHERE id = ?', ['0.2.0', current.deviceId]);

  await signIn(page, env);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Devices' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Devices' })).toBeVisible();
  await expect(page.locator('#agent-versions')).toHaveText(
    'Newest agent version seen: 0.2.0. 1 device runs an older version (marked “outdated” below).',
  );
  const rowOf = (host: string) => page.getByRole('row', { name: new RegExp(host) });
  await expect(rowOf('ws-current-01')).toContainText('0.2.0');
  await expect(rowOf('ws-current-01')).not.toContainText('outdated');
  await expect(rowOf('ws-straggler-02')).toContainText('0.1.0-test outdated');
  expect(await seriousA11yViolations(page)).toEqual([]);
});
