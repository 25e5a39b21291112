import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { NodeCryptoPlugin } from '@otplib/plugin-crypto-node';
import { generate } from 'otplib';
import { launchBrowserShell, osMachineId, type LaunchedAgent } from '../src-main/browser-shell/launch.js';
import { OsKeychain } from '../src-main/core/keychain.js';
import { DB_FILE, KEY_FILE } from '../src-server/bootstrap.js';
import { listSigningKeys } from '../src-server/keyfile.js';
import { newTotpSecret } from '../src-server/services/totp.js';

/**
 * `npm start [-- --demo] [--port 8480] [--data ./data]`: the server (src-server/main.ts, as a child process) and an
 * agent enrolled to it and approved — Electron where its binary is installed, otherwise the browser shell — then
 * prints what to open and how to sign in. `--demo` also creates a demo user with a token and a PIN.
 *
 * A development launcher: on the first start it chooses the superadmin's password and TOTP secret and keeps them
 * in <data>/dev-admin.json (mode 0600) so later runs can approve the agent through the admin API.
 */

const ROOT = path.resolve(import.meta.dirname, '..');
const DEV_ADMIN_FILE = 'dev-admin.json';
const KEYCHAIN_SERVICE = 'lifeline-agent-dev';

const { values: args } = parseArgs({
  options: {
    demo: { type: 'boolean', default: false },
    port: { type: 'string', default: '8480' },
    data: { type: 'string', default: './data' },
    'browser-shell': { type: 'boolean', default: false },
  },
});
const port = Number(args.port);
if (!/^[0-9]{1,5}$/.test(args.port) || port < 1 || port > 65_535) {
  process.stderr.write(`npm start: --port must be a port number from 1 to 65535 (got "${args.port}")\n`);
  process.exit(2);
}
const dataDir = path.resolve(args.data);
const agentDir = path.join(dataDir, 'agent');
const say = (s = '') => process.stdout.write(s + '\n');

interface DevAdmin {
  username: string;
  password: string;
  totpSecret: string;
}

/** First start: choose the superadmin's credentials; later: read them back (absent if the data came from elsewhere). */
function devAdmin(): { admin: DevAdmin | undefined; firstStart: boolean } {
  const file = path.join(dataDir, DEV_ADMIN_FILE);
  if (existsSync(file)) return { admin: JSON.parse(readFileSync(file, 'utf8')) as DevAdmin, firstStart: false };
  if (existsSync(path.join(dataDir, DB_FILE))) return { admin: undefined, firstStart: false };
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const admin = { username: 'admin', password: randomBytes(18).toString('base64url'), totpSecret: newTotpSecret() };
  writeFileSync(file, JSON.stringify(admin, null, 2) + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return { admin, firstStart: true };
}

function buildWeb(): void {
  const r = spawnSync(path.join(ROOT, 'node_modules/.bin/tsx'), ['scripts/build-web.ts'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  if (r.status !== 0 && !existsSync(path.join(ROOT, 'src-renderer/dist/renderer.js')))
    throw new Error('building the renderer failed');
}

/** Starts src-server/main.ts and resolves with its URL once it listens. */
function startServer(admin: DevAdmin | undefined, firstStart: boolean): Promise<{ child: ChildProcess; url: string }> {
  const env = {
    ...process.env,
    LIFELINE_LOG_LEVEL: process.env.LIFELINE_LOG_LEVEL ?? 'warn',
    ...(firstStart && admin
      ? { LIFELINE_ADMIN_PASSWORD: admin.password, LIFELINE_ADMIN_TOTP_SECRET: admin.totpSecret }
      : {}),
  };
  const child = spawn(
    path.join(ROOT, 'node_modules/.bin/tsx'),
    ['src-server/main.ts', '--port', String(port), '--data', dataDir],
    { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the server exited (code ${code}) before it listened`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /^Lifeline server: (\S+)/.exec(line);
      if (m) resolve({ child, url: m[1]! });
      else if (line.trim()) say(`[server] ${line}`);
    });
  });
}

async function api(
  base: string,
  token: string | undefined,
  method: string,
  p: string,
  body?: unknown,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
): Promise<{ status: number; body: any }> {
  const res = await fetch(base + p, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function must(what: string, r: Promise<{ status: number; body: any }>): Promise<any> {
  const res = await r;
  if (res.status < 200 || res.status >= 300) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** The code of the TOTP step `stepsBack` steps before now (the server accepts ±1 step for clock drift). */
const totp = (secret: string, stepsBack = 0) =>
  generate({ secret, crypto: new NodeCryptoPlugin(), epoch: Math.floor(Date.now() / 1000) - 30 * stepsBack });

/**
 * Each TOTP step signs in once, and the person who reads the printed `oathtool` command signs in with the current
 * step's code a moment later. So npm start signs in with the previous step's code (still within the server's drift
 * window), which leaves the current step to the person; only when that is spent too (a second run in the same
 * step) does it try the current one, and then it waits for the next step.
 */
async function adminLogin(url: string, admin: DevAdmin): Promise<string> {
  for (const stepsBack of [1, 0, 'wait'] as const) {
    if (stepsBack === 'wait') await new Promise((ok) => setTimeout(ok, 30_000 - (Date.now() % 30_000) + 500));
    const r = await api(url, undefined, 'POST', '/api/v1/admin/sessions', {
      username: admin.username,
      password: admin.password,
      otp: await totp(admin.totpSecret, stepsBack === 'wait' ? 0 : stepsBack),
    });
    if (r.status === 200) return r.body.token as string;
    if (stepsBack === 'wait') throw new Error(`admin sign-in failed: ${r.status} ${JSON.stringify(r.body)}`);
  }
  throw new Error('unreachable');
}

/** The demo user: a fresh token each run (its secret is shown only when enrolled) and a new PIN. */
async function demoUser(url: string, token: string): Promise<{ username: string; pin: string; secret: string }> {
  const username = 'demo';
  const exists = await api(url, token, 'GET', `/api/v1/admin/users/${username}`);
  if (exists.status === 404)
    await must('create demo user', api(url, token, 'POST', '/api/v1/admin/users', { username }));
  else await api(url, token, 'DELETE', `/api/v1/admin/users/${username}/token`);
  const pin = String(randomInt(100_000, 1_000_000));
  await must('set demo PIN', api(url, token, 'PUT', `/api/v1/admin/users/${username}/pin`, { pin }));
  const enrolled = await must(
    'enroll demo token',
    api(url, token, 'POST', `/api/v1/admin/users/${username}/token`, {}),
  );
  const secret = new URL(enrolled.otpauthUri as string).searchParams.get('secret')!;
  return { username, pin, secret };
}

/** Approves pending devices of this machine as they enroll (an Electron agent enrolls at its first sign-in). */
function approveThisMachine(url: string, token: string, until: number): void {
  const tick = async (): Promise<void> => {
    const mine = await osMachineId().hash();
    const list = await api(url, token, 'GET', '/api/v1/admin/devices?status=pending');
    for (const d of (list.body?.devices ?? []) as Array<{ deviceId: string; machineIdHash: string }>) {
      if (d.machineIdHash === mine) await api(url, token, 'POST', `/api/v1/admin/devices/${d.deviceId}/approve`);
    }
    if (Date.now() < until) setTimeout(() => void tick().catch(() => undefined), 2_000).unref();
  };
  void tick().catch(() => undefined);
}

/** Electron's binary is installed when path.txt names a file under node_modules/electron/dist. */
function electronBinary(): string | undefined {
  const dir = path.join(ROOT, 'node_modules/electron');
  const pathTxt = path.join(dir, 'path.txt');
  if (!existsSync(pathTxt)) return undefined;
  const bin = path.join(dir, 'dist', readFileSync(pathTxt, 'utf8').trim());
  return existsSync(bin) ? bin : undefined;
}

const children: ChildProcess[] = [];
let agent: LaunchedAgent | undefined;

async function stop(): Promise<void> {
  await agent?.close().catch(() => undefined);
  for (const c of children) c.kill('SIGTERM');
}

/** True when nothing listens on 127.0.0.1:port (where the server listens by default). */
function portIsFree(p: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer().once('error', () => resolve(false));
    probe.listen(p, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

async function main(): Promise<void> {
  if (!(await portIsFree(port))) {
    throw new Error(
      `port ${port} is taken (another Lifeline or another program listens on it); pick another with: npm start -- --port ${port + 1}`,
    );
  }
  buildWeb();
  const { admin, firstStart } = devAdmin();
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => void stop().then(() => process.exit(0)));
  const server = await startServer(admin, firstStart);
  children.push(server.child);

  const token = admin ? await adminLogin(server.url, admin) : undefined;
  const enrollmentSecret = token
    ? ((await must('enrollment secret', api(server.url, token, 'GET', '/api/v1/admin/devices/enrollment-secret')))
        .enrollmentSecret as string)
    : undefined;
  const fingerprints = listSigningKeys(path.join(dataDir, KEY_FILE))
    .filter((k) => k.state !== 'retired')
    .map((k) => k.fingerprint);
  const demo = args.demo && token ? await demoUser(server.url, token) : undefined;

  say('');
  say('Lifeline is running.');
  say(`  Server:   ${server.url}   console: ${server.url}/console`);
  if (admin)
    say(
      `  Admin:    ${admin.username} / ${admin.password}   codes: oathtool --totp -b ${admin.totpSecret}   (kept in ${path.join(dataDir, DEV_ADMIN_FILE)})`,
    );
  else
    say(
      `  Admin:    this data folder was not created by npm start; sign in with your own superadmin and approve the agent under Devices.`,
    );

  if (!enrollmentSecret) {
    say('  Agent:    not started (the enrollment secret needs an admin session).');
  } else if (electronBinary() && !args['browser-shell']) {
    mkdirSync(agentDir, { recursive: true, mode: 0o700 });
    const settingsFile = path.join(agentDir, 'settings.json');
    writeFileSync(
      settingsFile,
      JSON.stringify({ serverUrl: server.url, enrollmentSecret, serverKeyFingerprints: fingerprints }, null, 2),
      { mode: 0o600 },
    );
    const { buildElectronShell } = await import('../src-main/electron/build.js');
    await buildElectronShell();
    children.push(
      spawn(electronBinary()!, ['.', `--lifeline-settings=${settingsFile}`, `--lifeline-data=${agentDir}`], {
        cwd: ROOT,
        stdio: 'inherit',
      }),
    );
    approveThisMachine(server.url, token!, Date.now() + 10 * 60_000);
    say('  Agent:    the Electron prompt is opening (tray icon: Lifeline); this machine is approved when it enrolls.');
  } else {
    agent = await launchBrowserShell({
      rendererDir: path.join(ROOT, 'src-renderer'),
      deps: {
        config: {
          serverUrl: server.url,
          enrollmentSecret,
          serverKeyFingerprints: fingerprints,
          dataDir: agentDir,
          keychainService: KEYCHAIN_SERVICE,
        },
        keychain: new OsKeychain(KEYCHAIN_SERVICE),
        machineId: osMachineId(),
      },
    });
    if (agent.core.offlineError) {
      say(`  Note:     the agent's store is unavailable on this machine: ${agent.core.offlineError.message}`);
      say(
        '            To try the agent on a machine without a desktop keyring, give it a throwaway one (it lives as long as the session):',
      );
      say(
        `            bash scripts/with-throwaway-keyring.sh npm start -- --demo --data ./data-trial --port ${port + 1}`,
      );
    } else {
      const device = await agent.core.ensureEnrolled(5_000);
      if (device?.status === 'pending' && device.deviceId)
        await must('approve agent', api(server.url, token, 'POST', `/api/v1/admin/devices/${device.deviceId}/approve`));
    }
    say(`  Agent:    open ${agent.shell.newLaunchUrl()}`);
    say('            (a one-time link, browser shell: Electron is not installed here; press Enter for a new link)');
    process.stdin.on('data', () => say(`  Agent:    open ${agent!.shell.newLaunchUrl()}`));
  }
  if (demo) {
    say(`  Demo:     user ${demo.username}, PIN ${demo.pin}`);
    say(`            token codes: oathtool --totp -b ${demo.secret}`);
    say('            sign in once online to download offline data; then stop the server to try offline mode.');
  } else if (args.demo) {
    say('  Demo:     not created (needs the admin credentials npm start keeps in the data folder).');
  }
  say('Press Ctrl+C to stop.');
}

main().catch(async (err: unknown) => {
  process.stderr.write(`npm start: ${err instanceof Error ? err.message : String(err)}\n`);
  await stop();
  process.exit(1);
});
