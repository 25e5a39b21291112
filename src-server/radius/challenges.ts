import { randomBytes } from '../../src-shared/crypto/random.js';
import { wipe } from '../../src-shared/crypto/compare.js';
import type { Clock } from '../clock.js';

/**
 * Access-Challenge states (RFC 2865 §5.24). The first request's password (the PIN, unchecked: no PIN oracle) waits
 * here until the request that carries the State and the code; a state is bound to the NAS and the username, taken
 * once and forgotten after `ttlMs`. Kept in memory: a NAS sends the follow-up to the server that challenged it, and a
 * restart only makes the user start again.
 */
export class ChallengeStore {
  private readonly states = new Map<string, { clientId: number; username: string; pin: Buffer; expiresAt: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs = 120_000,
    private readonly maxStates = 10_000,
  ) {}

  create(clientId: number, username: string, pin: string): Buffer {
    this.prune();
    const state = randomBytes(16);
    this.states.set(state.toString('hex'), { clientId, username, pin: Buffer.from(pin, 'utf8'), expiresAt: this.clock.now() + this.ttlMs });
    return state;
  }

  /** The PIN of the first request, once; undefined for an unknown, expired, reused or foreign state. */
  take(state: Buffer, clientId: number, username: string): string | undefined {
    const key = state.toString('hex');
    const entry = this.states.get(key);
    if (!entry) return undefined;
    this.states.delete(key);
    const valid = entry.expiresAt > this.clock.now() && entry.clientId === clientId && entry.username === username;
    const pin = valid ? entry.pin.toString('utf8') : undefined;
    wipe(entry.pin);
    return pin;
  }

  get size(): number {
    return this.states.size;
  }

  private prune(): void {
    const now = this.clock.now();
    // Insertion order is expiry order (one ttl for all), so the expired ones are at the front.
    for (const [key, entry] of this.states) {
      if (entry.expiresAt > now && this.states.size < this.maxStates) break;
      wipe(entry.pin);
      this.states.delete(key);
    }
  }
}
