import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, type Agent } from '../../../src-main/core/agent.js';
import type { OsKeychain } from '../../../src-main/core/keychain.js';
import { UserRecordSchema } from '../../../src-main/core/user-record.js';
import { KEY_FILE } from '../../../src-server/bootstrap.js';
import { ManualClock } from '../../../src-server/clock.js';
import { activateNextSigningKey, retireSigningKey, stageNextSigningKey } from '../../../src-server/keyfile.js';
import { bootstrap, createUser, type AdminHarness } from '../../helpers/admin.js';
import { oathtool } from '../../helpers/oathtool.js';
import { startTestServer, TEST_VERIFIER_FLOOR, type TestServer } from '../../helpers/server.js';
import { tempDir } from '../../helpers/tmp.js';
import { PIN, Relay } from './harness.js';
import { machine, NOW, TEST_SCRYPT, testKeychain } from './support.js';

/**
 * docs/design.md §6 / issue 6: rotating the server's signing key without stranding agents. One server data folder, restarted
 * between the steps of `keys stage|activate|retire` (the functions the CLI calls), behind a relay on a fixed port so
 * the agent's server URL stays the same; a real agent core and store, the real gnome-keyring.
 */

const clock = new ManualClock(NOW);
const serverDir = tempDir('lifeline-rotation-server-');
const agentDir = tempDir('lifeline-rotation-agent-');
const keyFile = path.join(serverDir.dir, KEY_FILE);
let server: TestServer;
let relay: Relay;
let h: AdminHarness;
let agent: Agent;
let keychain: OsKeychain;
const users: Record<string, string> = {};
let fp1: string;
let enrollmentSecret: string;

/** The agent (same store and keychain) with the server-key fingerprints IT pinned in its configuration. */
async function startAgent(serverKeyFingerprints: string[]): Promise<Agent> {
  return createAgent({
    config: {
      serverUrl: `http://127.0.0.1:${relay.port}`,
      enrollmentSecret,
      serverKeyFingerprints,
      dataDir: agentDir.dir,
      reachabilityBudgetMs: 2_000,
    },
    keychain,
    machineId: machine('machine-a'),
    clock,
    autoSync: false,
    verifierScryptFloor: TEST_VERIFIER_FLOOR,
  });
}

/** Stops the server and starts it again on the same data folder (new keys read from the key file), same URL. */
async function restartServer(): Promise<void> {
  const port = relay.port;
  await relay.down();
  await server.close();
  server = await startTestServer({ dataDir: serverDir.dir, clock });
  relay = new Relay(Number(new URL(server.url).port));
  relay.port = port;
  await relay.up();
}

function nextStep(): void {
  clock.set((Math.floor(clock.now() / 30_000) + 1) * 30_000 + 1_000);
}

async function tokenLogin(username: string) {
  nextStep();
  const r = await agent.login({ username, pin: PIN, code: oathtool(users[username]!, clock.now()), purpose: 'logon' });
  await agent.whenIdle();
  return r;
}

const pinned = () => agent.device().serverKeys.map((k) => k.fingerprint);
const record = (username: string) => agent.store!.getUser(agent.store!.userRef(username), UserRecordSchema);

beforeAll(async () => {
  server = await startTestServer({ dataDir: serverDir.dir, clock });
  h = await bootstrap(server);
  const patch = await h.http('PATCH', '/api/v1/admin/settings', {
    policies: { default: { offline: { days: 1, verifierScrypt: TEST_SCRYPT } } },
  });
  expect(patch.status).toBe(200);
  for (const name of ['alice', 'bob'])
    users[name] = (await createUser(h, name, { pin: PIN, withToken: true })).totpSecret!;
  enrollmentSecret = (await h.http('GET', '/api/v1/admin/devices/enrollment-secret')).body.enrollmentSecret as string;
  fp1 = server.ctx.keys.signing.fingerprint;
  relay = new Relay(Number(new URL(server.url).port));
  await relay.up();
  keychain = testKeychain();
  agent = await startAgent([fp1]);
  const device = await agent.ensureEnrolled(2_000);
  const approved = await h.http('POST', `/api/v1/admin/devices/${device!.deviceId}/approve`, {});
  expect(approved.status).toBe(200);
}, 60_000);

afterAll(async () => {
  await agent?.close();
  await relay?.down();
  await server?.close();
  serverDir.cleanup();
  agentDir.cleanup();
});

describe('server signing-key rotation (stage → sync → activate → retire) with a real agent', () => {
  let fp2: string;
  let fp3: string;

  it('before the rotation: the agent pins the first key and takes offline data signed by it', async () => {
    expect(pinned()).toEqual([fp1]);
    expect(await tokenLogin('alice')).toMatchObject({ ok: true, mode: 'online', preparing: true });
    expect(record('alice')?.lastSequence).toBeGreaterThan(0);
  });

  it('keys stage + restart: the next sync pins the staged key too (announced under the current key), current first', async () => {
    fp2 = stageNextSigningKey(keyFile, clock.now());
    await restartServer();
    expect(server.ctx.keys.signing.fingerprint).toBe(fp1); // staged, not signing yet
    expect(await agent.runSync()).toMatchObject({ ok: true });
    expect(pinned()).toEqual([fp1, fp2]);
  });

  it('keys activate + restart: answers and bundles signed by the new key are accepted; offline data from it works offline', async () => {
    activateNextSigningKey(keyFile);
    await restartServer();
    expect(server.ctx.keys.signing.fingerprint).toBe(fp2);
    // bob's first login on this device: his whole offline bundle comes signed by the new key.
    expect(await tokenLogin('bob')).toMatchObject({ ok: true, mode: 'online', preparing: true });
    const bob = record('bob');
    expect(bob?.lastSequence).toBeGreaterThan(0);
    expect(agent.store!.countVerifiers(agent.store!.userRef('bob'), 'token')).toBeGreaterThan(0);
    // alice's delta too, on top of what the old key signed.
    const aliceBefore = record('alice')!.lastSequence;
    expect(await tokenLogin('alice')).toMatchObject({ ok: true, mode: 'online' });
    expect(record('alice')!.lastSequence).toBeGreaterThan(aliceBefore);
    // The sync after the switch pins the new key first; the old one stays accepted for the overlap.
    expect(await agent.runSync()).toMatchObject({ ok: true });
    expect(pinned()).toEqual([fp2, fp1]);
    // Offline, bob's data (signed by the new key) lets him in.
    await relay.down();
    nextStep();
    nextStep();
    expect(
      await agent.login({ username: 'bob', pin: PIN, code: oathtool(users.bob!, clock.now()), purpose: 'logon' }),
    ).toMatchObject({ ok: true, mode: 'offline' });
    await relay.up();
  });

  it("keys retire + restart: the old key is dropped from the agent's pins at the next sync", async () => {
    retireSigningKey(keyFile, fp1.slice(0, 16));
    await restartServer();
    expect(await agent.runSync()).toMatchObject({ ok: true });
    expect(pinned()).toEqual([fp2]);
  });

  it('a key the agent never saw announced (staged and activated with no sync in between) is refused, and does not get pinned', async () => {
    stageNextSigningKey(keyFile, clock.now());
    fp3 = activateNextSigningKey(keyFile);
    await restartServer();
    expect(server.ctx.keys.signing.fingerprint).toBe(fp3);
    expect(await agent.runSync()).toMatchObject({ ok: false, error: 'bad_signature' });
    expect(await tokenLogin('alice')).toMatchObject({ ok: false, mode: 'online', error: 'bad_signature' });
    expect(pinned()).toEqual([fp2]);
  });

  it('a straggler catches up when IT pins the new key in its configuration: the next sync trusts it, logins work again', async () => {
    await agent.close();
    agent = await startAgent([fp1, fp3]); // the policy's SERVER_KEY list, updated by IT
    expect(pinned()).toEqual([fp2]); // the store's pins are the server's announcements, not the configuration
    expect(await agent.runSync()).toMatchObject({ ok: true });
    expect(pinned()).toEqual([fp3, fp2]);
    expect(await tokenLogin('alice')).toMatchObject({ ok: true, mode: 'online' });
  });
});
