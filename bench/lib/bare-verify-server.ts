/**
 * The baseline for bench/verify.ts: a bare node:http server that does, per request, the same cryptography as a
 * Lifeline verification of PIN + temporary code (scrypt of the code with the user's salt + HMAC with the pepper +
 * constant-time comparison, and the same for the PIN), with everything else (routing, validation, database,
 * lockout, audit) left out. Users come from a fixture file written by the benchmark.
 *
 *   npx tsx bench/lib/bare-verify-server.ts <fixture.json> <port>
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { normalizeCode } from '../../src-shared/codes.js';
import { constantTimeEqual } from '../../src-shared/crypto/compare.js';
import { hmacSha256, scryptAsync, SERVER_CODE_SCRYPT } from '../../src-shared/crypto/kdf.js';
import { randomBytes } from '../../src-shared/crypto/random.js';

interface FixtureUser {
  username: string;
  code: string;
  pin: string;
}

const [fixtureFile, portArg] = process.argv.slice(2);
const fixture = JSON.parse(readFileSync(fixtureFile!, 'utf8')) as { users: FixtureUser[] };
const pepper = randomBytes(32);

const digest = async (label: string, secret: string, salt: Buffer) =>
  hmacSha256(pepper, label, await scryptAsync(secret, salt, SERVER_CODE_SCRYPT));

const users = new Map<string, { codeSalt: Buffer; codeHash: Buffer; pinSalt: Buffer; pinHash: Buffer }>();
for (const u of fixture.users) {
  const codeSalt = randomBytes(16);
  const pinSalt = randomBytes(16);
  users.set(u.username, {
    codeSalt,
    pinSalt,
    codeHash: await digest('code', normalizeCode(u.code), codeSalt),
    pinHash: await digest('pin', u.pin, pinSalt),
  });
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    void (async () => {
      let body: { username?: string; code?: string; pin?: string };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
      } catch {
        body = {};
      }
      const user = body.username === undefined ? undefined : users.get(body.username);
      if (!user || typeof body.code !== 'string' || typeof body.pin !== 'string') {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'bad_request' }));
        return;
      }
      const [code, pin] = await Promise.all([
        digest('code', normalizeCode(body.code), user.codeSalt),
        digest('pin', body.pin, user.pinSalt),
      ]);
      const ok = constantTimeEqual(code, user.codeHash) && constantTimeEqual(pin, user.pinHash);
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(JSON.stringify(ok ? { ok: true, method: 'temporary' } : { ok: false, error: 'invalid_code' }));
    })();
  });
});
server.listen(Number(portArg), '127.0.0.1', () => process.stdout.write('ready\n'));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
