import { createHash, randomBytes } from 'node:crypto';
import { ManualClock } from '../../../src-main/core/ports.js';
import { createAgent, type Agent, type AgentDeps } from '../../../src-main/core/agent.js';
import { OsKeychain } from '../../../src-main/core/keychain.js';
import type { MachineId } from '../../../src-main/core/ports.js';
import { VerifierBuilder } from '../../../src-main/core/verifier-builder.js';
import { newUserRecord } from '../../../src-main/core/user-record.js';
import { loadDeviceKeys } from '../../../src-main/core/device.js';
import type { AgentStore } from '../../../src-main/core/store/store.js';
import { oathtool } from '../../helpers/oathtool.js';
import { TEST_VERIFIER_FLOOR } from '../../helpers/server.js';

/** Fast verifier hashing for tests (the policy allows it; benchmarks use the real N=2^11). */
export const TEST_SCRYPT = { N: 2 ** 4, r: 8, p: 1 };
export const NOW = Date.UTC(2026, 10, 23, 9, 0, 0);
export const TOKEN_SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';

/** A keychain namespace of its own per test, in the real Secret Service of the test session. */
export function testKeychain(): OsKeychain {
  return new OsKeychain(`lifeline-test-${randomBytes(6).toString('hex')}`);
}

export function machine(name: string): MachineId {
  const hash = createHash('sha256').update(name).digest('hex');
  return { hash: async () => hash };
}

/** A port where nothing listens: the agent sees 'connection refused' at once. */
export const DEAD_SERVER = 'http://127.0.0.1:9';

export function agentDeps(
  dataDir: string,
  keychain: OsKeychain,
  overrides: Partial<AgentDeps> & { serverUrl?: string; fingerprints?: string[] } = {},
): AgentDeps {
  return {
    config: {
      serverUrl: overrides.serverUrl ?? DEAD_SERVER,
      enrollmentSecret: 'test-enrollment-secret-0123456789',
      serverKeyFingerprints: overrides.fingerprints ?? ['0'.repeat(64)],
      dataDir,
      reachabilityBudgetMs: 2_000,
    },
    keychain,
    machineId: overrides.machineId ?? machine('machine-a'),
    clock: overrides.clock ?? new ManualClock(NOW),
    autoSync: false,
    verifierScryptFloor: overrides.verifierScryptFloor ?? TEST_VERIFIER_FLOOR,
    ...(overrides.fetch ? { fetch: overrides.fetch } : {}),
  };
}

export async function startAgent(
  dataDir: string,
  keychain: OsKeychain,
  overrides: Parameters<typeof agentDeps>[2] = {},
): Promise<Agent> {
  return createAgent(agentDeps(dataDir, keychain, overrides));
}

/**
 * Gives a user offline data without a server, through the same builder an online login uses: the token codes of
 * `windows` steps from `from` (from oathtool), and slot codes. For unit tests of the offline side only; the
 * integration tests get the same data from a real server's bundle.
 */
export async function seedUser(
  store: AgentStore,
  keychain: OsKeychain,
  opts: {
    username: string;
    pin: string;
    deviceId?: string;
    from: number;
    windows: number;
    slots?: { index: number; code: string; expiresAt: number }[];
    maxOfflineFailures?: number;
    maxDaysWithoutContact?: number;
    lastContactAt?: number;
  },
): Promise<void> {
  const deviceId = opts.deviceId ?? '0123456789';
  await loadDeviceKeys(keychain, true);
  if (!store.getState('device'))
    await store.commit(() => store.putState('device', { deviceId, status: 'approved', serverKeys: [] }));
  const ref = store.userRef(opts.username);
  const record = {
    ...newUserRecord(opts.username, {
      verifierScrypt: TEST_SCRYPT,
      maxOfflineFailures: opts.maxOfflineFailures ?? 10,
      maxDaysWithoutContact: opts.maxDaysWithoutContact ?? 14,
    }),
    lastSequence: 1,
    pinGeneration: 1,
    tokenGeneration: 1,
    windowsUntil: opts.from + opts.windows - 1,
  };
  await store.commit(() => {
    store.putUser(ref, record);
    store.putState('clock', { highWater: 0, lastContactAt: opts.lastContactAt ?? NOW, backReported: false });
  });
  let codes = '';
  for (let i = 0; i < opts.windows; i++) codes += oathtool(TOKEN_SECRET, (opts.from + i) * 30_000);
  const builder = new VerifierBuilder(store, { info() {}, warn() {}, error() {} });
  builder.enqueue({
    ref,
    username: opts.username,
    deviceId,
    sequence: 1,
    pin: Buffer.from(opts.pin),
    scrypt: TEST_SCRYPT,
    slots: (opts.slots ?? []).map((s) => ({ index: s.index, code: Buffer.from(s.code), expiresAt: s.expiresAt })),
    windows: { firstStep: opts.from, digits: 6, codes: Buffer.from(codes) },
  });
  await builder.whenIdle();
}

export function stepAt(ms: number): number {
  return Math.floor(ms / 30_000);
}

export function codeAt(ms: number): string {
  return oathtool(TOKEN_SECRET, ms);
}
