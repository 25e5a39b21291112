import type { Queryable } from '../port.js';
import { toUserRecord, type UserRecord } from './users.js';

/** Which users' data each device holds, with the bundle sequence (table `device_users`). */

export async function giveUserToDevice(q: Queryable, deviceId: string, userId: number): Promise<void> {
  await q.run(
    'INSERT INTO device_users (device_id, user_id) VALUES (?, ?) ON CONFLICT (device_id, user_id) DO NOTHING',
    [deviceId, userId],
  );
}

/** The users this device was given. */
export async function usersGivenToDevice(q: Queryable, deviceId: string): Promise<UserRecord[]> {
  return (
    await q.all('SELECT u.* FROM device_users du JOIN users u ON u.id = du.user_id WHERE du.device_id = ?', [deviceId])
  ).map(toUserRecord);
}

/** The next bundle sequence of the device and user (the row must exist: giveUserToDevice). */
export async function nextBundleSequence(q: Queryable, deviceId: string, userId: number, now: number): Promise<number> {
  const seq = await q.get<{ sequence: number }>(
    'UPDATE device_users SET sequence = sequence + 1, last_bundle_at = ? WHERE device_id = ? AND user_id = ? RETURNING sequence',
    [now, deviceId, userId],
  );
  return Number(seq!.sequence);
}

/** True the first time offline data reaches this device for this user. */
export async function markFirstDelivery(q: Queryable, deviceId: string, userId: number, now: number): Promise<boolean> {
  const r = await q.run(
    'UPDATE device_users SET first_delivered_at = ? WHERE device_id = ? AND user_id = ? AND first_delivered_at IS NULL',
    [now, deviceId, userId],
  );
  return r.changes === 1;
}

/** For each of these devices, the usernames it received offline data of, by username. */
export async function deliveredUsernames(
  q: Queryable,
  deviceIds: readonly string[],
): Promise<{ deviceId: string; username: string }[]> {
  if (deviceIds.length === 0) return [];
  const rows = await q.all<{ device_id: string; username: string }>(
    `SELECT du.device_id, u.username FROM device_users du JOIN users u ON u.id = du.user_id
     WHERE du.first_delivered_at IS NOT NULL AND du.device_id IN (${deviceIds.map(() => '?').join(',')}) ORDER BY u.username`,
    [...deviceIds],
  );
  return rows.map((r) => ({ deviceId: r.device_id, username: r.username }));
}
