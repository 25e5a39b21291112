import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowserShell, type LaunchedAgent } from '../../../src-main/browser-shell/launch.js';
import { LOG_FILE_NAME } from '../../../src-main/core/logger.js';
import { KEYCHAIN } from '../../../src-main/core/store/store.js';
import { STORE_FILE } from '../../../src-main/core/store/files.js';
import { bootstrap, createUser, type AdminHarness } from '../../helpers/admin.js';
import { oathtool } from '../../helpers/oathtool.js';
import { startTestServer, TEST_VERIFIER_FLOOR, type TestServer } from '../../helpers/server.js';
import { Relay } from './harness.js';
import { machine, TEST_SCRYPT, testKeychain } from './support.js';

/**
 * The agent's log file, written by the browser shell's launcher (src-main/browser-shell/launch.ts) around the real
 * core with its real keychain, against a real server: real logins online and offline, right and wrong codes and
 * PINs, then a store lost under the agent. The warnings that matter land in the file; no code, PIN, key or
 * verifier does.
 */

const PIN = '246810';
const RENDERER_DIR = path.resolve(import.meta.dirname, '../../../src-renderer');

let server: TestServer;
let h: AdminHarness;
let relay: Relay;
let dataDir: string;
let agent: LaunchedAgent;
const keychain = testKeychain();
const secrets = new Set<string>([PIN]);
let totpSecret = '';
let enrollmentSecret = '';

function code(): string {
  server.clock.set((Math.floor(server.clock.now() / 30_000) + 1) * 30_000 + 1_000);
  const c = oathtool(totpSecret, server.clock.now());
  secrets.add(c);
  return c;
}
const wrongCode = (right: string) => (right === '000000' ? '111111' : '000000');

async function launch(): Promise<LaunchedAgent> {
  return launchBrowserShell({
    rendererDir: RENDERER_DIR,
    log: { level: 'info', console: false },
    deps: {
      config: {
        serverUrl: `http://127.0.0.1:${relay.port}`,
        enrollmentSecret,
        serverKeyFingerprints: server.ctx.keys.allSigningKeys.map((k) => k.fingerprint),
        dataDir,
        reachabilityBudgetMs: 2_000,
      },
      keychain,
      machineId: machine('log-workstation'),
      clock: { now: () => server.clock.now() },
      autoSync: false,
      verifierScryptFloor: TEST_VERIFIER_FLOOR,
    },
  });
}

function logText(): string {
  const file = path.join(dataDir, 'logs', LOG_FILE_NAME);
  return [file, `${file}.1`, `${file}.2`]
    .filter(existsSync)
    .map((f) => readFileSync(f, 'utf8'))
    .join('');
}
const logLines = () =>
  logText()
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { level: number; msg: string });

beforeAll(async () => {
  server = await startTestServer();
  h = await bootstrap(server);
  const patch = await h.http('PATCH', '/api/v1/admin/settings', {
    policies: { default: { offline: { days: 1, verifierScrypt: TEST_SCRYPT } } },
  });
  expect(patch.status).toBe(200);
  enrollmentSecret = (await h.http('GET', '/api/v1/admin/devices/enrollment-secret')).body.enrollmentSecret as string;
  secrets.add(enrollmentSecret);
  totpSecret = (await createUser(h, 'alice', { pin: PIN, withToken: true })).totpSecret!;
  secrets.add(totpSecret);
  relay = new Relay(Number(new URL(server.url).port));
  await relay.up();
  dataDir = mkdtempSync(path.join(tmpdir(), 'lifeline-agent-log-'));
  agent = await launch();
}, 60_000);

afterAll(async () => {
  await agent?.close();
  await relay?.down();
  await server?.close();
  for (const name of Object.values(KEYCHAIN)) await keychain.delete(name).catch(() => false);
  rmSync(dataDir, { recursive: true, force: true });
});

describe('agent log file', () => {
  it('records the warnings of real logins and a lost store, and never a code, PIN, key or verifier', async () => {
    const login = (pin: string, c: string) => agent.core.login({ username: 'alice', pin, code: c, purpose: 'logon' });

    // Online: enrolls (pending), is approved, and the next right login brings offline data.
    expect(await login(PIN, code())).toMatchObject({ ok: true, mode: 'online' });
    const id = agent.core.device().deviceId;
    expect((await h.http('POST', `/api/v1/admin/devices/${id}/approve`, {})).status).toBe(200);
    expect(await login(PIN, code())).toMatchObject({ ok: true, mode: 'online' });
    await agent.core.whenIdle();
    const store = agent.core.store!;
    const sealed = store
      .verifiers(store.userRef('alice'), 'token')
      .slice(0, 50)
      .map((v) => v.sealed);
    expect(sealed.length).toBeGreaterThan(0);
    expect(await login(PIN, wrongCode(code()))).toMatchObject({ ok: false, mode: 'online' });
    expect(await login('135799', code())).toMatchObject({ ok: false, mode: 'online' });

    // Offline: a wrong code, a wrong PIN, then the right code.
    await relay.down();
    expect(await login(PIN, wrongCode(code()))).toMatchObject({ ok: false, mode: 'offline' });
    expect(await login('135799', code())).toMatchObject({ ok: false, mode: 'offline' });
    expect(await login(PIN, code())).toMatchObject({ ok: true, mode: 'offline' });
    await relay.up();

    // The store's files vanish while the keychain remembers them: the next start warns under [store].
    await agent.close();
    for (const suffix of ['', '-wal', '-shm']) rmSync(path.join(dataDir, STORE_FILE + suffix), { force: true });
    agent = await launch();

    const lines = logLines();
    expect(lines.some((l) => l.level === 30 && l.msg.startsWith('[device] enrolled'))).toBe(true);
    expect(lines.some((l) => l.level === 30 && l.msg.startsWith('[http] server unreachable'))).toBe(true);
    expect(lines.some((l) => l.level === 40 && l.msg.startsWith('[store]'))).toBe(true);

    secrets.add('135799');
    for (const name of Object.values(KEYCHAIN)) {
      const value = await keychain.get(name);
      if (value) secrets.add(value);
    }
    const text = logText();
    for (const secret of secrets) {
      const hit = /^[0-9]+$/.test(secret)
        ? new RegExp(`(?<![0-9A-Za-z])${secret}(?![0-9A-Za-z])`).test(text)
        : text.includes(secret);
      expect(hit, `a secret of ${secret.length} characters is in the log`).toBe(false);
    }
    for (const s of sealed)
      for (const form of [s.toString('base64'), s.toString('base64url'), s.toString('hex')])
        expect(text).not.toContain(form);
  }, 120_000);
});
