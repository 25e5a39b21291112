import { describe, expect, it } from 'vitest';
import { appendAudit } from '../../../src-server/services/audit.js';
import { startAdminServer, type AdminHarness } from '../../helpers/admin.js';
import { useHarness } from '../../helpers/hooks.js';

let h: AdminHarness;
useHarness('each', startAdminServer, (started) => {
  h = started;
});

/**
 * The console's chart counts per UTC day, on the engine under test: PostgreSQL answers integer division and SUM as
 * strings, and the adapter (db/postgres.ts) converts them, so the counts arrive as numbers on both engines.
 */
describe('the console audit chart', () => {
  it('counts issued codes, verifications and offline uses per day, as numbers', async () => {
    const { ctx, clock } = h.server;
    const events = [
      'temporary-code.issue',
      'emergency-codes.issue',
      'verify.attempt',
      'verify.attempt',
      'verify.attempt',
      'device.offline-success',
    ];
    for (const type of events) await appendAudit(ctx.db, ctx, { type, outcome: 'success', actorKind: 'system' });
    const res = await h.http('GET', `/api/v1/admin/console/audit-stats?until=${clock.now() + 1}`);
    expect(res.status).toBe(200);
    const today = new Date(clock.now()).toISOString().slice(0, 10);
    expect(res.body.days.find((d: { day: string }) => d.day === today)).toStrictEqual({
      day: today,
      issued: 2,
      verifications: 3,
      offline: 1,
    });
  });
});
