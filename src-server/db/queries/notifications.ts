import type { Queryable } from '../port.js';

/** The notification outbox (table `notifications`); delivery claims each row with a guarded UPDATE. */
export interface OutboxRecord {
  id: number;
  username: string;
  email: string;
  kind: string;
  /** JSON object as stored. */
  details: string;
  createdAt: number;
}

export async function insertNotification(
  q: Queryable,
  n: { userId: number; username: string; email: string | null; kind: string; details: string; createdAt: number },
): Promise<void> {
  await q.run(
    'INSERT INTO notifications (user_id, username, email, kind, details, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    [n.userId, n.username, n.email, n.kind, n.details, n.createdAt],
  );
}

/** Up to 100 unsent rows that have an address, oldest first. */
export async function pendingNotifications(q: Queryable): Promise<OutboxRecord[]> {
  const rows = await q.all<{
    id: number;
    username: string;
    email: string;
    kind: string;
    details: string;
    created_at: number;
  }>(
    'SELECT id, username, email, kind, details, created_at FROM notifications WHERE sent_at IS NULL AND email IS NOT NULL ORDER BY id LIMIT 100',
  );
  return rows.map((r) => ({
    id: Number(r.id),
    username: r.username,
    email: r.email,
    kind: r.kind,
    details: r.details,
    createdAt: Number(r.created_at),
  }));
}

/** False when another instance claimed it first. */
export async function claimNotification(q: Queryable, id: number, now: number): Promise<boolean> {
  return (await q.run('UPDATE notifications SET sent_at = ? WHERE id = ? AND sent_at IS NULL', [now, id])).changes > 0;
}

/** A failed send: the next round tries again. */
export async function releaseNotification(q: Queryable, id: number): Promise<void> {
  await q.run('UPDATE notifications SET sent_at = NULL WHERE id = ?', [id]);
}
