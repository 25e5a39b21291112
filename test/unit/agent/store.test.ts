import { copyFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KEYCHAIN, AgentStore } from '../../../src-main/core/store/store.js';
import { STORE_FILE } from '../../../src-main/core/store/files.js';
import { probeSecretService } from '../../../src-main/core/keychain.js';
import { LifelineError } from '../../../src-shared/errors.js';
import { tempDir } from '../../helpers/tmp.js';
import { machine, startAgent, testKeychain } from '../../integration/agent/support.js';
import { AgentService } from '../../../src-main/core/agent-service.js';

const silent = { info() {}, warn() {}, error() {} };
const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function dir(): string {
  const t = tempDir('lifeline-agent-store-');
  cleanups.push(t.cleanup);
  return t.dir;
}

async function openStore(dataDir: string, keychain = testKeychain(), machineName = 'machine-a') {
  const store = await AgentStore.open({ dataDir, keychain, machineId: machine(machineName), log: silent });
  return { store, keychain };
}

async function expectCode(p: Promise<unknown>, code: string): Promise<LifelineError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LifelineError);
  expect((err as LifelineError).code).toBe(code);
  return err as LifelineError;
}

describe('agent store (real gnome-keyring, real SQLite)', () => {
  it('keeps sealed rows: the file holds no username, and reopening reads them back', async () => {
    const d = dir();
    const { store, keychain } = await openStore(d);
    await store.commit(() => store.putUser(store.userRef('alice.secret-name'), { username: 'alice.secret-name' }));
    store.close();
    const raw = readFileSync(path.join(d, STORE_FILE));
    expect(raw.includes(Buffer.from('alice.secret-name'))).toBe(false);
    const again = await AgentStore.open({ dataDir: d, keychain, machineId: machine('machine-a'), log: silent });
    expect(again.getUser<{ username: string }>(again.userRef('alice.secret-name'))?.username).toBe('alice.secret-name');
    expect(again.rolledBack).toBe(false);
    again.close();
  });

  it('lets one core at a time open a store', async () => {
    const d = dir();
    const { store, keychain } = await openStore(d);
    await expect(
      AgentStore.open({ dataDir: d, keychain, machineId: machine('machine-a'), log: silent }),
    ).rejects.toThrow(/in use by another agent core/);
    store.close();
    const again = await AgentStore.open({ dataDir: d, keychain, machineId: machine('machine-a'), log: silent });
    again.close();
  });

  it('refuses a store copied to a machine with another machine id', async () => {
    const d = dir();
    const { store, keychain } = await openStore(d);
    store.close();
    const err = await expectCode(
      AgentStore.open({ dataDir: d, keychain, machineId: machine('machine-b'), log: silent }),
      'store_tampered',
    );
    expect(err.message).toMatch(/another machine id/);
  });

  it('takes a keychain entry deleted beside an existing store for tampering, not a fresh install', async () => {
    const d = dir();
    const { store, keychain } = await openStore(d);
    store.close();
    expect(await keychain.delete(KEYCHAIN.dataKey)).toBe(true);
    await expectCode(
      AgentStore.open({ dataDir: d, keychain, machineId: machine('machine-a'), log: silent }),
      'store_tampered',
    );
    expect(existsSync(path.join(d, STORE_FILE))).toBe(true); // nothing was recreated over it
  });

  it('takes a missing state counter beside an existing store for tampering', async () => {
    const d = dir();
    const { store, keychain } = await openStore(d);
    store.close();
    await keychain.delete(KEYCHAIN.counter);
    await expectCode(
      AgentStore.open({ dataDir: d, keychain, machineId: machine('machine-a'), log: silent }),
      'store_tampered',
    );
  });

  it('detects a store replaced by an earlier copy, keeps refusing until a sync accepts it', async () => {
    const d = dir();
    const { store, keychain } = await openStore(d);
    await store.commit(() => store.putState('x', 1));
    store.close();
    const copy = path.join(dir(), 'copy.sqlite');
    copyFileSync(path.join(d, STORE_FILE), copy);
    const later = await AgentStore.open({ dataDir: d, keychain, machineId: machine('machine-a'), log: silent });
    await later.commit(() => later.putState('x', 2)); // e.g. a burn
    later.close();
    rmSync(path.join(d, `${STORE_FILE}-wal`), { force: true });
    rmSync(path.join(d, `${STORE_FILE}-shm`), { force: true });
    copyFileSync(copy, path.join(d, STORE_FILE));

    const restored = await AgentStore.open({ dataDir: d, keychain, machineId: machine('machine-a'), log: silent });
    expect(restored.rolledBack).toBe(true);
    // Writing to the old file must not let it catch up and pass for current.
    for (let i = 0; i < 3; i++) await restored.commit(() => restored.putState('x', 10 + i));
    restored.close();
    const still = await AgentStore.open({ dataDir: d, keychain, machineId: machine('machine-a'), log: silent });
    expect(still.rolledBack).toBe(true);
    await still.acceptAfterSync();
    still.close();
    const healed = await AgentStore.open({ dataDir: d, keychain, machineId: machine('machine-a'), log: silent });
    expect(healed.rolledBack).toBe(false);
    healed.close();
  });

  it('refuses offline mode with keychain_unavailable when no Secret Service answers', async () => {
    const saved = process.env.DBUS_SESSION_BUS_ADDRESS;
    try {
      process.env.DBUS_SESSION_BUS_ADDRESS = 'unix:path=/nonexistent/bus';
      await expectCode(probeSecretService(), 'keychain_unavailable');
      delete process.env.DBUS_SESSION_BUS_ADDRESS;
      const d = dir();
      const err = await expectCode(openStore(d), 'keychain_unavailable');
      expect(err.message).toMatch(/never keeps its key on disk/);
      expect(existsSync(path.join(d, STORE_FILE))).toBe(false);
      // The agent still starts, says why offline mode is off, and answers logins with that reason as data.
      const core = await startAgent(d, testKeychain());
      const status = await new AgentService(core).status();
      expect(status).toMatchObject({ ok: true, offline: { available: false, reason: 'keychain_unavailable' } });
      expect(await core.login({ username: 'alice', pin: '246810', code: '123456', purpose: 'logon' })).toMatchObject({
        ok: false,
        error: 'keychain_unavailable',
      });
      await core.close();
    } finally {
      process.env.DBUS_SESSION_BUS_ADDRESS = saved;
    }
  });
});
