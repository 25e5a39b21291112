import type { Queryable } from '../port.js';

/** Key-value settings (table `settings`), values as stored JSON text. */
export async function readSetting(q: Queryable, key: string): Promise<string | undefined> {
  const row = await q.get<{ value: string }>('SELECT value FROM settings WHERE key = ?', [key]);
  return row?.value;
}

/**
 * Locks the setting's row until commit, creating it with `initial` when missing (an existing value is kept): under
 * READ COMMITTED a concurrent change then waits and reads what the first committed.
 */
export async function lockSetting(q: Queryable, key: string, initial: string): Promise<void> {
  await q.run(
    'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = settings.value',
    [key, initial],
  );
}

export async function writeSetting(q: Queryable, key: string, value: string): Promise<void> {
  await q.run(
    'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    [key, value],
  );
}
