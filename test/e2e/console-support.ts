import { execFileSync } from 'node:child_process';
import { expect, type Page } from '@playwright/test';
import { bootstrap, nextTotp, TEST_ADMIN_PASSWORD, type AdminHarness } from '../helpers/admin.js';
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
export async function signIn(page: Page, env: ConsoleEnv, who: { username: string; password: string; totpSecret: string } = { username: 'admin', password: TEST_ADMIN_PASSWORD, totpSecret: env.h.adminTotpSecret }): Promise<void> {
  await page.goto(`${env.server.url}/console`);
  await page.getByLabel('Administrator name').fill(who.username);
  await page.getByLabel('Password').fill(who.password);
  await page.getByLabel('Authenticator code').fill(nextTotp(env.server, who.totpSecret));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Users' })).toBeVisible();
}
