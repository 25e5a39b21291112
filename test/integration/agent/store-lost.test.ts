import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { STORE_FILE } from '../../../src-main/core/store/files.js';
import { approve, PIN, tokenLogin, tokenVerifiers, world, type World } from './harness.js';

/**
 * Deleting the store's files must not silently erase what happened offline (issue 11, point 15): the agent keeps
 * its device (the keychain still holds its keys), and its next sync reports the loss with the keychain's counters,
 * which the server audits beside the last event it recorded from this device.
 */
let w: World;
afterEach(async () => {
  await w?.close();
});

describe('store files deleted (real agent core, real keychain, real server)', () => {
  it('keeps the device id and makes the server audit the unsynced events that were lost', async () => {
    w = await world();
    await tokenLogin(w);
    await approve(w);
    await tokenLogin(w);
    expect(tokenVerifiers(w.agent)).toBeGreaterThan(0);
    const deviceId = w.agent.device().deviceId!;
    expect(await w.agent.runSync()).toMatchObject({ ok: true, pendingEvents: 0 });

    await w.relay.down();
    for (let i = 0; i < 7; i++) {
      w.nextStep();
      expect(await w.agent.login({ username: 'alice', pin: PIN, code: w.code(), purpose: 'logon' })).toMatchObject({
        ok: true,
        mode: 'offline',
      });
    }
    expect(w.agent.store!.outboxSize()).toBe(7);
    await w.agent.close();
    for (const suffix of ['', '-wal', '-shm']) rmSync(path.join(w.dataDir, STORE_FILE + suffix), { force: true });

    await w.restartAgent();
    await w.relay.up();
    expect(await w.agent.runSync()).toMatchObject({ ok: true });
    expect(w.agent.device()).toMatchObject({ deviceId, status: 'approved' });
    const devices = await w.h.http('GET', '/api/v1/admin/devices');
    expect(devices.body.devices).toHaveLength(1);

    const lost = await w.audit('device.store-lost');
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatchObject({ device: deviceId, outcome: 'failure', reason: 'missing' });
    expect(lost[0]!.details).toMatchObject({ lostEvents: 7 });
    expect(Number(lost[0]!.details!.stateCounter)).toBeGreaterThan(0);

    // Reported once; the new store's outbox chains on without a gap, and offline data comes back.
    await tokenLogin(w);
    expect(tokenVerifiers(w.agent)).toBeGreaterThan(0);
    await w.relay.down();
    w.nextStep();
    expect(await w.agent.login({ username: 'alice', pin: PIN, code: w.code(), purpose: 'logon' })).toMatchObject({
      ok: true,
      mode: 'offline',
    });
    await w.relay.up();
    expect(await w.agent.runSync()).toMatchObject({ ok: true, uploaded: 1, pendingEvents: 0 });
    expect(await w.audit('device.store-lost')).toHaveLength(1);
    expect(await w.audit('device.sync-chain-gap')).toHaveLength(0);
  });
});
