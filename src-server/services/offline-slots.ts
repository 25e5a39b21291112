import { PURPOSES } from '../../src-shared/codes.js';
import { randomCrockford } from '../../src-shared/crypto/random.js';
import { CODE_LENGTHS } from '../../src-shared/codes.js';
import type { Policy } from '../../src-shared/policy.js';
import type { OfflineSlot } from '../../src-shared/protocol/bundle.js';
import type { ServerContext } from '../context.js';
import type { Queryable } from '../db/port.js';
import {
  insertSlot,
  liveSlots,
  markSlotDelivered,
  revealedLiveSlots,
  topSlotIndex,
  useSlot,
  type SlotRecord,
} from '../db/queries/offline-slots.js';
import type { UserRecord } from '../db/queries/users.js';
import { decryptSecret, encryptSecret } from './secrets.js';
import type { ExtraCandidate, ExtraCandidateSource } from './verification-evidence.js';

/**
 * Offline emergency slots (RSA's offline emergency access tokencode, one per slot): provisioned per user and device
 * ahead of need, delivered inside bundles, revealed to the helpdesk in order and at most once, used once. A slot is
 * live while it is neither used nor retired nor expired. Indexes only grow for a device and user, so a reset's fresh
 * slots never reuse an index the agent may still hold.
 */
/** RSA's reset (retireSlots: live slots of a device, one user or all) and a use (useSlot), as db/queries has them. */
export { retireSlots, useSlot } from '../db/queries/offline-slots.js';

const DAY = 86_400_000;

export function slotAad(deviceId: string, userId: number, index: number): string {
  return `offline-slot:${deviceId}:${userId}:${index}`;
}

export function decryptSlotCode(
  ctx: Pick<ServerContext, 'keys'>,
  slot: Pick<SlotRecord, 'deviceId' | 'userId' | 'slotIndex' | 'codeEnc'>,
): Buffer {
  return decryptSecret(ctx, slotAad(slot.deviceId, slot.userId, slot.slotIndex), slot.codeEnc);
}

/** Tops the user's live slots on this device up to the policy's count (inside the bundle's transaction). */
export async function provisionSlots(
  q: Queryable,
  ctx: ServerContext,
  deviceId: string,
  user: UserRecord,
  policy: Policy,
  now: number,
): Promise<void> {
  const live = await liveSlots(q, deviceId, user.id, now);
  const missing = policy.offline.emergencySlotsPerDevice - live.length;
  if (missing <= 0) return;
  const top = await topSlotIndex(q, deviceId, user.id);
  let index = top === undefined ? 0 : top + 1;
  for (let i = 0; i < missing; i++, index++) {
    const code = Buffer.from(randomCrockford(CODE_LENGTHS.offlineEmergency), 'utf8');
    await insertSlot(q, {
      deviceId,
      userId: user.id,
      slotIndex: index,
      codeEnc: encryptSecret(ctx, slotAad(deviceId, user.id, index), code),
      createdAt: now,
      expiresAt: now + policy.offline.slotLifetimeDays * DAY,
    });
    code.fill(0);
  }
}

/**
 * The slots to put into a bundle: every live slot on a full delivery (the agent holds nothing: a fresh store), else
 * only those never delivered, so a slot the agent used offline but has not reported yet is never sent back to it as
 * new. Marks them delivered. Returns also the live indexes, so the agent drops what was retired.
 */
export async function slotsForBundle(
  q: Queryable,
  ctx: ServerContext,
  deviceId: string,
  userId: number,
  fullDelivery: boolean,
  now: number,
): Promise<{ slots: OfflineSlot[]; active: number[] }> {
  const live = await liveSlots(q, deviceId, userId, now);
  const send = live.filter((s) => fullDelivery || s.deliveredAt === null);
  for (const s of send) await markSlotDelivered(q, s.id, now);
  const slots = send.map((s) => {
    const code = decryptSlotCode(ctx, s);
    try {
      return { index: s.slotIndex, code: code.toString('utf8'), expiresAt: s.expiresAt };
    } finally {
      code.fill(0);
    }
  });
  return { slots, active: live.map((s) => s.slotIndex) };
}

/**
 * RSA's 'use offline code for online access' (policy offline.emergencyCodeOnline, off by default): a revealed,
 * live slot code of the user, from any of their devices, is accepted by verifyCode and used up centrally; the agent
 * learns at its next sync that the slot is retired. Without the PIN, as offline.
 */
export function onlineSlotCandidates(ctx: ServerContext): ExtraCandidateSource {
  return async (q, user, policy) => {
    if (!policy.offline.emergencyCodeOnline) return [];
    const now = ctx.clock.now();
    const rows = await revealedLiveSlots(q, user.id, now);
    const purposes = PURPOSES.filter((p) => p !== 'sign' || policy.temporaryCodes.purposes.includes('sign'));
    return rows.map((s): ExtraCandidate => ({
      method: 'offline-emergency',
      secret: { kind: 'plain', value: decryptSlotCode(ctx, s) },
      pinRequired: false,
      purposes,
      consume: (tx, at) => useSlot(tx, s.id, at),
      auditDetails: { slot: s.slotIndex, slotDevice: s.deviceId, online: true },
    }));
  };
}
