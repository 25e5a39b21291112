import { isCrockford, normalizeCode, type CodeMethod, type Purpose } from '../../src-shared/codes.js';
import { constantTimeEqual, wipe } from '../../src-shared/crypto/compare.js';
import type { ScryptParams } from '../../src-shared/crypto/kdf.js';
import type { ErrorCode } from '../../src-shared/errors.js';
import type { AgentConfig } from './agent-config.js';
import { appendEvent } from './outbox.js';
import type { AgentLogger, Clock } from './ports.js';
import type { AgentStore, VerifierKind } from './store/store.js';
import { offlineLockMs, UserRecordSchema, type UserRecord } from './user-record.js';
import { computeVerifier } from './verifier-hash.js';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface OfflineDeps {
  store: AgentStore;
  clock: Clock;
  config: AgentConfig;
  log: AgentLogger;
  deviceId: string;
}

export interface SealedVerifier {
  hash: string; // base64url
  expiresAt?: number | null;
  /** The scrypt parameters it was built with: a later policy change must not void it by accident. */
  scrypt?: ScryptParams;
}

export type OfflineResult =
  | { ok: true; method: CodeMethod; record: UserRecord }
  | { ok: false; error: 'invalid_code'; message: string; triesLeft: number }
  | { ok: false; error: 'locked'; message: string; lockedUntil: number; retryAfterSeconds: number }
  | { ok: false; error: Extract<ErrorCode, 'offline_unavailable' | 'offline_refused' | 'purpose_not_allowed'>; message: string };

interface Candidate {
  kind: VerifierKind;
  position: number;
  method: CodeMethod;
  expected: Buffer;
  usesPin: boolean;
  scrypt: ScryptParams;
}

/** The device-wide clock bookkeeping: the wall-time high-water mark and when the server was last reached. */
export interface ClockState {
  highWater: number;
  lastContactAt: number | null;
  backReported: boolean;
}

export function clockState(store: AgentStore): ClockState {
  return store.getState<ClockState>('clock') ?? { highWater: 0, lastContactAt: null, backReported: false };
}

/**
 * Offline verification (DESIGN §5). Every outcome that changes state (a burn, a failure, a lock, a wipe) is
 * committed to the store, and the state counter mirrored to the keychain, before this returns: an agent killed
 * right after answering has already recorded what it answered.
 */
export async function verifyOffline(
  deps: OfflineDeps,
  req: { username: string; pin?: string; code: string; purpose: Purpose; slotsOnly?: boolean },
): Promise<OfflineResult> {
  const { store, clock, config } = deps;
  if (store.rolledBack) {
    return { ok: false, error: 'offline_refused', message: 'This computer\'s offline data was restored from an older copy; sign in online once to use offline mode again.' };
  }
  const ref = store.userRef(req.username);
  const stored = store.getUser(ref, UserRecordSchema);
  if (!stored) return { ok: false, error: 'offline_unavailable', message: 'There is no offline data for this user on this computer; sign in once while connected.' };
  const record: UserRecord = { ...stored };
  const now = clock.now();
  if (record.lockedUntil !== null && record.lockedUntil > now) {
    await store.commit(() => appendEvent(store, now, { type: 'offline-failure', username: record.username, reason: 'locked' }));
    return lockedAnswer(record.lockedUntil, now);
  }

  const clk = clockState(store);
  if (clk.lastContactAt !== null && now - clk.lastContactAt > record.offline.maxDaysWithoutContact * DAY_MS) {
    await store.commit(() => appendEvent(store, now, { type: 'offline-failure', username: record.username, reason: 'offline_refused' }));
    return { ok: false, error: 'offline_refused', message: `This computer has not reached the server for more than ${record.offline.maxDaysWithoutContact} days; connect to sign in.` };
  }
  const clockBack = now < clk.highWater - config.clockBackToleranceMs;

  const code = Buffer.from(normalizeCode(req.code), 'utf8');
  const pin = req.pin === undefined ? undefined : Buffer.from(req.pin, 'utf8');
  try {
    const candidates = gatherCandidates(store, ref, record, code.toString('utf8'), now, clockBack, req.slotsOnly === true);
    if (candidates.length === 0 && clockBack && !req.slotsOnly) {
      await recordClockBack(deps, record.username, now, clk);
      return { ok: false, error: 'offline_refused', message: 'The computer\'s clock was set back; token codes work again after the next online sign-in.' };
    }
    const hashes = await Promise.all(
      candidates.map((c) =>
        computeVerifier({ kind: c.kind, position: c.position, username: record.username, deviceId: deps.deviceId, code, ...(c.usesPin && pin ? { pin } : {}) }, c.scrypt),
      ),
    );
    // Compare every candidate, even after a match, so the time taken says nothing about which one matched.
    let match: Candidate | undefined;
    candidates.forEach((c, i) => {
      const ok = (!c.usesPin || pin !== undefined) && constantTimeEqual(hashes[i]!, c.expected);
      if (ok && !match) match = c;
    });
    wipe(...hashes);
    return match ? await succeed(deps, ref, record, match, now, clk, req.purpose) : await fail(deps, ref, record, now, clk);
  } finally {
    wipe(code, pin);
  }
}

function gatherCandidates(store: AgentStore, ref: string, record: UserRecord, code: string, now: number, clockBack: boolean, slotsOnly: boolean): Candidate[] {
  const out: Candidate[] = [];
  const open = (kind: VerifierKind, position: number, sealed: Buffer) => store.unseal<SealedVerifier>(store.verifierAad(ref, kind, position), sealed);
  const params = (v: SealedVerifier) => v.scrypt ?? record.offline.verifierScrypt;
  const tokenShaped = code.length === record.digits && /^[0-9]+$/.test(code);
  if (!slotsOnly && !clockBack && tokenShaped) {
    const w = Math.floor(now / 1000 / record.periodSeconds);
    const from = Math.max(w - 1, (record.burnedThrough ?? -1) + 1);
    for (const row of store.verifiers(ref, 'token', from, w + 1)) {
      const v = open('token', row.position, row.sealed);
      out.push({ kind: 'token', position: row.position, method: 'token', expected: Buffer.from(v.hash, 'base64url'), usesPin: true, scrypt: params(v) });
    }
  }
  if (code.length >= 8 && isCrockford(code)) {
    // A temporary code's expiry is read on the local clock: a clock set back would stretch it, so it is refused too.
    if (!slotsOnly && !clockBack) {
      for (const row of store.verifiers(ref, 'temporary')) {
        const v = open('temporary', row.position, row.sealed);
        if (v.expiresAt && v.expiresAt > now) out.push({ kind: 'temporary', position: row.position, method: 'temporary', expected: Buffer.from(v.hash, 'base64url'), usesPin: true, scrypt: params(v) });
      }
    }
    for (const row of store.verifiers(ref, 'slot')) {
      const v = open('slot', row.position, row.sealed);
      if (!v.expiresAt || v.expiresAt > now) out.push({ kind: 'slot', position: row.position, method: 'offline-emergency', expected: Buffer.from(v.hash, 'base64url'), usesPin: false, scrypt: params(v) });
    }
  }
  return out;
}

async function succeed(deps: OfflineDeps, ref: string, record: UserRecord, match: Candidate, now: number, clk: ClockState, purpose: Purpose): Promise<OfflineResult> {
  const { store } = deps;
  if (purpose === 'sign' && match.kind !== 'token') {
    return { ok: false, error: 'purpose_not_allowed', message: 'This code cannot be used to sign.' };
  }
  const next: UserRecord = { ...record, failures: 0, lockedUntil: null };
  await store.commit(() => {
    if (match.kind === 'token') {
      // Burn this window and every earlier one: a code seen once can never be replayed, nor an older one used.
      store.deleteVerifiers(ref, 'token', match.position);
      next.burnedThrough = Math.max(record.burnedThrough ?? -1, match.position);
    } else if (match.kind === 'slot') {
      store.deleteVerifier(ref, 'slot', match.position);
    }
    store.putUser(ref, next);
    store.putState('clock', { ...clk, highWater: Math.max(clk.highWater, now) });
    appendEvent(store, now, {
      type: 'offline-success',
      username: record.username,
      method: match.method === 'offline-emergency' ? 'offline-emergency' : match.kind === 'token' ? 'token' : 'temporary',
      purpose,
      ...(match.kind === 'token' ? { step: match.position, ...(record.tokenGeneration !== null ? { tokenGeneration: record.tokenGeneration } : {}) } : {}),
      ...(match.kind === 'slot' ? { slot: match.position } : {}),
    });
  });
  return { ok: true, method: match.method, record: next };
}

async function fail(deps: OfflineDeps, ref: string, record: UserRecord, now: number, clk: ClockState): Promise<OfflineResult> {
  const { store } = deps;
  const failures = record.failures + 1;
  const max = record.offline.maxOfflineFailures;
  const wipeNow = failures >= max;
  const lockMs = wipeNow ? 0 : offlineLockMs(failures);
  const lockedUntil = lockMs > 0 ? now + lockMs : null;
  await store.commit(() => {
    appendEvent(store, now, { type: 'offline-failure', username: record.username, reason: 'invalid_code' });
    store.putState('clock', { ...clk, highWater: Math.max(clk.highWater, now) });
    if (wipeNow) {
      store.deleteUser(ref);
      appendEvent(store, now, { type: 'offline-wipe', username: record.username, reason: 'max-failures' });
    } else {
      store.putUser(ref, { ...record, failures, lockedUntil });
      if (lockedUntil !== null) appendEvent(store, now, { type: 'offline-lockout', username: record.username, until: lockedUntil, failures });
    }
  });
  if (wipeNow) {
    deps.log.warn('[offline] too many offline failures: the user\'s offline data was wiped');
    return { ok: false, error: 'offline_unavailable', message: 'Too many wrong codes: this user\'s offline data was removed from this computer. Connect to sign in.' };
  }
  if (lockedUntil !== null) return lockedAnswer(lockedUntil, now);
  return { ok: false, error: 'invalid_code', message: 'The PIN or code is not right.', triesLeft: max - failures };
}

async function recordClockBack(deps: OfflineDeps, username: string, now: number, clk: ClockState): Promise<void> {
  await deps.store.commit(() => {
    appendEvent(deps.store, now, { type: 'offline-failure', username, reason: 'offline_refused' });
    if (clk.backReported) return;
    appendEvent(deps.store, now, { type: 'clock-rollback', highWaterMark: clk.highWater, observed: now });
    deps.store.putState('clock', { ...clk, backReported: true });
  });
}

function lockedAnswer(lockedUntil: number, now: number): OfflineResult {
  return { ok: false, error: 'locked', message: 'Too many wrong codes; try again later.', lockedUntil, retryAfterSeconds: Math.max(1, Math.ceil((lockedUntil - now) / 1000)) };
}
