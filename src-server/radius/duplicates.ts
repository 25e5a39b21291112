import { randomBytes } from '../../src-shared/crypto/random.js';
import type { ServerContext } from '../context.js';
import {
  claimRadiusRequest,
  readRadiusAnswer,
  storeRadiusAnswer,
  unclaimRadiusRequest,
  type RadiusRequestKey,
} from '../db/queries/radius-requests.js';
import type { Release } from '../services/admission.js';

/**
 * Retransmissions (RFC 5080 §2.2.2): a NAS that hears nothing resends the same packet (same source, identifier and
 * Request Authenticator). It gets the very answer of the first copy, including while the first copy is still being
 * verified, so a retransmission never costs a second verification or burns a second code.
 *
 * Shared by every instance of a deployment through the database, since a UDP balancer without source affinity may
 * hand a retransmission to another instance: the first copy anywhere claims the request's key with one guarded
 * INSERT and stores the answer bytes once it has them (they depend only on the request and the shared secret, so any
 * instance can send them); every other copy waits for those bytes. A copy that finds the claim unanswered after
 * `waitMs` (its instance died mid-verification) gets no answer at all: the NAS retries or gives up, and the request is
 * never verified twice. Answers are kept `ttlMs` (at least 30 s) after they are known; a claim whose instance died
 * frees the key `ttlMs` after it was made. A small in-process map answers retransmissions that reach the same
 * instance again without a database read.
 *
 * Admission (services/admission.ts) sits between the two: a copy that finds its request in the in-process map joins
 * it without a place of its own, but the first copy here takes a place in the instance's gate BEFORE it claims the
 * key, and keeps it only while it verifies. A copy that gets no place has claimed nothing and is forgotten at once, so
 * the NAS's next retransmission gets a fresh chance, here or on another instance.
 */
export type RequestKey = RadiusRequestKey;

export interface Answer {
  /** The bytes to send; undefined: send nothing. */
  bytes: Buffer | undefined;
  /** True when this copy got another copy's outcome (verified here or on another instance, or shed here). */
  duplicate: boolean;
}

/** The first copy's answer, final: sent again to every later copy (undefined when the first copy got none). */
type Outcome = { final: true; bytes: Buffer | undefined } | { final: false };

const FIRST_POLL_MS = 20;
const MAX_POLL_MS = 500;

export class DuplicateDetector {
  private readonly local = new Map<string, { expiresAt: number; outcome: Promise<Outcome> }>();

  constructor(
    private readonly ctx: Pick<ServerContext, 'db' | 'clock' | 'log'>,
    private readonly options: { ttlMs: number; waitMs: number; maxLocal: number } = {
      ttlMs: 30_000,
      waitMs: 30_000,
      maxLocal: 65_536,
    },
  ) {}

  /**
   * The answer for this copy of a request: `verify`'s when it is the first copy anywhere in the deployment and
   * `admit` gave it a place, else the first copy's bytes (none when not admitted). Throws only when the claim itself
   * could not be made (nothing was verified then).
   */
  async answer(
    key: RequestKey,
    admit: () => Promise<Release | null>,
    verify: () => Promise<Buffer | undefined | 'retry'>,
  ): Promise<Answer> {
    const id = localKey(key);
    const known = this.localOutcome(id);
    if (known) {
      const outcome = await known;
      return { bytes: outcome.final ? outcome.bytes : undefined, duplicate: true };
    }
    let duplicate = false;
    const outcome = (async (): Promise<Outcome> => {
      const release = await admit();
      if (!release) return { final: false };
      try {
        const claim = await this.claim(key);
        if (claim) {
          const bytes = await verify();
          // 'retry': nothing was decided, so the key is freed and the NAS's retransmission gets a fresh chance.
          if (bytes === 'retry') return this.unclaim(key, claim);
          await this.store(key, claim, bytes);
          return { final: true, bytes };
        }
      } finally {
        release(); // waiting for another instance's answer costs no scrypt: it needs no place
      }
      duplicate = true;
      return this.awaitAnswer(key);
    })();
    this.remember(id, outcome);
    const settled = await outcome;
    return { bytes: settled.final ? settled.bytes : undefined, duplicate };
  }

  get localSize(): number {
    return this.local.size;
  }

  /** The claim token when this copy is the first (or the key's earlier claim has expired), else undefined. */
  private async claim(key: RequestKey): Promise<Buffer | undefined> {
    const now = this.ctx.clock.now();
    const claim = randomBytes(16);
    // One guarded statement on both engines: a new key is inserted, an expired one taken over, a live one left alone.
    return (await claimRadiusRequest(this.ctx.db, key, claim, now, now + this.options.ttlMs)) ? claim : undefined;
  }

  /** Gives the key back (only this copy's claim): no outcome to repeat, forgotten here too. */
  private async unclaim(key: RequestKey, claim: Buffer): Promise<Outcome> {
    await unclaimRadiusRequest(this.ctx.db, key, claim);
    return { final: false };
  }

  /** Publishes the answer to the other instances; a failure costs them only the answer, never a second verification. */
  private async store(key: RequestKey, claim: Buffer, bytes: Buffer | undefined): Promise<void> {
    const now = this.ctx.clock.now();
    try {
      await storeRadiusAnswer(this.ctx.db, key, claim, bytes, now, now + this.options.ttlMs);
    } catch (err) {
      this.ctx.log.error(
        { component: 'radius', err: { type: (err as Error).name, message: (err as Error).message } },
        'RADIUS answer not shared with other instances',
      );
    }
  }

  /**
   * Polls (backing off to MAX_POLL_MS) for the answer of the copy another instance claimed, for at most `waitMs` of
   * pauses. Not final when it never came: this instance then asks the database again at the next retransmission.
   */
  private async awaitAnswer(key: RequestKey): Promise<Outcome> {
    let waited = 0;
    for (let pause = FIRST_POLL_MS; ; pause = Math.min(pause * 2, MAX_POLL_MS)) {
      const row = await readRadiusAnswer(this.ctx.db, key);
      if (!row) return { final: false };
      if (row.answeredAt !== null) return { final: true, bytes: row.answer ?? undefined };
      if (waited >= this.options.waitMs) return { final: false };
      await new Promise((resolve) => setTimeout(resolve, pause));
      waited += pause;
    }
  }

  private localOutcome(id: string): Promise<Outcome> | undefined {
    const entry = this.local.get(id);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.ctx.clock.now()) {
      this.local.delete(id);
      return undefined;
    }
    return entry.outcome;
  }

  /** Kept while pending and `ttlMs` after a final outcome; forgotten at once when there is nothing final to repeat. */
  private remember(id: string, outcome: Promise<Outcome>): void {
    this.prune();
    const entry = { expiresAt: Infinity, outcome };
    this.local.set(id, entry);
    const forget = (): void => {
      if (this.local.get(id) === entry) this.local.delete(id);
    };
    outcome.then((o) => (o.final ? (entry.expiresAt = this.ctx.clock.now() + this.options.ttlMs) : forget()), forget);
  }

  private prune(): void {
    const now = this.ctx.clock.now();
    for (const [id, entry] of this.local) {
      if (entry.expiresAt > now && this.local.size < this.options.maxLocal) break;
      this.local.delete(id);
    }
  }
}

function localKey(k: RequestKey): string {
  return `${k.clientId}|${k.address}|${k.port}|${k.identifier}|${k.authenticator.toString('hex')}`;
}
