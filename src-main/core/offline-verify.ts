import { isCrockford, normalizeCode, type CodeMethod, type Purpose } from '../../src-shared/codes.js';
import { constantTimeEqual, wipe } from '../../src-shared/crypto/compare.js';
import type { ScryptParams } from '../../src-shared/crypto/kdf.js';
import type { ErrorCode } from '../../src-shared/errors.js';
import type { AgentConfig } from './agent-config.js';
import { offlineGuard, type OfflineGuard } from './offline-guard.js';
import { appendEvent, isCoalescedRepeat, type NewEvent } from './outbox.js';
import type { AgentLogger, Clock } from './ports.js';
import type { Repositories } from './store/repositories.js';
import type { VerifierKind } from './store/sealed-rows.js';
import type { StoredVerifier } from './store/verifiers.js';
import { offlineLockMs, type UserRecord } from './user-record.js';
import { computeVerifier } from './verifier-hash.js';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface OfflineDeps {
  repos: Repositories;
  clock: Clock;
  config: AgentConfig;
  log: AgentLogger;
  deviceId: string;
}

export type OfflineResult =
  | { ok: true; method: CodeMethod; record: UserRecord }
  | { ok: false; error: 'invalid_code'; message: string; triesLeft: number }
  | { ok: false; error: 'locked'; message: string; lockedUntil: number; retryAfterSeconds: number }
  | { ok: false; error: Extract<ErrorCode, 'offline_unavailable' | 'offline_refused'>; message: string };

interface Candidate {
  kind: VerifierKind;
  position: number;
  method: CodeMethod;
  expected: Buffer;
  usesPin: boolean;
  scrypt: ScryptParams;
  /** The row it came from: a multi-use code is accepted only while that very row is still stored. */
  row: StoredVerifier;
}

/** When the user's offline lock ends as verification measures it (on the monotonic clock), or null: for the status view. */
export function offlineLockEnd(repos: Repositories, clock: Clock, record: UserRecord): number | null {
  const left = offlineGuard(repos.store, clock).lockRemainingMs(repos.users.ref(record.username), record);
  return left > 0 ? clock.now() + left : null;
}

/**
 * Offline verification (docs/design.md §5). Every outcome that changes state (a burn, a failure, a lock, a wipe) is
 * committed to the store, and the state counter mirrored to the keychain, before this returns: an agent killed
 * right after answering has already recorded what it answered.
 *
 * One user's verifications run one at a time (OfflineGuard), and each commit re-reads the user's record and
 * consumes the matched verifier with a guarded delete: a verifier that is no longer there is a replay, counted as a
 * failure. So however many attempts arrive at once, no more guesses are compared than the lock and wipe allow, and
 * a code is accepted once (test/integration/agent/offline-races.test.ts).
 */
export async function verifyOffline(
  deps: OfflineDeps,
  req: { username: string; pin?: string; code: string; purpose: Purpose; slotsOnly?: boolean },
): Promise<OfflineResult> {
  const { store, users } = deps.repos;
  if (store.rolledBack) {
    return {
      ok: false,
      error: 'offline_refused',
      message:
        "This computer's offline data was restored from an older copy; sign in online once to use offline mode again.",
    };
  }
  const ref = users.ref(req.username);
  const guard = offlineGuard(store, deps.clock);
  return guard.serialise(ref, () => verifyInTurn(deps, guard, ref, req));
}

async function verifyInTurn(
  deps: OfflineDeps,
  guard: OfflineGuard,
  ref: string,
  req: { pin?: string; code: string; purpose: Purpose; slotsOnly?: boolean },
): Promise<OfflineResult> {
  const { clock, config, repos } = deps;
  const record = repos.users.get(ref);
  if (!record) return unavailable();
  const now = clock.now();
  const clk = repos.state.clock();
  // Lock expiry and the days without contact are measured on time a changed wall clock cannot fake
  // (offline-guard.ts): a clock set forward lifts no lock, a clock set back buys no days.
  const trusted = guard.trustedNow(clk.highWater, now);
  const lockLeft = guard.lockRemainingMs(ref, record);
  if (lockLeft > 0) {
    await refuseAttempt(
      deps,
      guard,
      trusted,
      { type: 'offline-failure', username: record.username, reason: 'locked' },
      now,
    );
    return lockedAnswer(now + lockLeft, lockLeft);
  }
  if (clk.lastContactAt !== null && trusted - clk.lastContactAt > record.offline.maxDaysWithoutContact * DAY_MS) {
    await refuseAttempt(
      deps,
      guard,
      trusted,
      { type: 'offline-failure', username: record.username, reason: 'offline_refused' },
      now,
    );
    return {
      ok: false,
      error: 'offline_refused',
      message: `This computer has not reached the server for more than ${record.offline.maxDaysWithoutContact} days; connect to sign in.`,
    };
  }
  const clockBack = now < trusted - config.clockBackToleranceMs;

  const code = Buffer.from(normalizeCode(req.code), 'utf8');
  const pin = req.pin === undefined ? undefined : Buffer.from(req.pin, 'utf8');
  try {
    // Only token codes may sign: the other kinds are not candidates then, so a right one answers as a wrong one does.
    const kinds = req.slotsOnly ? SLOTS_ONLY : req.purpose === 'sign' ? TOKENS_ONLY : ALL_KINDS;
    const candidates = gatherCandidates(repos, ref, record, code.toString('utf8'), now, trusted, clockBack, kinds);
    if (candidates.length === 0 && clockBack && !req.slotsOnly) {
      await recordClockBack(deps, guard, record.username, now, trusted);
      return {
        ok: false,
        error: 'offline_refused',
        message: "The computer's clock was set back; token codes work again after the next online sign-in.",
      };
    }
    const hashes = await Promise.all(
      candidates.map((c) =>
        computeVerifier(
          {
            kind: c.kind,
            position: c.position,
            username: record.username,
            deviceId: deps.deviceId,
            code,
            ...(c.usesPin && pin ? { pin } : {}),
          },
          c.scrypt,
        ),
      ),
    );
    // Compare every candidate, even after a match, so the time taken says nothing about which one matched.
    let match: Candidate | undefined;
    candidates.forEach((c, i) => {
      const ok = (!c.usesPin || pin !== undefined) && constantTimeEqual(hashes[i]!, c.expected);
      if (ok && !match) match = c;
    });
    wipe(...hashes);
    return await settle(deps, guard, ref, match, now, trusted, req.purpose);
  } finally {
    wipe(code, pin);
  }
}

type Kinds = ReadonlySet<VerifierKind>;
const ALL_KINDS: Kinds = new Set(['token', 'temporary', 'slot']);
const TOKENS_ONLY: Kinds = new Set(['token']);
const SLOTS_ONLY: Kinds = new Set(['slot']);

function gatherCandidates(
  { verifiers }: Repositories,
  ref: string,
  record: UserRecord,
  code: string,
  now: number,
  trusted: number,
  clockBack: boolean,
  kinds: Kinds,
): Candidate[] {
  const out: Candidate[] = [];
  const candidate = (kind: VerifierKind, method: CodeMethod, usesPin: boolean, row: StoredVerifier): Candidate => ({
    kind,
    position: row.position,
    method,
    expected: Buffer.from(row.verifier.hash, 'base64url'),
    usesPin,
    scrypt: row.verifier.scrypt ?? record.offline.verifierScrypt,
    row,
  });
  const tokenShaped = code.length === record.digits && /^[0-9]+$/.test(code);
  if (kinds.has('token') && !clockBack && tokenShaped) {
    const w = Math.floor(now / 1000 / record.periodSeconds);
    const from = Math.max(w - 1, (record.burnedThrough ?? -1) + 1);
    for (const row of verifiers.list(ref, 'token', from, w + 1)) out.push(candidate('token', 'token', true, row));
  }
  if (code.length >= 8 && isCrockford(code)) {
    // A temporary code's expiry is read on the local clock: a clock set back would stretch it, so it is refused too.
    if (kinds.has('temporary') && !clockBack) {
      for (const row of verifiers.list(ref, 'temporary')) {
        if (row.verifier.expiresAt && row.verifier.expiresAt > trusted)
          out.push(candidate('temporary', 'temporary', true, row));
      }
    }
    if (kinds.has('slot')) {
      for (const row of verifiers.list(ref, 'slot')) {
        if (!row.verifier.expiresAt || row.verifier.expiresAt > trusted)
          out.push(candidate('slot', 'offline-emergency', false, row));
      }
    }
  }
  return out;
}

/**
 * Commits the outcome against the record as it is now (not as it was read before the hashing): a match is
 * accepted only if its verifier is still there to consume; anything else is a failure.
 */
async function settle(
  deps: OfflineDeps,
  guard: OfflineGuard,
  ref: string,
  match: Candidate | undefined,
  now: number,
  trusted: number,
  purpose: Purpose,
): Promise<OfflineResult> {
  const { repos } = deps;
  const outcome = await commitAttempt(deps, guard, trusted, (): Settled => {
    const record = repos.users.get(ref);
    if (!record) return { kind: 'gone' };
    if (match && consume(repos, ref, record, match)) {
      const next: UserRecord = {
        ...record,
        failures: 0,
        lockedUntil: null,
        ...(match.kind === 'token' ? { burnedThrough: Math.max(record.burnedThrough ?? -1, match.position) } : {}),
      };
      repos.users.put(ref, next);
      appendEvent(repos.store, now, {
        type: 'offline-success',
        username: record.username,
        method: match.kind === 'slot' ? 'offline-emergency' : match.kind,
        purpose,
        ...(match.kind === 'token'
          ? {
              step: match.position,
              ...(record.tokenGeneration !== null ? { tokenGeneration: record.tokenGeneration } : {}),
            }
          : {}),
        ...(match.kind === 'slot' ? { slot: match.position } : {}),
      });
      return { kind: 'accepted', record: next, method: match.method };
    }
    return recordFailure(repos, ref, record, now);
  });
  switch (outcome.kind) {
    case 'gone':
      return unavailable();
    case 'accepted':
      guard.noteLock(ref, outcome.record, 0);
      return { ok: true, method: outcome.method, record: outcome.record };
    case 'wiped':
      deps.log.warn("[offline] too many offline failures: the user's offline data was wiped");
      return {
        ok: false,
        error: 'offline_unavailable',
        message: "Too many wrong codes: this user's offline data was removed from this computer. Connect to sign in.",
      };
    case 'failed':
      guard.noteLock(ref, outcome.record, outcome.lockMs);
      if (outcome.lockMs > 0) return lockedAnswer(now + outcome.lockMs, outcome.lockMs);
      return {
        ok: false,
        error: 'invalid_code',
        message: 'The PIN or code is not right.',
        triesLeft: outcome.record.offline.maxOfflineFailures - outcome.record.failures,
      };
  }
}

type Settled =
  | { kind: 'gone' }
  | { kind: 'accepted'; record: UserRecord; method: CodeMethod }
  | { kind: 'wiped' }
  | { kind: 'failed'; record: UserRecord; lockMs: number };

/** Takes the matched verifier with a guarded delete (zero rows: another attempt took it first, a replay). */
function consume({ verifiers }: Repositories, ref: string, record: UserRecord, match: Candidate): boolean {
  switch (match.kind) {
    case 'token':
      if ((record.burnedThrough ?? -1) >= match.position || verifiers.remove(ref, 'token', match.position) !== 1)
        return false;
      // Burn every earlier window too: a code seen once can never be replayed, nor an older one used.
      verifiers.removeUpTo(ref, 'token', match.position);
      return true;
    case 'slot':
      return verifiers.remove(ref, 'slot', match.position) === 1;
    case 'temporary':
      // Multi-use: nothing is consumed, but the very row that matched must still be stored (a PIN change or a newer
      // login may have replaced it meanwhile).
      return verifiers.stillStored(ref, 'temporary', match.row);
  }
}

function recordFailure({ store, users }: Repositories, ref: string, record: UserRecord, now: number): Settled {
  const failures = record.failures + 1;
  appendEvent(store, now, { type: 'offline-failure', username: record.username, reason: 'invalid_code' });
  if (failures >= record.offline.maxOfflineFailures) {
    users.remove(ref);
    appendEvent(store, now, { type: 'offline-wipe', username: record.username, reason: 'max-failures' });
    return { kind: 'wiped' };
  }
  const lockMs = offlineLockMs(failures);
  const next: UserRecord = { ...record, failures, lockedUntil: lockMs > 0 ? now + lockMs : null };
  users.put(ref, next);
  if (next.lockedUntil !== null)
    appendEvent(store, now, { type: 'offline-lockout', username: record.username, until: next.lockedUntil, failures });
  return { kind: 'failed', record: next, lockMs };
}

/** Commits one attempt's outcome with the high-water mark moved to the trusted time, so it survives a restart. */
async function commitAttempt<T>(
  deps: OfflineDeps,
  guard: OfflineGuard,
  trusted: number,
  fn: () => T,
  options: { bump: boolean } = { bump: true },
): Promise<T> {
  const { store, state } = deps.repos;
  let highWater = trusted;
  const result = await store.commit(() => {
    const current = state.clock();
    highWater = Math.max(current.highWater, trusted);
    const r = fn();
    state.putClock({ ...state.clock(), highWater });
    return r;
  }, options);
  guard.noteHighWater(highWater);
  return result;
}

/**
 * A refusal that compared nothing (locked, or too long without contact). Its first occurrence is a row in the
 * outbox and mirrored to the keychain like any change; its repeats are only a count in the store's state
 * (outbox.ts), which a restored older copy could lower but not turn into a guess, so they skip the keychain round
 * trip: a prompt hammered while locked then costs one local transaction an attempt, not a D-Bus call.
 */
async function refuseAttempt(
  deps: OfflineDeps,
  guard: OfflineGuard,
  trusted: number,
  event: NewEvent,
  now: number,
): Promise<void> {
  const { store } = deps.repos;
  await commitAttempt(deps, guard, trusted, () => appendEvent(store, now, event), {
    bump: !isCoalescedRepeat(store, event),
  });
}

async function recordClockBack(
  deps: OfflineDeps,
  guard: OfflineGuard,
  username: string,
  now: number,
  trusted: number,
): Promise<void> {
  const { store, state } = deps.repos;
  await commitAttempt(deps, guard, trusted, () => {
    appendEvent(store, now, { type: 'offline-failure', username, reason: 'offline_refused' });
    const current = state.clock();
    if (current.backReported) return;
    appendEvent(store, now, { type: 'clock-rollback', highWaterMark: current.highWater, observed: now });
    state.putClock({ ...current, backReported: true });
  });
}

function unavailable(): OfflineResult {
  return {
    ok: false,
    error: 'offline_unavailable',
    message: 'There is no offline data for this user on this computer; sign in once while connected.',
  };
}

function lockedAnswer(lockedUntil: number, remainingMs: number): OfflineResult {
  return {
    ok: false,
    error: 'locked',
    message: 'Too many wrong codes; try again later.',
    lockedUntil,
    retryAfterSeconds: Math.max(1, Math.ceil(remainingMs / 1000)),
  };
}
