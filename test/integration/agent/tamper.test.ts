import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { HttpFetch } from '../../../src-main/core/ports.js';
import { KEYCHAIN } from '../../../src-main/core/store/store.js';
import { STORE_FILE } from '../../../src-main/core/store/files.js';
import { generateEd25519, keyFingerprint, signPayload } from '../../../src-shared/crypto/sign.js';
import { PROTOCOL_VERSION, SIGNATURE_DOMAINS, type BundleDelta } from '../../../src-shared/protocol/index.js';
import { approve, PIN, tokenLogin, tokenVerifiers, world, type World } from './harness.js';

let w: World;
const extraCleanups: (() => void)[] = [];
afterEach(async () => {
  await w?.close();
  while (extraCleanups.length) extraCleanups.pop()!();
});

async function withOfflineData(opts: Parameters<typeof world>[0] = {}): Promise<World> {
  const made = await world(opts);
  await tokenLogin(made);
  await approve(made);
  await tokenLogin(made);
  expect(tokenVerifiers(made.agent)).toBeGreaterThan(0);
  return made;
}

const login = (code: string, pin = PIN) => w.agent.login({ username: 'alice', pin, code, purpose: 'logon' });

/** A man in the middle for tests: rewrites the bundle of login answers, or loses one sync answer. */
function interceptor() {
  const state: {
    bundle: ((b: BundleDelta) => BundleDelta) | null;
    loseNextSyncAnswer: boolean;
    captured: BundleDelta[];
  } = { bundle: null, loseNextSyncAnswer: false, captured: [] };
  const fetchFn: HttpFetch = async (url, init) => {
    const res = await fetch(url, init);
    if (url.endsWith('/api/v1/devices/sync') && state.loseNextSyncAnswer) {
      state.loseNextSyncAnswer = false;
      await res.text(); // the server did all its work; the answer is lost on the way back
      throw new TypeError('fetch failed: connection reset');
    }
    if (!url.endsWith('/api/v1/devices/login') || res.status !== 200) return res;
    const body = (await res.json()) as { bundle?: BundleDelta };
    if (body.bundle) {
      state.captured.push(structuredClone(body.bundle));
      if (state.bundle) body.bundle = state.bundle(body.bundle);
    }
    return new Response(JSON.stringify(body), { status: res.status, headers: res.headers });
  };
  return { state, fetchFn };
}

describe('tampering, clocks and rollback against a real server', () => {
  it('rejects a bundle with one byte changed, signed by another key, replayed with an older sequence, or made for another device', async () => {
    const mitm = interceptor();
    const logLines: string[] = [];
    w = await world({ fetch: mitm.fetchFn, logLines });
    await tokenLogin(w);
    await approve(w);
    const refusedWith = async (rewrite: (b: BundleDelta) => BundleDelta, reason: string) => {
      mitm.state.bundle = rewrite;
      logLines.length = 0;
      expect(await tokenLogin(w)).toMatchObject({ ok: true, mode: 'online', preparing: false });
      expect(tokenVerifiers(w.agent)).toBe(0);
      expect(logLines.join('\n')).toContain(`"reason":"${reason}"`);
    };
    await refusedWith((b) => {
      const ct = Buffer.from(b.box.ciphertext, 'base64url');
      ct[ct.length - 5]! ^= 0x01;
      return { ...b, box: { ...b.box, ciphertext: ct.toString('base64url') } };
    }, 'bad_signature');
    const other = generateEd25519();
    const signWithOther = (b: BundleDelta) =>
      signPayload(other.privateKey, SIGNATURE_DOMAINS.bundle, PROTOCOL_VERSION, { header: b.header, box: b.box });
    await refusedWith(
      (b) => ({ ...b, keyFingerprint: keyFingerprint(other.publicKey), signature: signWithOther(b) }),
      'unknown_key',
    );
    await refusedWith((b) => ({ ...b, signature: signWithOther(b) }), 'bad_signature');

    mitm.state.bundle = null;
    await tokenLogin(w);
    const accepted = tokenVerifiers(w.agent);
    expect(accepted).toBeGreaterThan(0);
    const older = mitm.state.captured.at(-2)!; // a genuine bundle of an earlier login (its sequence is lower)
    mitm.state.bundle = () => older;
    logLines.length = 0;
    await tokenLogin(w);
    expect(logLines.join('\n')).toContain('"reason":"stale_sequence"');

    const otherMitm = interceptor();
    const b = await w.startOtherAgent({ fetch: otherMitm.fetchFn });
    await tokenLogin(w, b);
    await approve(w, b);
    await tokenLogin(w, b);
    const forB = otherMitm.state.captured.at(-1)!;
    expect(forB.header.deviceId).toBe(b.device().deviceId);
    mitm.state.bundle = () => forB;
    logLines.length = 0;
    await tokenLogin(w);
    expect(logLines.join('\n')).toContain('"reason":"wrong_device"');
    expect(tokenVerifiers(w.agent)).toBeLessThanOrEqual(accepted);
    for (const line of logLines) expect(line).not.toContain(PIN);
  });

  it('records an outbox batch once when the same batch is uploaded twice (the first answer was lost)', async () => {
    const mitm = interceptor();
    w = await withOfflineData({ fetch: mitm.fetchFn });
    await w.relay.down();
    w.nextStep(3);
    expect(await login(w.code())).toMatchObject({ ok: true, mode: 'offline' });
    await w.relay.up();
    mitm.state.loseNextSyncAnswer = true;
    expect(await w.agent.runSync()).toMatchObject({ ok: false, error: 'server_unreachable' });
    expect(w.agent.store!.outboxSize()).toBe(1); // not acknowledged, so kept
    expect(await w.agent.runSync()).toMatchObject({ ok: true, uploaded: 1, pendingEvents: 0 });
    expect(await w.audit('device.offline-success')).toHaveLength(1);
  });

  it('a clock set back refuses token codes; a clock set forward produces burns the server flags and does not apply', async () => {
    w = await withOfflineData();
    await w.relay.down();
    w.skew.ms = -10 * 60_000;
    expect(await login(w.code(w.skew.ms))).toMatchObject({ ok: false, mode: 'offline', error: 'offline_refused' });

    w.skew.ms = 2 * 60 * 60_000;
    expect(await login(w.code(w.skew.ms))).toMatchObject({ ok: true, mode: 'offline', method: 'token' });
    await w.relay.up();
    const synced = await w.agent.runSync();
    expect(synced, JSON.stringify(synced)).toMatchObject({ ok: true, pendingEvents: 0 }); // re-signed with the server's time
    expect(await w.audit('device.clock-rollback')).toHaveLength(1);
    expect((await w.audit('device.sync-anomaly')).map((e) => e.reason)).toContain('future_burn');
    // Not applied: the user's token still works online now.
    w.skew.ms = 0;
    w.nextStep();
    expect(await login(w.code())).toMatchObject({ ok: true, mode: 'online', method: 'token' });
  });

  it('refuses a store copied to another machine id, and a keychain entry deleted beside the store', async () => {
    w = await withOfflineData();
    const moved = await w.restartAgent({ machineName: 'machine-b' });
    expect(moved.offlineError?.code).toBe('store_tampered');
    w.nextStep();
    expect(await login(w.code())).toMatchObject({ ok: false, error: 'store_tampered' });

    await w.restartAgent();
    expect(w.agent.offlineError).toBeNull();
    await w.agent.close();
    await w.keychain.delete(KEYCHAIN.dataKey);
    const again = await w.restartAgent();
    expect(again.offlineError?.code).toBe('store_tampered');
  });

  it('detects a store replaced by an earlier copy: offline refused until a sync, which the server audits', async () => {
    w = await withOfflineData();
    await w.agent.close();
    const backup = mkdtempSync(path.join(tmpdir(), 'lifeline-agent-backup-'));
    extraCleanups.push(() => rmSync(backup, { recursive: true, force: true }));
    copyFileSync(path.join(w.dataDir, STORE_FILE), path.join(backup, STORE_FILE));
    await w.restartAgent();
    await w.relay.down();
    w.nextStep(2);
    const used = w.code();
    expect(await login(used)).toMatchObject({ ok: true, mode: 'offline' });
    await w.agent.close();
    for (const suffix of ['-wal', '-shm']) rmSync(path.join(w.dataDir, STORE_FILE + suffix), { force: true });
    copyFileSync(path.join(backup, STORE_FILE), path.join(w.dataDir, STORE_FILE));

    await w.restartAgent();
    expect(w.agent.store!.rolledBack).toBe(true);
    expect(await login(used)).toMatchObject({ ok: false, mode: 'offline', error: 'offline_refused' });
    await w.relay.up();
    expect(await w.agent.runSync()).toMatchObject({ ok: true });
    expect((await w.audit('device.store-tampering'))[0]).toMatchObject({ reason: 'store-rollback' });
    await w.relay.down();
    // The restored file lost that burn; the sync dropped every window up to the server's current one plus drift.
    expect(await login(used)).toMatchObject({ ok: false, mode: 'offline', error: 'invalid_code' });
    w.nextStep(2);
    expect(await login(w.code())).toMatchObject({ ok: true, mode: 'offline' });
  });
});
