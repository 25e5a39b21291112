import type { Queryable } from '../port.js';

/** The readiness probe's round trip: no table, just proof that the database answers. */
export async function ping(q: Queryable): Promise<void> {
  await q.get('SELECT 1 AS one');
}
