import { canonicalJson } from '../../src-shared/canonical.js';
import { batchHead, findChainBreak, verifyBatchHead } from '../../src-shared/crypto/device-messages.js';
import { LifelineError } from '../../src-shared/errors.js';
import { PROTOCOL_VERSION, SIGNATURE_DOMAINS } from '../../src-shared/protocol/common.js';
import {
  GENESIS_HASH,
  type Reset,
  type StoreLoss,
  type SyncEvent,
  type SyncRequest,
  type SyncResponse,
  type SyncUserState,
} from '../../src-shared/protocol/sync.js';
import type { ServerContext } from '../context.js';
import type { Queryable } from '../db/port.js';
import { recordDeviceEvent } from '../db/queries/device-events.js';
import { usersGivenToDevice } from '../db/queries/device-users.js';
import { advanceDeviceChain, lockDeviceChain, type DeviceRecord } from '../db/queries/devices.js';
import { findSlotByIndex, liveSlots, useSlot } from '../db/queries/offline-slots.js';
import { activeMultiUseCodeExpiringAt } from '../db/queries/temporary-codes.js';
import { advanceTokenStep, findToken } from '../db/queries/tokens.js';
import type { UserRecord } from '../db/queries/users.js';
import { appendAudit, type AuditEvent } from './audit.js';
import { keyRotationMessage, signed } from './devices.js';
import { loadSettings, policyForUser } from './policy.js';
import { hitRateLimit } from './rate-limit.js';
import { tryNormalizeUsername } from './users.js';

/**
 * devices/sync (docs/protocol.md, "Sync"): records the agent's outbox once per event id (the primary key of
 * device_events holds across instances), audits every event with the device, applies what happened offline to the
 * central state (token windows burned upwards only, slots used), and answers with a signed acknowledgement and signed
 * resets. A burn reported for a window beyond the server's time plus one step (an agent clock set forward) is
 * recorded as an anomaly and not applied, so it cannot lock the user's online token.
 *
 * Who may report what: a device acts only for the users it was given (its device_users rows: offline data delivered,
 * or a temporary code it cached), and only while approved. Anyone holding the installer's enrollment secret can
 * enroll a pending device, so a pending one writes nothing (its events are acknowledged and dropped: it holds no
 * offline data, so nothing happened offline that the server must know), and an approved one's events for other users
 * are kept out of the users' state and audit, counted in one row per batch. The answer says the same about every user
 * the device was not given, whether or not they exist.
 */
interface Applied {
  applied: boolean;
  /** Something the audit should flag for a person to look at. */
  anomaly: boolean;
  reason?: string;
}
const DONE: Applied = { applied: true, anomaly: false };

/** Syncs per device per window: an agent drains a full outbox in about 20; the rest is a loop or an attacker. */
export const DEVICE_SYNC_LIMIT = { maxRequests: 60, windowMs: 60_000 } as const;

/** The active users this device was given, by normalised username (one query; unknown and other users are absent). */
async function givenUsers(q: Queryable, deviceId: string): Promise<Map<string, UserRecord>> {
  const rows = await usersGivenToDevice(q, deviceId);
  return new Map(rows.map((u) => [u.username, u]));
}

const givenUser = (given: Map<string, UserRecord>, username: string): UserRecord | undefined => {
  const name = tryNormalizeUsername(username);
  return name === undefined ? undefined : given.get(name);
};

export async function processSync(
  ctx: ServerContext,
  device: DeviceRecord,
  requestNonce: string,
  body: SyncRequest,
): Promise<SyncResponse> {
  const limit = ctx.deviceSyncLimit ?? DEVICE_SYNC_LIMIT;
  const allowed = await hitRateLimit(
    ctx.db,
    `device-sync:${device.id}`,
    limit.maxRequests,
    limit.windowMs,
    ctx.clock.now(),
  );
  if (!allowed.allowed)
    throw new LifelineError('rate_limited', 'Too many syncs from this device; try again later.', 429, {
      retryAfterSeconds: allowed.retryAfterSeconds,
    });
  if (findChainBreak(body.events) !== -1)
    throw new LifelineError('bad_signature', 'The outbox events do not form one hash chain.', 400);
  if (
    canonicalJson(batchHead(device.id, body.events)) !== canonicalJson(body.head) ||
    !verifyBatchHead(device.signingPublicKey, body.head, body.headSignature)
  ) {
    throw new LifelineError(
      'bad_signature',
      'The batch head does not match the events or its signature does not verify.',
      400,
    );
  }

  const acknowledged: string[] = [];
  const duplicates: string[] = [];
  const anomalies: string[] = [];
  const given = await ctx.db.tx(async (q) => {
    const now = ctx.clock.now();
    // Lock the device row before reading its chain head: a batch racing this one on another instance (an agent's
    // retry) waits here and then reads the head this one commits, instead of a stale one that looks like a gap.
    // Its status is read under the same lock, so an approval or revocation racing this batch is seen whole.
    const chain = await lockDeviceChain(q, device.id);
    let head = chain!.chainHead;
    let headSeq = chain!.chainSeq;
    if (chain!.status !== 'approved') {
      // Nothing recorded, applied or audited; only the chain position moves, so the first batch after an approval
      // is not reported as a gap.
      for (const event of body.events) {
        acknowledged.push(event.id);
        head = event.hash;
        headSeq = Math.max(headSeq, event.seq);
      }
      await advanceDeviceChain(q, device.id, { seq: headSeq, head });
      return new Map<string, UserRecord>();
    }
    const users = await givenUsers(q, device.id);
    if (body.storeLost)
      head = await recordStoreLoss(q, ctx, device, { seq: headSeq, head }, body.storeLost, acknowledged);
    let notGiven = 0;
    for (const event of body.events) {
      acknowledged.push(event.id);
      const fresh = await recordDeviceEvent(q, {
        deviceId: device.id,
        eventId: event.id,
        seq: event.seq,
        type: event.type,
        receivedAt: now,
      });
      if (!fresh) {
        duplicates.push(event.id);
        continue;
      }
      if (event.prevHash !== head) {
        // Events lost between batches, or a store restored from an older copy: recorded, the batch still counts.
        await appendAudit(q, ctx, {
          type: 'device.sync-chain-gap',
          outcome: 'info',
          actorKind: 'device',
          actor: device.id,
          device: device.id,
          details: { lastSeq: headSeq, eventSeq: event.seq },
        });
      }
      head = event.hash;
      headSeq = Math.max(headSeq, event.seq);
      const named = 'username' in event && event.username !== null ? event.username : undefined;
      const user = named === undefined ? undefined : givenUser(users, named);
      if (named !== undefined && !user) {
        notGiven++;
        continue;
      }
      const outcome = await applyEvent(q, device, event, user, now);
      if (outcome.anomaly) anomalies.push(event.id);
      await appendAudit(q, ctx, eventAudit(device, event, user, outcome));
    }
    if (notGiven > 0) {
      // No usernames: the names a device sends for users it holds nothing of are its own words, not facts.
      await appendAudit(q, ctx, {
        type: 'device.sync-dropped',
        outcome: 'failure',
        actorKind: 'device',
        actor: device.id,
        device: device.id,
        reason: 'user_not_given',
        details: { dropped: notGiven },
      });
    }
    await advanceDeviceChain(q, device.id, { seq: headSeq, head }, body.agentVersion);
    return users;
  });

  const serverTime = ctx.clock.now();
  const resets: Reset[] = [];
  for (const state of body.users)
    resets.push(...(await resetsFor(ctx, device, givenUser(given, state.username), state, serverTime)));
  return {
    ok: true,
    ack: signed(ctx, SIGNATURE_DOMAINS.syncAck, {
      v: PROTOCOL_VERSION,
      deviceId: device.id,
      requestNonce,
      acknowledged,
      duplicates,
      anomalies,
      serverTime,
    }),
    resets: signed(ctx, SIGNATURE_DOMAINS.reset, {
      v: PROTOCOL_VERSION,
      deviceId: device.id,
      requestNonce,
      serverTime,
      resets,
    }),
    keys: keyRotationMessage(ctx),
  };
}

/**
 * The agent lost its store (deleted, or set aside by a reset) while its keychain said how far it had got: audited
 * once per report id (device_events dedupes it like an event) with the events the server never received, and the
 * device's chain restarts from the genesis hash, where the new store's outbox starts. Only for an approved device
 * (one that was given offline data can lose any); otherwise not acknowledged, so the agent reports it again later.
 * Returns the chain head the batch continues from.
 */
async function recordStoreLoss(
  q: Queryable,
  ctx: ServerContext,
  device: DeviceRecord,
  chain: { seq: number; head: string },
  loss: StoreLoss,
  acknowledged: string[],
): Promise<string> {
  if (device.status !== 'approved') return chain.head;
  acknowledged.push(loss.id);
  const fresh = await recordDeviceEvent(q, {
    deviceId: device.id,
    eventId: loss.id,
    seq: chain.seq,
    type: 'store-lost',
    receivedAt: ctx.clock.now(),
  });
  if (!fresh) return chain.head;
  const lostEvents = loss.lastSeq === null ? null : Math.max(0, loss.lastSeq - chain.seq);
  await appendAudit(q, ctx, {
    type: 'device.store-lost',
    outcome: lostEvents === 0 ? 'info' : 'failure',
    actorKind: 'device',
    actor: device.id,
    device: device.id,
    reason: loss.reason,
    details: {
      reportId: loss.id,
      stateCounter: loss.stateCounter,
      lastSeq: loss.lastSeq,
      acknowledgedSeq: chain.seq,
      lostEvents,
      detectedAt: loss.detectedAt,
    },
  });
  return GENESIS_HASH;
}

async function applyEvent(
  q: Queryable,
  device: DeviceRecord,
  event: SyncEvent,
  user: UserRecord | undefined,
  now: number,
): Promise<Applied> {
  if (event.type !== 'offline-success') return DONE;
  if (!user) return { applied: false, anomaly: false, reason: 'unknown_user' };
  if (event.method === 'token') {
    if (event.step === undefined) return { applied: false, anomaly: true, reason: 'missing_step' };
    const token = await findToken(q, user.id);
    if (!token) return { applied: false, anomaly: false, reason: 'no_token' };
    if (event.tokenGeneration !== undefined && event.tokenGeneration !== user.tokenGeneration)
      return { applied: false, anomaly: false, reason: 'stale_token_generation' };
    const serverStep = Math.floor(now / 1000 / token.period);
    if (event.step > serverStep + 1) return { applied: false, anomaly: true, reason: 'future_burn' };
    // Burn the window and all earlier ones, upwards only: an older report can never un-burn a later window.
    await advanceTokenStep(q, user.id, event.step);
    return DONE;
  }
  if (event.method === 'offline-emergency') {
    if (event.slot === undefined) return { applied: false, anomaly: true, reason: 'missing_slot' };
    const slot = await findSlotByIndex(q, device.id, user.id, event.slot);
    if (!slot) return { applied: false, anomaly: true, reason: 'unknown_slot' };
    if (!(await useSlot(q, slot.id, now))) return { applied: false, anomaly: true, reason: 'slot_already_used' }; // e.g. used online too (emergencyCodeOnline)
    // A slot used offline that the helpdesk never revealed means its code left the device some other way.
    if (slot.revealedAt === null) return { applied: true, anomaly: true, reason: 'slot_used_unrevealed' };
    return DONE;
  }
  return DONE;
}

function eventAudit(
  device: DeviceRecord,
  event: SyncEvent,
  user: UserRecord | undefined,
  outcome: Applied,
): AuditEvent {
  const details: Record<string, string | number | boolean | null> = {
    eventId: event.id,
    seq: event.seq,
    agentTime: event.at,
    applied: outcome.applied,
  };
  let subject: string | undefined = user?.username;
  let purpose: string | undefined;
  let method: string | undefined;
  let reason: string | undefined = outcome.reason;
  switch (event.type) {
    case 'offline-success':
      subject ??= event.username;
      purpose = event.purpose;
      method = event.method;
      if (event.step !== undefined) details.step = event.step;
      if (event.slot !== undefined) details.slot = event.slot;
      break;
    case 'offline-failure':
      subject ??= event.username;
      reason = event.reason;
      if (event.count !== undefined) details.count = event.count;
      if (event.lastAt !== undefined) details.lastAt = event.lastAt;
      break;
    case 'offline-lockout':
      subject ??= event.username;
      details.until = event.until;
      details.failures = event.failures;
      break;
    case 'offline-wipe':
      subject ??= event.username ?? undefined;
      reason = event.reason;
      break;
    case 'clock-rollback':
      details.highWaterMark = event.highWaterMark;
      details.observed = event.observed;
      break;
    case 'store-tampering':
      reason = event.reason;
      break;
    case 'outbox-overflow':
      details.dropped = event.dropped;
      details.lastAt = event.lastAt;
      break;
  }
  const anomaly = outcome.anomaly;
  return {
    type: anomaly ? 'device.sync-anomaly' : `device.${event.type}`,
    outcome:
      event.type === 'offline-success' && !anomaly
        ? 'success'
        : event.type === 'offline-failure' || anomaly
          ? 'failure'
          : 'info',
    actorKind: 'device',
    actor: device.id,
    device: device.id,
    ...(subject !== undefined ? { subject } : {}),
    ...(purpose !== undefined ? { purpose } : {}),
    ...(method !== undefined ? { method } : {}),
    ...(reason !== undefined ? { reason } : {}),
    details: anomaly ? { ...details, event: event.type } : details,
  };
}

/**
 * What the agent must change for one user: compares what it says it holds with the server's state now. A user this
 * device was not given (`user` undefined), unknown or not, gets the same answer as a disabled one: drop what you hold.
 */
async function resetsFor(
  ctx: ServerContext,
  device: DeviceRecord,
  user: UserRecord | undefined,
  state: SyncUserState,
  now: number,
): Promise<Reset[]> {
  if (!user || user.status !== 'active') return [{ kind: 'user-disabled', username: state.username }];
  const [policy, settings] = await Promise.all([policyForUser(ctx.db, user), loadSettings(ctx.db)]);
  const out: Reset[] = [];
  const token = await findToken(ctx.db, user.id);
  if (!token) out.push({ kind: 'token-changed', username: user.username, tokenGeneration: null });
  else if (user.tokenGeneration !== state.tokenGeneration)
    out.push({ kind: 'token-changed', username: user.username, tokenGeneration: user.tokenGeneration });
  if (user.pinGeneration !== state.pinGeneration)
    out.push({ kind: 'pin-changed', username: user.username, pinGeneration: user.pinGeneration });
  if (
    state.temporaryExpiresAt !== undefined &&
    !(await activeMultiUseCodeExpiringAt(ctx.db, user.id, state.temporaryExpiresAt, now))
  ) {
    out.push({ kind: 'temporary-revoked', username: user.username });
  }
  const live = new Set((await liveSlots(ctx.db, device.id, user.id, now)).map((s) => s.slotIndex));
  const retired = state.slots.filter((s) => !live.has(s));
  if (retired.length > 0) out.push({ kind: 'slots-retired', username: user.username, slots: retired });
  // Offline switched off for the user or the enterprise arrives as allowed=false: the agent wipes the user's data.
  out.push({
    kind: 'policy',
    username: user.username,
    offline: { ...policy.offline, allowed: policy.offline.allowed && settings.offlineEnabled },
  });
  return out;
}
