import type { Clock } from '../clock.js';

/**
 * Retransmissions (RFC 5080 §2.2.2): a NAS that hears nothing resends the same packet (same source, identifier and
 * Request Authenticator). It gets the very answer of the first copy, including while the first copy is still being
 * verified, so a retransmission never costs a second verification or burns a second code. Answers are kept
 * `ttlMs` (at least 30 s) after they are known.
 */
export class DuplicateCache {
  private readonly entries = new Map<string, { expiresAt: number; answer: Promise<Buffer | undefined> }>();

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs = 30_000,
    private readonly maxEntries = 65_536,
  ) {}

  static key(address: string, port: number, identifier: number, authenticator: Buffer): string {
    return `${address}|${port}|${identifier}|${authenticator.toString('hex')}`;
  }

  get(key: string): Promise<Buffer | undefined> | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.clock.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.answer;
  }

  /** `answer` resolves to the bytes sent (undefined: nothing was sent); the ttl starts when it settles. */
  remember(key: string, answer: Promise<Buffer | undefined>): void {
    this.prune();
    const entry = { expiresAt: Infinity, answer };
    this.entries.set(key, entry);
    const settle = (): void => {
      entry.expiresAt = this.clock.now() + this.ttlMs;
    };
    answer.then(settle, settle);
  }

  get size(): number {
    return this.entries.size;
  }

  private prune(): void {
    const now = this.clock.now();
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt > now && this.entries.size < this.maxEntries) break;
      this.entries.delete(key);
    }
  }
}
