import { randomBytes } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MESSAGES } from '../../../src-server/radius/authenticate.js';
import { ATTR, CODE } from '../../../src-server/radius/packet.js';
import { startRadiusServer, type RadiusServer } from '../../../src-server/radius/server.js';
import { bootstrap, createUser, enableTemporaryCodes, type AdminHarness } from '../../helpers/admin.js';
import { forEachEngine } from '../../helpers/engines.js';
import { oathtool } from '../../helpers/oathtool.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { accessRequest, attributeValues, hasValidResponseAuthenticator, startTestNas, type TestNas } from './nas.js';

/** Distinctive, so that finding it in stored bytes cannot be a coincidence. */
const PIN = 'Qz7#rad!';

/**
 * Two RADIUS instances of one deployment behind a UDP balancer without source affinity: a NAS's retransmission or
 * its challenge follow-up may reach either. On PostgreSQL they are two server contexts on one database (as two
 * processes would be, sharing one manual clock); SQLite holds one server per file, so there they are two RADIUS
 * servers on one context, which share nothing but the database either: each has its own in-process state.
 */
forEachEngine('RADIUS duplicate detection and challenges shared by two instances', (engine) => {
  let first: TestServer;
  let second: TestServer | undefined;
  let h: AdminHarness;
  let secret: string;
  let a: RadiusServer;
  let b: RadiusServer;
  let nas: TestNas;

  beforeAll(async () => {
    first = await startTestServer({ engine });
    if (engine === 'postgres') second = await startTestServer({ join: first.deployment!, clock: first.clock });
    h = await bootstrap(first);
    await enableTemporaryCodes(h);
    const res = await h.http('POST', '/api/v1/admin/radius-clients', {
      name: 'vpn-balanced',
      addresses: ['127.0.0.1/32'],
    });
    expect(res.status).toBe(201);
    secret = res.body.secret;
    a = await startRadiusServer(first.ctx, { host: '127.0.0.1', port: 0, admission: first.app.admission });
    b = await startRadiusServer((second ?? first).ctx, {
      host: '127.0.0.1',
      port: 0,
      admission: (second ?? first).app.admission,
    });
    nas = await startTestNas();
  }, 60_000);

  afterAll(async () => {
    nas?.close();
    await a?.close();
    await b?.close();
    await second?.close();
    await first?.close();
  });

  const db = () => first.ctx.db;

  async function verifications(username: string): Promise<string[]> {
    const rows = await db().all<{ outcome: string }>(
      "SELECT outcome FROM audit WHERE subject = ? AND type = 'verify.attempt' ORDER BY id",
      [username],
    );
    return rows.map((r) => r.outcome);
  }

  async function singleUseCode(username: string): Promise<string> {
    await createUser(h, username, { pin: PIN });
    const issued = await h.http('POST', `/api/v1/admin/users/${username}/temporary-code`, {
      expiresInMinutes: 60,
      multiUse: false,
    });
    expect(issued.status).toBe(201);
    return issued.body.code as string;
  }

  function nextStep(): void {
    first.clock.set((Math.floor(first.clock.now() / 30_000) + 1) * 30_000 + 2_000);
  }

  it('answers one request sent to A, then to B, with the same Accept bytes and ONE verification of a single-use code', async () => {
    const code = await singleUseCode('amy');
    const request = accessRequest({ identifier: 1, secret, username: 'amy', password: PIN + code });
    nas.send(request, a.port);
    const fromA = await nas.answer(a.port);
    const duplicatesOnB = b.stats.duplicates;
    nas.send(request, b.port);
    const fromB = await nas.answer(b.port);

    expect(fromA?.[0]).toBe(CODE.AccessAccept);
    expect(hasValidResponseAuthenticator(fromA!, request, secret)).toBe(true);
    expect(fromB?.equals(fromA!)).toBe(true);
    expect(b.stats.duplicates).toBe(duplicatesOnB + 1);
    expect(await verifications('amy')).toEqual(['success']);

    // B now holds the answer in process too: a further retransmission is answered without the database.
    await db().run('DELETE FROM radius_requests');
    nas.send(request, b.port);
    expect((await nas.answer(b.port))?.equals(fromA!)).toBe(true);

    // The user typing the same code again is a new request (new authenticator): a second attempt, refused.
    nas.send(accessRequest({ identifier: 2, secret, username: 'amy', password: PIN + code }), b.port);
    expect((await nas.answer(b.port))?.[0]).toBe(CODE.AccessReject);
    expect(await verifications('amy')).toEqual(['success', 'failure']);
  });

  it('verifies once when the same request reaches A and B at the same time (one copy waits for the other)', async () => {
    const code = await singleUseCode('ben');
    const before = a.stats.duplicates + b.stats.duplicates;
    const request = accessRequest({ identifier: 3, secret, username: 'ben', password: PIN + code });
    nas.send(request, a.port);
    nas.send(request, b.port);
    const [fromA, fromB] = await Promise.all([nas.answer(a.port), nas.answer(b.port)]);

    expect(fromA?.[0]).toBe(CODE.AccessAccept);
    expect(fromB?.equals(fromA!)).toBe(true);
    expect(a.stats.duplicates + b.stats.duplicates).toBe(before + 1);
    expect(await verifications('ben')).toEqual(['success']);
  });

  it('takes a challenge issued by A on B, once: the same State replayed on A is refused unverified', async () => {
    const dora = await createUser(h, 'dora', { pin: PIN, withToken: true });
    const start = accessRequest({ identifier: 4, secret, username: 'dora', password: PIN });
    nas.send(start, a.port);
    const challenge = await nas.answer(a.port);
    expect(challenge?.[0]).toBe(CODE.AccessChallenge);
    const [state] = attributeValues(challenge!, ATTR.State);
    expect(state).toHaveLength(16);

    nextStep();
    const followUp = accessRequest({
      identifier: 5,
      secret,
      username: 'dora',
      password: oathtool(dora.totpSecret!, first.clock.now()),
      state: state!,
    });
    nas.send(followUp, b.port);
    expect((await nas.answer(b.port))?.[0]).toBe(CODE.AccessAccept);
    expect(await db().all('SELECT id FROM radius_challenges')).toEqual([]);

    nextStep();
    const replay = accessRequest({
      identifier: 6,
      secret,
      username: 'dora',
      password: oathtool(dora.totpSecret!, first.clock.now()),
      state: state!,
    });
    nas.send(replay, a.port);
    const refused = await nas.answer(a.port);
    expect(refused?.[0]).toBe(CODE.AccessReject);
    expect(Buffer.concat(attributeValues(refused!, ATTR.ReplyMessage)).toString('utf8')).toBe(
      MESSAGES.expiredChallenge,
    );
    expect(await verifications('dora')).toEqual(['success']);
  });

  it('stores a challenge PIN only sealed under the master key, and the State only as a hash', async () => {
    await createUser(h, 'finn', { pin: PIN, withToken: true });
    nas.send(accessRequest({ identifier: 7, secret, username: 'finn', password: PIN }), a.port);
    const challenge = await nas.answer(a.port);
    expect(challenge?.[0]).toBe(CODE.AccessChallenge);
    const [state] = attributeValues(challenge!, ATTR.State);

    const rows = await db().all<Record<string, unknown>>('SELECT * FROM radius_challenges');
    expect(rows).toHaveLength(1);
    const stored = Buffer.concat(Object.values(rows[0]!).map((v) => (Buffer.isBuffer(v) ? v : Buffer.from(String(v)))));
    expect(stored.includes(Buffer.from('finn'))).toBe(true); // the scan does see the row's bytes
    expect(stored.includes(Buffer.from(PIN))).toBe(false);
    expect(stored.includes(state!)).toBe(false);
    if (engine === 'sqlite') {
      // The whole database, WAL included: the PIN is nowhere in the clear.
      const file = path.join(first.dataDir, 'lifeline.sqlite');
      for (const f of [file, `${file}-wal`].filter((f) => existsSync(f)))
        expect(readFileSync(f).includes(Buffer.from(PIN)), f).toBe(false);
    }
  });

  it('sends nothing for a request whose claiming instance died mid-verification, verifies nothing, and frees the key after 30 s', async () => {
    const c = await startRadiusServer((second ?? first).ctx, {
      host: '127.0.0.1',
      port: 0,
      duplicateWaitMs: 300,
      admission: (second ?? first).app.admission,
    });
    try {
      const code = await singleUseCode('gus');
      const request = accessRequest({ identifier: 8, secret, username: 'gus', password: PIN + code });
      // What an instance leaves behind when it is killed between its claim and its answer.
      const client = await db().get<{ id: number }>("SELECT id FROM radius_clients WHERE name = 'vpn-balanced'");
      const now = first.clock.now();
      await db().run(
        'INSERT INTO radius_requests (client_id, source_address, source_port, identifier, authenticator, claim, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        [client!.id, '127.0.0.1', nas.port, 8, request.subarray(4, 20), randomBytes(16), now, now + 30_000],
      );
      nas.send(request, c.port);
      expect(await nas.answer(c.port, 2_000)).toBeUndefined();
      expect(c.stats.duplicates).toBe(1);
      expect(await verifications('gus')).toEqual([]);

      // A NAS still retrying after the window: the dead claim has expired, so this copy is verified (once).
      first.clock.advance(30_001);
      nas.send(request, c.port);
      expect((await nas.answer(c.port))?.[0]).toBe(CODE.AccessAccept);
      expect(await verifications('gus')).toEqual(['success']);
    } finally {
      await c.close();
    }
  });
});
