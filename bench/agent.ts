/**
 * The agent's prompt as a person meets it, in Chromium through the browser shell, against a real server and the
 * real agent core (run it inside a D-Bus session with gnome-keyring, like the tests):
 *
 *   dbus-run-session -- bash -c 'eval "$(printf pw\\n | gnome-keyring-daemon --unlock --components=secrets)"; npx tsx bench/agent.ts [-- --runs 15]'
 *
 * 1. Launch → interactive: from starting the agent (core: store and keychain; shell: listen) to the prompt's page
 *    being ready in a browser tab (config and status answered). Baseline: a bare node:http server serving a
 *    one-line page to the same browser.
 * 2. Enter → answer, online and offline: from pressing Enter in the Code field to the result being shown.
 *    Baseline: the same login called directly on the AgentService in Node (no browser, no HTTP), measured in
 *    the same run, so the ratio is what the renderer and the shell add.
 *    Offline is measured twice: with the production verifier KDF (scrypt N=2^11, r=8) and with a negligible one
 *    (N=2^4) for a second user, which is the answer time apart from the KDF.
 *
 * Medians over `--runs` runs; every login uses a fresh TOTP step (the shared clock moves 30 s per login).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chromium, type Page } from '@playwright/test';
import { launchBrowserShell, type LaunchedAgent } from '../src-main/browser-shell/launch.js';
import type { AgentDeps } from '../src-main/core/agent.js';
import { OsKeychain } from '../src-main/core/keychain.js';
import { bootstrap, createUser, type AdminHarness } from '../test/helpers/admin.js';
import { oathtool } from '../test/helpers/oathtool.js';
import { startTestServer, TEST_VERIFIER_FLOOR } from '../test/helpers/server.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '15' } } });
const RUNS = Number(values.runs);
const ROOT = path.resolve(import.meta.dirname, '..');
const PIN = '246810';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number) => `${x.toFixed(1)} ms`;

async function must(h: AdminHarness, what: string, method: string, p: string, body?: unknown) {
  const r = await h.http(method, p, body);
  if (r.status < 200 || r.status >= 300) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

async function bareLaunch(page: Page): Promise<number> {
  const t0 = performance.now();
  const server = createServer((_req, res) => res.end('<!doctype html><title>x</title><p>ready</p>'));
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  const t = performance.now() - t0;
  server.closeAllConnections();
  await new Promise<void>((ok) => server.close(() => ok()));
  return t;
}

/** Total time, and the part spent starting the core and the shell (store, keychain, listen) before the page loads. */
async function agentLaunch(page: Page, deps: AgentDeps): Promise<{ t: number; core: number; agent: LaunchedAgent }> {
  const t0 = performance.now();
  const agent = await launchBrowserShell({ deps, rendererDir: path.join(ROOT, 'src-renderer') });
  const core = performance.now() - t0;
  await page.goto(agent.shell.newLaunchUrl());
  await page.waitForSelector('body[data-ready="true"]');
  return { t: performance.now() - t0, core, agent };
}

/** Enter in the Code field → the result (not 'Checking…') on screen; the time is taken in the page. */
async function uiLogin(page: Page, username: string, code: string): Promise<number> {
  await page.fill('#username', username);
  await page.fill('#pin', PIN);
  await page.fill('#code', code);
  return page.evaluate(
    () =>
      new Promise<number>((resolve) => {
        const result = document.getElementById('result')!;
        const code = document.getElementById('code') as HTMLInputElement;
        const t0 = performance.now();
        const observer = new MutationObserver(() => {
          if (result.dataset.tone && result.dataset.tone !== 'info') {
            observer.disconnect();
            resolve(performance.now() - t0);
          }
        });
        observer.observe(result, { childList: true, subtree: true, attributes: true });
        code.form!.requestSubmit();
      }),
  );
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'lifeline-bench-agent-'));
  const server = await startTestServer();
  const h = await bootstrap(server);
  // One day of offline data keeps the background build short; the production KDF for 'real', a light one for 'light'.
  await must(h, 'policies', 'PATCH', '/api/v1/admin/settings', {
    policies: {
      default: { offline: { days: 1 } },
      light: { offline: { days: 1, verifierScrypt: { N: 16, r: 8, p: 1 } } },
    },
  });
  const real = await createUser(h, 'real', { pin: PIN, withToken: true });
  const light = await createUser(h, 'light', { pin: PIN, withToken: true, policy: 'light' });
  const { enrollmentSecret } = await must(h, 'secret', 'GET', '/api/v1/admin/devices/enrollment-secret');

  let online = true;
  const deps: AgentDeps = {
    config: {
      serverUrl: server.url,
      enrollmentSecret,
      serverKeyFingerprints: [server.ctx.keys.signing.fingerprint],
      dataDir,
      reachabilityBudgetMs: 2_000,
    },
    keychain: new OsKeychain(`lifeline-bench-${randomBytes(6).toString('hex')}`),
    machineId: { hash: async () => createHash('sha256').update('bench-workstation').digest('hex') },
    clock: server.clock,
    autoSync: false,
    verifierScryptFloor: TEST_VERIFIER_FLOOR, // for the 'light' user; 'real' hashes at the production default
    // The network switch: offline is a refused connection, decided at once (the reachability budget is not measured).
    fetch: (url, init) =>
      online ? fetch(url, init) : Promise.reject(new TypeError('fetch failed: connection refused')),
  };
  const step = () => {
    server.clock.set((Math.floor(server.clock.now() / 30_000) + 1) * 30_000 + 1_000);
    return server.clock.now();
  };

  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu'],
  });
  // One tab for everything, as a person keeps the prompt open: opening tabs is the browser's cost, not ours.
  const page = await browser.newPage();
  const launch: number[] = [];
  const coreStart: number[] = [];
  const bare: number[] = [];
  let agent: LaunchedAgent | undefined;
  for (let i = 0; i < RUNS; i++) {
    await page.goto('about:blank');
    await agent?.close();
    bare.push(await bareLaunch(page));
    const r = await agentLaunch(page, deps);
    launch.push(r.t);
    coreStart.push(r.core);
    agent = r.agent;
  }
  if (!agent) throw new Error('no runs');
  const device = await agent.core.ensureEnrolled(5_000);
  if (device?.status === 'pending')
    await must(h, 'approve', 'POST', `/api/v1/admin/devices/${device.deviceId}/approve`);

  // Warm-up: each user's first online login delivers a whole bundle and starts the background build of its
  // verifiers; measuring beside that build would time the build, not the prompt.
  for (const [user, secret] of [
    ['real', real.totpSecret!],
    ['light', light.totpSecret!],
  ] as const) {
    const answer = await agent.service.login({
      username: user,
      pin: PIN,
      code: oathtool(secret, step()),
      purpose: 'logon',
    });
    if (!answer.ok) throw new Error(`warm-up login failed: ${JSON.stringify(answer)}`);
  }
  await agent.core.whenIdle();

  const rows: Array<{ what: string; ui: number[]; direct: number[] }> = [];
  const onlineRow = { what: 'online (server decides)', ui: [] as number[], direct: [] as number[] };
  for (let i = 0; i < RUNS; i++) {
    await agent.core.whenIdle();
    onlineRow.ui.push(await uiLogin(page, 'real', oathtool(real.totpSecret!, step())));
    await agent.core.whenIdle();
    const code = oathtool(real.totpSecret!, step());
    const t0 = performance.now();
    const answer = await agent.service.login({ username: 'real', pin: PIN, code, purpose: 'logon' });
    onlineRow.direct.push(performance.now() - t0);
    if (!answer.ok) throw new Error(`online login failed: ${JSON.stringify(answer)}`);
  }
  rows.push(onlineRow);
  await agent.core.whenIdle(); // offline data for both users built before the offline runs

  online = false;
  for (const [label, user, secret] of [
    ['offline, production KDF (scrypt N=2^11)', 'real', real.totpSecret!],
    ['offline, KDF negligible (N=2^4): apart from the KDF', 'light', light.totpSecret!],
  ] as const) {
    const row = { what: label, ui: [] as number[], direct: [] as number[] };
    for (let i = 0; i < RUNS; i++) {
      await agent.core.whenIdle();
      row.ui.push(await uiLogin(page, user, oathtool(secret, step())));
      if (!(await page.textContent('#result'))?.includes('Signed in offline'))
        throw new Error(`offline login failed: ${await page.textContent('#result')}`);
      await agent.core.whenIdle();
      const code = oathtool(secret, step());
      const t0 = performance.now();
      const answer = await agent.service.login({ username: user, pin: PIN, code, purpose: 'logon' });
      row.direct.push(performance.now() - t0);
      if (!answer.ok || answer.mode !== 'offline')
        throw new Error(`direct offline login failed: ${JSON.stringify(answer)}`);
    }
    rows.push(row);
  }

  console.log(`\nbench/agent.ts — ${RUNS} runs each, medians\n`);
  console.log('| measure | browser shell + renderer | baseline | ratio |');
  console.log('|---|---:|---:|---:|');
  console.log(
    `| launch → prompt interactive | ${ms(median(launch))} (of which core and shell start: ${ms(median(coreStart))}) | ${ms(median(bare))} (bare page from node:http) | ${(median(launch) / median(bare)).toFixed(2)} |`,
  );
  for (const r of rows)
    console.log(
      `| Enter → answer, ${r.what} | ${ms(median(r.ui))} | ${ms(median(r.direct))} (AgentService.login in Node) | ${(median(r.ui) / median(r.direct)).toFixed(2)} |`,
    );

  await browser.close();
  await agent.close();
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
}

await main();
