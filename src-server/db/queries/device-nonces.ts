import type { Queryable } from '../port.js';

/** Nonces of signed device requests (table `device_nonces`), kept while inside the acceptance window. */

export async function pruneDeviceNonces(q: Queryable, deviceId: string, now: number): Promise<void> {
  await q.run('DELETE FROM device_nonces WHERE device_id = ? AND expires_at < ?', [deviceId, now]);
}

/** False when the device used this nonce before (a replay). */
export async function recordDeviceNonce(
  q: Queryable,
  deviceId: string,
  nonce: string,
  expiresAt: number,
): Promise<boolean> {
  const r = await q.run(
    'INSERT INTO device_nonces (device_id, nonce, expires_at) VALUES (?, ?, ?) ON CONFLICT (device_id, nonce) DO NOTHING',
    [deviceId, nonce, expiresAt],
  );
  return r.changes === 1;
}
