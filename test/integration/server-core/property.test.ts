import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../../src-shared/errors.js';
import { normalizeUsername, tryNormalizeUsername } from '../../../src-server/services/users.js';
import { startAdminServer, type AdminHarness } from '../../helpers/admin.js';
import { useHarness } from '../../helpers/hooks.js';

let h: AdminHarness;
useHarness('all', startAdminServer, (started) => (h = started));

describe('property: admin endpoints never fail with a 5xx on random input', () => {
  it('usernames: normalising is idempotent and anything it refuses is a 400', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (s) => {
        const n = tryNormalizeUsername(s);
        if (n === undefined) {
          expect(() => normalizeUsername(s)).toThrow();
          return;
        }
        expect(tryNormalizeUsername(n)).toBe(n);
        expect(n).toBe(n.normalize('NFC'));
        expect(n).not.toMatch(/\s|\p{C}/u);
      }),
      { numRuns: 2000 },
    );
  });

  it('POST /api/v1/admin/users and GET /api/v1/admin/users/{username}', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 80 }), async (username) => {
        const created = await h.http('POST', '/api/v1/admin/users', { username });
        expect([201, 400, 409]).toContain(created.status);
        if (created.status !== 201) expect(ERROR_CODES).toContain(created.body.error);
        const got = await h.http('GET', `/api/v1/admin/users/${encodeURIComponent(username)}`);
        expect([200, 400, 404]).toContain(got.status);
        if (created.status === 201) expect(got.status).toBe(200);
      }),
      { numRuns: 150 },
    );
  });

  it('PATCH /api/v1/admin/settings with random JSON', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 4 }), fc.jsonValue({ maxDepth: 3 }), async (settings, policy) => {
        const res = await h.http('PATCH', '/api/v1/admin/settings', { settings, policies: { fuzz: policy } });
        expect(res.status).toBeLessThan(500);
        if (res.status >= 400) expect(ERROR_CODES).toContain(res.body.error);
      }),
      { numRuns: 150 },
    );
    expect((await h.http('GET', '/api/v1/admin/settings')).status).toBe(200);
  });

  it('POST /api/v1/admin/sessions with random bodies answers 4xx only', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.jsonValue({ maxDepth: 3 }),
          fc.record({
            username: fc.string({ unit: 'binary' }),
            password: fc.string(),
            otp: fc.string({ maxLength: 20 }),
          }),
        ),
        async (body) => {
          const res = await h.http('POST', '/api/v1/admin/sessions', body, null);
          expect(res.status).toBeGreaterThanOrEqual(400);
          expect(res.status).toBeLessThan(500);
          expect(ERROR_CODES).toContain(res.body.error);
        },
      ),
      { numRuns: 60 },
    );
    expect((await h.http('GET', '/api/v1/admin/sessions/current')).status).toBe(200);
  });
});
