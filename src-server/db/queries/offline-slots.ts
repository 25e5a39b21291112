import type { Queryable, Row } from '../port.js';

/** An offline emergency slot (table `offline_slots`): its code sealed under the master key. */
export interface SlotRecord {
  id: number;
  deviceId: string;
  userId: number;
  slotIndex: number;
  codeEnc: Buffer;
  createdAt: number;
  expiresAt: number;
  deliveredAt: number | null;
  revealedAt: number | null;
  revealedBy: string | null;
  usedAt: number | null;
  retiredAt: number | null;
  retireReason: string | null;
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const str = (v: unknown): string | null => (v === null || v === undefined ? null : (v as string));

function toSlotRecord(r: Row): SlotRecord {
  return {
    id: Number(r.id),
    deviceId: r.device_id as string,
    userId: Number(r.user_id),
    slotIndex: Number(r.slot_index),
    codeEnc: r.code_enc as Buffer,
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
    deliveredAt: num(r.delivered_at),
    revealedAt: num(r.revealed_at),
    revealedBy: str(r.revealed_by),
    usedAt: num(r.used_at),
    retiredAt: num(r.retired_at),
    retireReason: str(r.retire_reason),
  };
}

/** Neither used nor retired nor expired, by index. */
export async function liveSlots(q: Queryable, deviceId: string, userId: number, now: number): Promise<SlotRecord[]> {
  const rows = await q.all(
    'SELECT * FROM offline_slots WHERE device_id = ? AND user_id = ? AND used_at IS NULL AND retired_at IS NULL AND expires_at > ? ORDER BY slot_index',
    [deviceId, userId, now],
  );
  return rows.map(toSlotRecord);
}

export async function findSlotByIndex(
  q: Queryable,
  deviceId: string,
  userId: number,
  slotIndex: number,
): Promise<SlotRecord | undefined> {
  const row = await q.get('SELECT * FROM offline_slots WHERE device_id = ? AND user_id = ? AND slot_index = ?', [
    deviceId,
    userId,
    slotIndex,
  ]);
  return row ? toSlotRecord(row) : undefined;
}

/** The highest index ever given on this device for this user (indexes only grow), or undefined for none. */
export async function topSlotIndex(q: Queryable, deviceId: string, userId: number): Promise<number | undefined> {
  const top = await q.get<{ top: number | null }>(
    'SELECT MAX(slot_index) AS top FROM offline_slots WHERE device_id = ? AND user_id = ?',
    [deviceId, userId],
  );
  return top?.top === null || top?.top === undefined ? undefined : Number(top.top);
}

export async function insertSlot(
  q: Queryable,
  s: { deviceId: string; userId: number; slotIndex: number; codeEnc: Buffer; createdAt: number; expiresAt: number },
): Promise<void> {
  await q.run(
    'INSERT INTO offline_slots (device_id, user_id, slot_index, code_enc, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
    [s.deviceId, s.userId, s.slotIndex, s.codeEnc, s.createdAt, s.expiresAt],
  );
}

/** Keeps the first delivery time. */
export async function markSlotDelivered(q: Queryable, slotId: number, now: number): Promise<void> {
  await q.run('UPDATE offline_slots SET delivered_at = COALESCE(delivered_at, ?) WHERE id = ?', [now, slotId]);
}

/** Retires the live (unused) slots of a device, for one user or all; returns how many. */
export async function retireSlots(
  q: Queryable,
  deviceId: string,
  userId: number | undefined,
  reason: string,
  now: number,
): Promise<number> {
  const r = await q.run(
    `UPDATE offline_slots SET retired_at = ?, retire_reason = ? WHERE device_id = ? ${userId !== undefined ? 'AND user_id = ?' : ''} AND retired_at IS NULL AND used_at IS NULL`,
    userId !== undefined ? [now, reason, deviceId, userId] : [now, reason, deviceId],
  );
  return r.changes;
}

/** A revoked device: every slot not retired yet goes, used or not. */
export async function retireRevokedDeviceSlots(q: Queryable, deviceId: string, now: number): Promise<void> {
  await q.run(
    "UPDATE offline_slots SET retired_at = ?, retire_reason = 'device-revoked' WHERE device_id = ? AND retired_at IS NULL",
    [now, deviceId],
  );
}

/** Marks a slot used, one guarded statement; false when it was used already. */
export async function useSlot(q: Queryable, slotId: number, now: number): Promise<boolean> {
  return (
    (await q.run('UPDATE offline_slots SET used_at = ? WHERE id = ? AND used_at IS NULL', [now, slotId])).changes === 1
  );
}

/** The user's revealed, live slots on any device, in id order (the codes accepted online when the policy says so). */
export async function revealedLiveSlots(q: Queryable, userId: number, now: number): Promise<SlotRecord[]> {
  const rows = await q.all(
    'SELECT * FROM offline_slots WHERE user_id = ? AND revealed_at IS NOT NULL AND used_at IS NULL AND retired_at IS NULL AND expires_at > ? ORDER BY id',
    [userId, now],
  );
  return rows.map(toSlotRecord);
}

/** The users that received slots on this device. */
export async function slotHolders(q: Queryable, deviceId: string): Promise<{ id: number; username: string }[]> {
  const rows = await q.all<{ id: number; username: string }>(
    'SELECT DISTINCT u.id, u.username FROM offline_slots s JOIN users u ON u.id = s.user_id WHERE s.device_id = ? AND s.delivered_at IS NOT NULL',
    [deviceId],
  );
  return rows.map((u) => ({ id: Number(u.id), username: u.username }));
}

/** Delivered, never revealed and live, by index: the slots the helpdesk may still reveal. */
export async function revealableSlots(
  q: Queryable,
  deviceId: string,
  userId: number,
  now: number,
): Promise<SlotRecord[]> {
  const rows = await q.all(
    `SELECT * FROM offline_slots WHERE device_id = ? AND user_id = ? AND delivered_at IS NOT NULL AND revealed_at IS NULL
       AND used_at IS NULL AND retired_at IS NULL AND expires_at > ? ORDER BY slot_index`,
    [deviceId, userId, now],
  );
  return rows.map(toSlotRecord);
}

/** Reveals a slot at most once, one guarded statement; false when revealed, used or retired meanwhile. */
export async function revealSlot(q: Queryable, slotId: number, admin: string, now: number): Promise<boolean> {
  const r = await q.run(
    'UPDATE offline_slots SET revealed_at = ?, revealed_by = ? WHERE id = ? AND revealed_at IS NULL AND used_at IS NULL AND retired_at IS NULL',
    [now, admin, slotId],
  );
  return r.changes === 1;
}
