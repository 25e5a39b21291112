import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leakedSecrets, startCodesHarness, type CodesHarness } from '../codes/harness.js';

/**
 * The server's log redaction, read from the real server's log output: error codes stay readable (an operator needs
 * `SQLITE_ERROR` or `FST_ERR_…` to know what failed), while a one-time code, PIN or key never reaches a line, neither
 * from real verifications nor from a request body that some log line might carry.
 */

let h: CodesHarness;
beforeAll(async () => {
  h = await startCodesHarness();
});
afterAll(() => h.close());

const parsed = (lines: string[]) =>
  lines.map((l) => JSON.parse(l) as Record<string, unknown> & { err?: { code?: unknown } });

describe('server log redaction', () => {
  it('keeps the code of an error log line readable', async () => {
    // A database fault under a real request: the table the route reads is gone, so the request fails with 500.
    await h.server.ctx.db.run('ALTER TABLE api_clients RENAME TO api_clients_gone');
    const before = h.server.logLines.length;
    try {
      expect((await h.http('GET', '/api/v1/admin/clients')).status).toBe(500);
    } finally {
      await h.server.ctx.db.run('ALTER TABLE api_clients_gone RENAME TO api_clients');
    }
    const failed = parsed(h.server.logLines.slice(before)).filter((l) => l.msg === 'request failed');
    expect(failed).toHaveLength(1);
    // SQLite names its error SQLITE_ERROR; PostgreSQL gives the SQLSTATE of an undefined table.
    expect(failed[0]!.err?.code).toBe(h.server.engine === 'postgres' ? '42P01' : 'SQLITE_ERROR');
  });

  it('never lets a one-time code, PIN or client key reach a line, from real verifications or from a logged body', async () => {
    const user = await h.userWithToken('carol');
    const issued = await h.issueTemporary('carol');
    expect(issued.status).toBe(201);
    const code = issued.body.code as string;
    h.nextStep();
    const wrong = h.tokenCode(user.totpSecret) === '000000' ? '111111' : '000000';
    expect((await h.verify({ username: 'carol', pin: user.pin, code: wrong, purpose: 'logon' })).status).toBe(401);
    expect((await h.verify({ username: 'carol', pin: user.pin, code, purpose: 'logon' })).status).toBe(200);
    expect(
      (await h.verify({ username: 'carol', pin: user.pin, code: h.tokenCode(user.totpSecret), purpose: 'logon' }))
        .status,
    ).toBe(200);

    // The second line of defence: a line that carried a request body, or the request with its body, shows none of it.
    const http = h.server.ctx.log.child({ component: 'http' });
    const body = { username: 'carol', pin: user.pin, code, codes: [code], key: h.clientKey };
    http.warn({ body }, 'a body in a log line');
    http.warn({ req: { method: 'POST', url: '/api/v1/verify', body } }, 'a request in a log line');
    http.warn({ attempt: { body } }, 'a nested body in a log line');

    expect(await leakedSecrets(h)).toEqual([]);
    const lines = parsed(h.server.logLines);
    expect(lines.filter((l) => String(l.msg).endsWith('in a log line'))).toHaveLength(3);
    expect(JSON.stringify(lines)).not.toContain(wrong === '000000' ? '"000000"' : '"111111"');
  });
});
