import type { Queryable } from '../port.js';

/** Outbox events recorded from devices (table `device_events`); the primary key makes a batch count once. */
export async function recordDeviceEvent(
  q: Queryable,
  e: { deviceId: string; eventId: string; seq: number; type: string; receivedAt: number },
): Promise<boolean> {
  const r = await q.run(
    'INSERT INTO device_events (device_id, event_id, seq, type, received_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (device_id, event_id) DO NOTHING',
    [e.deviceId, e.eventId, e.seq, e.type, e.receivedAt],
  );
  return r.changes === 1;
}
