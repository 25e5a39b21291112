import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PURPOSES } from '../../src-shared/codes.js';
import { ERROR_CODES } from '../../src-shared/errors.js';
import { startCodesHarness, type CodesHarness } from '../integration/codes/harness.js';

/**
 * Random input against the issue and verify endpoints of a real server: whatever arrives, the answer is a 2xx or a
 * 4xx whose `error` is one of the stable codes, and the server keeps answering. Shapes are biased towards the real
 * ones (right field names, right users, codes that look like codes) so that the deeper paths run too.
 */
let h: CodesHarness;
const USERS = ['prop-a', 'prop-b'];

beforeAll(async () => {
  h = await startCodesHarness();
  for (const u of USERS) await h.userWithToken(u);
});
afterAll(async () => {
  await h?.close();
});

const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', ' ', '\u0000', '\u202e', '😀', 'ＡＢＣＤ'),
);
const username = fc.oneof(fc.constantFrom(...USERS, 'PROP-A', ' prop-b ', 'nobody'), text);
const code = fc.oneof(
  fc.stringMatching(/^[0-9]{6}$/),
  fc.stringMatching(/^[0-9A-Za-z]{4}-[0-9A-Za-z]{4}(-[0-9A-Za-z]{4})?$/),
  text,
);
const anyValue = fc.oneof(
  text,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.object({ maxDepth: 1 }),
);

const verifyBody = fc.oneof(
  fc.record(
    { username, code, pin: fc.option(text, { nil: undefined }), purpose: fc.oneof(fc.constantFrom(...PURPOSES), text) },
    { requiredKeys: ['username', 'code', 'purpose'] },
  ),
  fc.dictionary(fc.constantFrom('username', 'code', 'pin', 'purpose', 'extra', '__proto__', 'constructor'), anyValue, {
    maxKeys: 5,
  }),
  anyValue,
);

const issueBody = fc.oneof(
  fc.record(
    {
      expiresInMinutes: fc.oneof(fc.integer({ min: -10, max: 50_000 }), anyValue),
      multiUse: fc.oneof(fc.boolean(), anyValue),
      purposes: fc.oneof(fc.subarray([...PURPOSES]), anyValue),
    },
    { requiredKeys: [] },
  ),
  fc.record(
    {
      count: fc.oneof(fc.integer({ min: -1, max: 120 }), anyValue),
      expiresInHours: fc.oneof(fc.integer({ min: 0, max: 10_000 }), fc.constant(null), anyValue),
    },
    { requiredKeys: [] },
  ),
  anyValue,
);

function expectStable(status: number, body: unknown): void {
  expect(status >= 200 && status < 500, `status ${status}: ${JSON.stringify(body)}`).toBe(true);
  if (status >= 400) {
    expect(ERROR_CODES as readonly string[]).toContain((body as { error?: string }).error);
    expect(typeof (body as { message?: string }).message).toBe('string');
  }
}

describe('property: random input to the codes API', () => {
  it('POST /api/v1/verify always answers 2xx/4xx with a stable error code', async () => {
    await fc.assert(
      fc.asyncProperty(verifyBody, async (body) => {
        const r = await h.verify(body as Record<string, unknown>);
        expectStable(r.status, r.body);
        if (r.status === 200) expect(r.body.ok).toBe(true);
      }),
      { numRuns: 150 },
    );
    expect((await fetch(h.server.url + '/healthz')).status).toBe(200);
  });

  it('the issue endpoints always answer 2xx/4xx with a stable error code', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('temporary-code', 'emergency-codes'),
        username,
        issueBody,
        async (what, user, body) => {
          const r = await h.http('POST', `/api/v1/admin/users/${encodeURIComponent(user)}/${what}`, body);
          expectStable(r.status, r.body);
          if (r.status === 201) expect(r.body.code ?? r.body.codes).toBeDefined();
        },
      ),
      { numRuns: 150 },
    );
    expect((await fetch(h.server.url + '/healthz')).status).toBe(200);
  });

  it('a code is accepted however it is spaced, dashed or cased', async () => {
    // A user of its own: the random verifications above may have locked the others.
    await h.userWithToken('prop-c');
    const issued = await h.issueTemporary('prop-c', { multiUse: true, expiresInMinutes: 600 });
    expect(issued.status).toBe(201);
    const canonical = (issued.body.code as string).replace(/-/g, '');
    const pin = 'Qz7-pin-93';
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom('', ' ', '-', '  '), { minLength: canonical.length, maxLength: canonical.length }),
        fc.boolean(),
        async (seps, lower) => {
          const typed = [...canonical].map((ch, i) => (lower ? ch.toLowerCase() : ch) + seps[i]).join('');
          const r = await h.verify({ username: 'prop-c', code: typed, pin, purpose: 'logon' });
          expect(r.body).toEqual({ ok: true, method: 'temporary' });
        },
      ),
      { numRuns: 25 },
    );
  });
});
