import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRadiusServer, type RadiusServer } from '../../../src-server/radius/server.js';
import { bootstrap, createUser, type AdminHarness } from '../../helpers/admin.js';
import { oathtool } from '../../helpers/oathtool.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { radclient, type RadReply } from './radclient.js';

const PIN = '246810';

/**
 * User enumeration over RADIUS (issue 11, point 7): a NAS, or whoever can send through one, must not learn which
 * usernames exist from the answers. Driven by FreeRADIUS's radclient over real UDP: an unknown name and a known user
 * given the same input get the same Challenge or Reject, with the same Reply-Message, up to and past the lockout.
 */
describe('RADIUS answers an unknown user exactly as a known one with the same input', () => {
  let server: TestServer;
  let h: AdminHarness;
  let radius: RadiusServer;
  let secret: string;
  let wrong: string;

  const ask = (username: string, password: string): Promise<RadReply> =>
    radclient(radius.port, secret, { 'User-Name': username, 'User-Password': password });
  /** What a NAS can see of an answer: its code and its text (the State attribute is random by design). */
  const seen = (r: RadReply) => ({ code: r.code, message: r.attributes['Reply-Message'] });

  beforeAll(async () => {
    server = await startTestServer();
    h = await bootstrap(server);
    radius = await startRadiusServer(server.ctx, { host: '127.0.0.1', port: 0, admission: server.app.admission });
    const res = await h.http('POST', '/api/v1/admin/radius-clients', { name: 'vpn-gw', addresses: ['127.0.0.1/32'] });
    expect(res.status).toBe(201);
    secret = res.body.secret;
    const kate = await createUser(h, 'kate', { pin: PIN, withToken: true });
    const right = oathtool(kate.totpSecret!, server.clock.now());
    wrong = String((Number(right) + 500_000) % 1_000_000).padStart(6, '0');
  }, 30_000);

  afterAll(async () => {
    await radius?.close();
    await server?.close();
  });

  it('a PIN alone gets the same Access-Challenge, and a wrong answer to it the same Access-Reject', async () => {
    const known = await ask('kate', PIN);
    const unknown = await ask('nobody-here', PIN);
    expect(known.code).toBe('Access-Challenge');
    expect(seen(unknown)).toEqual(seen(known));
  });

  it('4 wrong PIN + code attempts: every answer, the lock included, is the same for an unknown name', async () => {
    const answers: { known: ReturnType<typeof seen>; unknown: ReturnType<typeof seen> }[] = [];
    for (let attempt = 1; attempt <= 4; attempt++) {
      answers.push({
        known: seen(await ask('kate', PIN + wrong)),
        unknown: seen(await ask('ghost-user', PIN + wrong)),
      });
    }
    for (const a of answers) expect(a.unknown).toEqual(a.known);
    expect(answers.map((a) => a.known.code)).toEqual([
      'Access-Reject',
      'Access-Reject',
      'Access-Reject',
      'Access-Reject',
    ]);
    // The 4th is refused by the lock (3 failures by default): a difference here is exactly what enumeration reads.
    expect(answers[3]!.known.message).toMatch(/Too many failed attempts/);
  });
});
