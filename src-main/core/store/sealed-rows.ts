import type Database from 'better-sqlite3';
import type { z } from 'zod';
import { open as openSealed, seal } from '../../../src-shared/crypto/aead.js';
import { hmacSha256 } from '../../../src-shared/crypto/kdf.js';

export type VerifierKind = 'token' | 'slot' | 'temporary';
export interface VerifierRow {
  position: number;
  sealed: Buffer;
}

/**
 * The store's tables as sealed rows: every value is AES-256-GCM under the store key with the row's identity as AAD
 * (migrations.ts), and only this class builds those identities, seals and opens. The typed repositories beside it
 * (users.ts, verifiers.ts, device-state.ts, ../outbox.ts) are what the rest of the agent reads and writes through.
 */
export class SealedRows {
  constructor(
    protected readonly db: Database.Database,
    protected readonly key: Buffer,
  ) {}

  /** Opaque, stable reference for a username (the plain name is only inside sealed rows). */
  userRef(username: string): string {
    return hmacSha256(this.key, 'user-ref', username).subarray(0, 16).toString('hex');
  }

  private seal(aad: string, value: unknown): Buffer {
    return seal(this.key, Buffer.from(JSON.stringify(value), 'utf8'), aad);
  }

  private unseal<T>(aad: string, sealed: Buffer): T {
    const plain = openSealed(this.key, sealed, aad);
    try {
      return JSON.parse(plain.toString('utf8')) as T;
    } finally {
      plain.fill(0);
    }
  }

  getState<T>(key: string): T | undefined {
    const row = this.db.prepare('SELECT sealed FROM state WHERE key = ?').get(key) as { sealed: Buffer } | undefined;
    return row ? this.unseal<T>(`state/${key}`, row.sealed) : undefined;
  }

  putState(key: string, value: unknown): void {
    this.db
      .prepare('INSERT INTO state (key, sealed) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET sealed = excluded.sealed')
      .run(key, this.seal(`state/${key}`, value));
  }

  deleteState(key: string): void {
    this.db.prepare('DELETE FROM state WHERE key = ?').run(key);
  }

  getUser<T>(userRef: string, schema?: z.ZodType<T>): T | undefined {
    const row = this.db.prepare('SELECT sealed FROM users WHERE user_ref = ?').get(userRef) as
      { sealed: Buffer } | undefined;
    if (!row) return undefined;
    const value = this.unseal<unknown>(`user/${userRef}`, row.sealed);
    return schema ? schema.parse(value) : (value as T);
  }

  listUserRefs(): string[] {
    return (this.db.prepare('SELECT user_ref FROM users ORDER BY user_ref').all() as { user_ref: string }[]).map(
      (r) => r.user_ref,
    );
  }

  putUser(userRef: string, value: unknown): void {
    this.db
      .prepare(
        'INSERT INTO users (user_ref, sealed) VALUES (?, ?) ON CONFLICT (user_ref) DO UPDATE SET sealed = excluded.sealed',
      )
      .run(userRef, this.seal(`user/${userRef}`, value));
  }

  deleteUser(userRef: string): void {
    this.db.prepare('DELETE FROM users WHERE user_ref = ?').run(userRef);
    this.db.prepare('DELETE FROM verifiers WHERE user_ref = ?').run(userRef);
  }

  private verifierAad(userRef: string, kind: VerifierKind, position: number): string {
    return `verifier/${userRef}/${kind}/${position}`;
  }

  putVerifier(userRef: string, kind: VerifierKind, position: number, value: unknown): void {
    this.db
      .prepare(
        'INSERT INTO verifiers (user_ref, kind, position, sealed) VALUES (?, ?, ?, ?) ON CONFLICT (user_ref, kind, position) DO UPDATE SET sealed = excluded.sealed',
      )
      .run(userRef, kind, position, this.seal(this.verifierAad(userRef, kind, position), value));
  }

  verifiers(
    userRef: string,
    kind: VerifierKind,
    from = Number.MIN_SAFE_INTEGER,
    to = Number.MAX_SAFE_INTEGER,
  ): VerifierRow[] {
    return this.db
      .prepare(
        'SELECT position, sealed FROM verifiers WHERE user_ref = ? AND kind = ? AND position BETWEEN ? AND ? ORDER BY position',
      )
      .all(userRef, kind, from, to) as VerifierRow[];
  }

  /** The rows of `verifiers`, each opened (with its identity as AAD, so a row moved to another user or window fails). */
  openVerifiers<T>(userRef: string, kind: VerifierKind, from?: number, to?: number): (VerifierRow & { value: T })[] {
    return this.verifiers(userRef, kind, from, to).map((row) => ({
      ...row,
      value: this.unseal<T>(this.verifierAad(userRef, kind, row.position), row.sealed),
    }));
  }

  countVerifiers(userRef: string, kind: VerifierKind, from = Number.MIN_SAFE_INTEGER): number {
    return (
      this.db
        .prepare('SELECT COUNT(*) AS n FROM verifiers WHERE user_ref = ? AND kind = ? AND position >= ?')
        .get(userRef, kind, from) as { n: number }
    ).n;
  }

  maxVerifierPosition(userRef: string, kind: VerifierKind): number | undefined {
    const row = this.db
      .prepare('SELECT MAX(position) AS m FROM verifiers WHERE user_ref = ? AND kind = ?')
      .get(userRef, kind) as { m: number | null };
    return row.m ?? undefined;
  }

  deleteVerifiers(userRef: string, kind: VerifierKind, upTo = Number.MAX_SAFE_INTEGER): number {
    return this.db
      .prepare('DELETE FROM verifiers WHERE user_ref = ? AND kind = ? AND position <= ?')
      .run(userRef, kind, upTo).changes;
  }

  deleteVerifier(userRef: string, kind: VerifierKind, position: number): number {
    return this.db
      .prepare('DELETE FROM verifiers WHERE user_ref = ? AND kind = ? AND position = ?')
      .run(userRef, kind, position).changes;
  }

  appendOutboxRow(eventId: string, value: unknown): void {
    this.db
      .prepare('INSERT INTO outbox (event_id, sealed) VALUES (?, ?)')
      .run(eventId, this.seal(`outbox/${eventId}`, value));
  }

  outboxRows<T>(limit: number): { seq: number; eventId: string; value: T }[] {
    const rows = this.db.prepare('SELECT seq, event_id, sealed FROM outbox ORDER BY seq LIMIT ?').all(limit) as {
      seq: number;
      event_id: string;
      sealed: Buffer;
    }[];
    return rows.map((r) => ({
      seq: r.seq,
      eventId: r.event_id,
      value: this.unseal<T>(`outbox/${r.event_id}`, r.sealed),
    }));
  }

  outboxSize(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM outbox').get() as { n: number }).n;
  }

  deleteOutbox(eventIds: readonly string[]): number {
    const del = this.db.prepare('DELETE FROM outbox WHERE event_id = ?');
    let n = 0;
    for (const id of eventIds) n += del.run(id).changes;
    return n;
  }
}
