import { PURPOSES } from '../../src-shared/codes.js';
import { randomCrockford } from '../../src-shared/crypto/random.js';
import { CODE_LENGTHS } from '../../src-shared/codes.js';
import type { Policy } from '../../src-shared/policy.js';
import type { OfflineSlot } from '../../src-shared/protocol/bundle.js';
import type { ServerContext } from '../context.js';
import type { Queryable } from '../db/port.js';
import { decryptSecret, encryptSecret } from './secrets.js';
import type { ExtraCandidate, ExtraCandidateSource } from './verification.js';
import type { UserRow } from './users.js';

/**
 * Offline emergency slots (RSA's offline emergency access tokencode, one per slot): provisioned per user and device
 * ahead of need, delivered inside bundles, revealed to the helpdesk in order and at most once, used once. A slot is
 * live while it is neither used nor retired nor expired. Indexes only grow for a device and user, so a reset's fresh
 * slots never reuse an index the agent may still hold.
 */
export interface SlotRow {
  id: number;
  device_id: string;
  user_id: number;
  slot_index: number;
  code_enc: Buffer;
  created_at: number;
  expires_at: number;
  delivered_at: number | null;
  revealed_at: number | null;
  revealed_by: string | null;
  used_at: number | null;
  retired_at: number | null;
  retire_reason: string | null;
}

const DAY = 86_400_000;

export function slotAad(deviceId: string, userId: number, index: number): string {
  return `offline-slot:${deviceId}:${userId}:${index}`;
}

export function decryptSlotCode(ctx: Pick<ServerContext, 'keys'>, slot: Pick<SlotRow, 'device_id' | 'user_id' | 'slot_index' | 'code_enc'>): Buffer {
  return decryptSecret(ctx, slotAad(slot.device_id, Number(slot.user_id), Number(slot.slot_index)), slot.code_enc);
}

export async function liveSlots(q: Queryable, deviceId: string, userId: number, now: number): Promise<SlotRow[]> {
  return q.all<SlotRow>(
    'SELECT * FROM offline_slots WHERE device_id = ? AND user_id = ? AND used_at IS NULL AND retired_at IS NULL AND expires_at > ? ORDER BY slot_index',
    [deviceId, userId, now],
  );
}

/** Tops the user's live slots on this device up to the policy's count (inside the bundle's transaction). */
export async function provisionSlots(q: Queryable, ctx: ServerContext, deviceId: string, user: UserRow, policy: Policy, now: number): Promise<void> {
  const live = await liveSlots(q, deviceId, user.id, now);
  const missing = policy.offline.emergencySlotsPerDevice - live.length;
  if (missing <= 0) return;
  const top = await q.get<{ top: number | null }>('SELECT MAX(slot_index) AS top FROM offline_slots WHERE device_id = ? AND user_id = ?', [deviceId, user.id]);
  let index = top?.top === null || top?.top === undefined ? 0 : Number(top.top) + 1;
  for (let i = 0; i < missing; i++, index++) {
    const code = Buffer.from(randomCrockford(CODE_LENGTHS.offlineEmergency), 'utf8');
    await q.run('INSERT INTO offline_slots (device_id, user_id, slot_index, code_enc, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)', [
      deviceId,
      user.id,
      index,
      encryptSecret(ctx, slotAad(deviceId, user.id, index), code),
      now,
      now + policy.offline.slotLifetimeDays * DAY,
    ]);
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
  const send = live.filter((s) => fullDelivery || s.delivered_at === null);
  for (const s of send) await q.run('UPDATE offline_slots SET delivered_at = COALESCE(delivered_at, ?) WHERE id = ?', [now, s.id]);
  const slots = send.map((s) => {
    const code = decryptSlotCode(ctx, s);
    try {
      return { index: Number(s.slot_index), code: code.toString('utf8'), expiresAt: Number(s.expires_at) };
    } finally {
      code.fill(0);
    }
  });
  return { slots, active: live.map((s) => Number(s.slot_index)) };
}

/** RSA's reset: retire live slots of a device (one user or all) so fresh ones arrive at the next online login. */
export async function retireSlots(q: Queryable, deviceId: string, userId: number | undefined, reason: string, now: number): Promise<number> {
  const r = await q.run(
    `UPDATE offline_slots SET retired_at = ?, retire_reason = ? WHERE device_id = ? ${userId !== undefined ? 'AND user_id = ?' : ''} AND retired_at IS NULL AND used_at IS NULL`,
    userId !== undefined ? [now, reason, deviceId, userId] : [now, reason, deviceId],
  );
  return r.changes;
}

/** Marks a slot used (an offline use reported by sync, or an online use); false when it was used already. */
export async function useSlot(q: Queryable, slotId: number, now: number): Promise<boolean> {
  const r = await q.run('UPDATE offline_slots SET used_at = ? WHERE id = ? AND used_at IS NULL', [now, slotId]);
  return r.changes === 1;
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
    const rows = await q.all<SlotRow>(
      'SELECT * FROM offline_slots WHERE user_id = ? AND revealed_at IS NOT NULL AND used_at IS NULL AND retired_at IS NULL AND expires_at > ? ORDER BY id',
      [user.id, now],
    );
    const purposes = PURPOSES.filter((p) => p !== 'sign' || policy.temporaryCodes.purposes.includes('sign'));
    return rows.map(
      (s): ExtraCandidate => ({
        method: 'offline-emergency',
        secret: { kind: 'plain', value: decryptSlotCode(ctx, s) },
        pinRequired: false,
        purposes,
        consume: (tx, at) => useSlot(tx, s.id, at),
        auditDetails: { slot: Number(s.slot_index), slotDevice: s.device_id, online: true },
      }),
    );
  };
}
