import { describe, expect, it } from 'vitest';
import { SYNC_BODY_LIMIT } from '../../src-server/routes/devices.js';
import { MAX_USERS_PER_DEVICE, SyncRequestSchema } from '../../src-shared/protocol/sync.js';

// A shared ward workstation may hold offline data for hundreds of users; its sync request must stay valid and fit
// the server's body limit with a full batch of events beside it.
const userState = (i: number) => ({
  username: `${'u'.repeat(120)}${String(i).padStart(8, '0')}`,
  tokenGeneration: 1_000_000,
  pinGeneration: 1_000_000,
  slots: Array.from({ length: 20 }, (_, k) => 1000 + k),
  temporaryExpiresAt: 1_795_000_000_000,
});

describe('sync request limits', () => {
  it(`accepts ${MAX_USERS_PER_DEVICE} users and refuses one more`, () => {
    const base = { v: 1, agentVersion: '1.0.0', events: [] as unknown[] };
    const users = Array.from({ length: MAX_USERS_PER_DEVICE }, (_, i) => userState(i));
    const ok = SyncRequestSchema.safeParse({ ...base, users });
    // Only the users' limit is under test here; other fields may be missing from this minimal request.
    const userIssues = (r: typeof ok) => (r.success ? [] : r.error.issues.filter((i) => i.path[0] === 'users'));
    expect(userIssues(ok)).toEqual([]);
    const tooMany = SyncRequestSchema.safeParse({ ...base, users: [...users, userState(MAX_USERS_PER_DEVICE)] });
    expect(userIssues(tooMany).length).toBeGreaterThan(0);
  });

  it('the users of a full device take at most half the server body limit, leaving room for a batch of events', () => {
    const users = Array.from({ length: MAX_USERS_PER_DEVICE }, (_, i) => userState(i));
    expect(Buffer.byteLength(JSON.stringify(users))).toBeLessThan(SYNC_BODY_LIMIT / 2);
  });
});
