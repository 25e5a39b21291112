import type { Queryable } from '../port.js';

/** The one enrollment secret (table `device_enrollment`, row id 1), sealed under the master key. */

export async function readEnrollmentSecret(q: Queryable): Promise<Buffer | undefined> {
  return (await q.get<{ secret_enc: Buffer }>('SELECT secret_enc FROM device_enrollment WHERE id = 1'))?.secret_enc;
}

/** Stores it unless one exists already (a race creates it once). */
export async function insertEnrollmentSecret(q: Queryable, secretEnc: Buffer, now: number): Promise<void> {
  await q.run(
    'INSERT INTO device_enrollment (id, secret_enc, created_at) VALUES (1, ?, ?) ON CONFLICT (id) DO NOTHING',
    [secretEnc, now],
  );
}
