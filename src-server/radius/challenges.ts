import { createHash } from 'node:crypto';
import { randomBytes } from '../../src-shared/crypto/random.js';
import { wipe } from '../../src-shared/crypto/compare.js';
import type { ServerContext } from '../context.js';
import { insertChallenge, takeChallenge } from '../db/queries/radius-challenges.js';
import { decryptSecret, encryptSecret } from '../services/secrets.js';

/**
 * Access-Challenge states (RFC 2865 §5.24). The first request's password (the PIN, unchecked: no PIN oracle) waits
 * until the request that carries the State and the code; a state is bound to the NAS and the username, taken once
 * and useless after `ttlMs`. Kept in the database so that the follow-up may reach any instance of the deployment
 * (a UDP balancer without source affinity): the PIN sealed under the master key, the row found by a hash of the
 * State, so the table alone yields neither a PIN nor a State to send. Expired rows are removed by housekeeping.
 */
export class ChallengeStore {
  constructor(
    private readonly ctx: Pick<ServerContext, 'db' | 'clock' | 'keys'>,
    private readonly ttlMs = 120_000,
  ) {}

  async create(clientId: number, username: string, pin: string): Promise<Buffer> {
    const state = randomBytes(16);
    const id = stateId(state);
    const plain = Buffer.from(pin, 'utf8');
    const sealed = encryptSecret(this.ctx, pinAad(id), plain);
    wipe(plain);
    const now = this.ctx.clock.now();
    await insertChallenge(this.ctx.db, {
      id,
      clientId,
      username,
      pinEnc: sealed,
      createdAt: now,
      expiresAt: now + this.ttlMs,
    });
    return state;
  }

  /**
   * The PIN of the first request, once across all instances: one guarded DELETE takes the state (no row: unknown,
   * expired or already taken), so the sealed PIN also leaves the database at once. A state presented by another NAS
   * or for another username is spent all the same and yields nothing.
   */
  async take(state: Buffer, clientId: number, username: string): Promise<string | undefined> {
    const id = stateId(state);
    const row = await takeChallenge(this.ctx.db, id, this.ctx.clock.now());
    if (!row || row.clientId !== clientId || row.username !== username) return undefined;
    const plain = decryptSecret(this.ctx, pinAad(id), row.pinEnc);
    const pin = plain.toString('utf8');
    wipe(plain);
    return pin;
  }
}

/** The row's key: a State read from the table cannot be replayed, since only its hash is there. */
function stateId(state: Buffer): Buffer {
  return createHash('sha256').update(state).digest();
}

const pinAad = (id: Buffer): string => `radius-challenge:${id.toString('hex')}`;
