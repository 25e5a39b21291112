import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { z } from 'zod';
import { open as openSealed, seal } from '../../../src-shared/crypto/aead.js';
import { hkdf, hmacSha256 } from '../../../src-shared/crypto/kdf.js';
import { randomBytes } from '../../../src-shared/crypto/random.js';
import { LifelineError } from '../../../src-shared/errors.js';
import type { AgentLogger, Keychain, MachineId } from '../ports.js';
import { StoreLock } from './lock.js';
import { migrate } from './migrations.js';

export const STORE_FILE = 'agent-store.sqlite';

/** Names of the keychain entries that belong to one store. */
export const KEYCHAIN = {
  dataKey: 'data-key',
  counter: 'state-counter',
  deviceSign: 'device-sign',
  deviceBox: 'device-box',
} as const;

const ROLLBACK_PREFIX = 'rollback:';

/** The state row holding the outbox chain's last sequence number and hash (outbox.ts). */
export const OUTBOX_CHAIN_STATE = 'outboxChain';

export type VerifierKind = 'token' | 'slot' | 'temporary';
export interface VerifierRow {
  position: number;
  sealed: Buffer;
}

/**
 * The agent's encrypted store: one SQLite file (WAL, synchronous FULL so a commit is on disk when it returns), a
 * lock file, and a store key derived from the keychain's data key and the machine id. A monotonic state counter is
 * mirrored in the keychain after every security-relevant commit (burns, failures, wipes, resets): a file restored
 * from an older copy carries a smaller counter than the keychain remembers, and is caught.
 */
export class AgentStore {
  private keychainWrites: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly db: Database.Database,
    private readonly key: Buffer,
    private readonly lock: StoreLock,
    private readonly keychain: Keychain,
    private counter: number,
    /** True when the store is older than the keychain says: offline verification stays off until a sync. */
    public rolledBack: boolean,
    readonly created: boolean,
  ) {}

  static async open(opts: { dataDir: string; keychain: Keychain; machineId: MachineId; log: AgentLogger }): Promise<AgentStore> {
    const { keychain, log } = opts;
    await keychain.probe();
    mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
    const file = path.join(opts.dataDir, STORE_FILE);
    const lock = StoreLock.acquire(`${file}.lock`);
    try {
      const machine = await opts.machineId.hash();
      const exists = existsSync(file);
      let dataKeyText = await keychain.get(KEYCHAIN.dataKey);
      const counterText = await keychain.get(KEYCHAIN.counter);
      if (exists && (!dataKeyText || counterText === null)) {
        throw tampered('the keychain holds no key or state counter for the existing store (deleted or replaced)');
      }
      if (!exists && dataKeyText) {
        // The store file is gone (uninstalled, wiped): nothing can be un-burned from a store that no longer
        // exists, so the old entries are retired and the agent starts afresh (and enrolls again).
        log.warn('[store] keychain entries without a store: starting afresh');
        for (const name of Object.values(KEYCHAIN)) await keychain.delete(name);
        dataKeyText = null;
      }
      if (!dataKeyText) {
        dataKeyText = randomBytes(32).toString('base64url');
        await keychain.set(KEYCHAIN.dataKey, dataKeyText);
        await keychain.set(KEYCHAIN.counter, '0');
      }
      const dataKey = Buffer.from(dataKeyText, 'base64url');
      if (dataKey.length !== 32) throw tampered('the keychain data key has the wrong length');
      const storeKey = hkdf(dataKey, Buffer.from(machine, 'utf8'), 'lifeline/agent-store/v1');
      dataKey.fill(0);

      // Created owner-only (SQLite gives the -wal and -shm files the same mode); the folder is 0700 as well.
      if (!exists) closeSync(openSync(file, 'wx', 0o600));
      const db = new Database(file);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL'); // a burn or a failure count is on disk before the agent answers
      migrate(db);
      const store = new AgentStore(db, storeKey, lock, keychain, 0, false, !exists);
      try {
        store.bind(machine, exists);
        await store.checkCounter(counterText ?? '0', log);
      } catch (err) {
        db.close();
        throw err;
      }
      return store;
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  /** Binds the file to this machine id: plain for a clear message, sealed so the plain copy cannot be edited. */
  private bind(machine: string, existed: boolean): void {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get('machine') as { value: string } | undefined;
    if (!existed || !row) {
      if (existed) throw tampered('the store has no machine binding');
      this.db.transaction(() => {
        this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('machine', machine);
        this.putState('binding', { machine });
        this.putState('counter', 0);
      })();
      return;
    }
    if (row.value !== machine) throw tampered('the store was made on a machine with another machine id');
    let bound: { machine?: string } | undefined;
    try {
      bound = this.getState<{ machine?: string }>('binding');
    } catch {
      throw tampered('the store cannot be opened with this machine\'s key (copied from another machine or edited)');
    }
    if (bound?.machine !== machine) throw tampered('the store binding does not match this machine');
  }

  private async checkCounter(keychainText: string, log: AgentLogger): Promise<void> {
    const stored = this.getState<number>('counter');
    if (typeof stored !== 'number') throw tampered('the store has no state counter');
    this.counter = stored;
    const flagged = keychainText.startsWith(ROLLBACK_PREFIX);
    const remembered = Number.parseInt(flagged ? keychainText.slice(ROLLBACK_PREFIX.length) : keychainText, 10);
    if (!Number.isSafeInteger(remembered)) throw tampered('the keychain state counter is unreadable');
    if (flagged || stored < remembered) {
      // Flag it in the keychain, where a restored file cannot undo it: later writes to the old file must not
      // let its counter catch up and pass for current. Only a sync with the server clears it.
      this.rolledBack = true;
      if (!flagged) {
        log.warn('[store] the store is older than the keychain state counter: offline verification is off until the next sync');
        await this.keychain.set(KEYCHAIN.counter, `${ROLLBACK_PREFIX}${remembered}`);
      }
    } else if (stored > remembered) {
      // The agent stopped between committing and mirroring: the file is the newer truth.
      await this.keychain.set(KEYCHAIN.counter, String(stored));
    }
  }

  /** Opaque, stable reference for a username (the plain name is only inside sealed rows). */
  userRef(username: string): string {
    return hmacSha256(this.key, 'user-ref', username).subarray(0, 16).toString('hex');
  }

  seal(aad: string, value: unknown): Buffer {
    return seal(this.key, Buffer.from(JSON.stringify(value), 'utf8'), aad);
  }

  unseal<T>(aad: string, sealed: Buffer): T {
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
    this.db.prepare('INSERT INTO state (key, sealed) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET sealed = excluded.sealed').run(key, this.seal(`state/${key}`, value));
  }

  deleteState(key: string): void {
    this.db.prepare('DELETE FROM state WHERE key = ?').run(key);
  }

  getUser<T>(userRef: string, schema?: z.ZodType<T>): T | undefined {
    const row = this.db.prepare('SELECT sealed FROM users WHERE user_ref = ?').get(userRef) as { sealed: Buffer } | undefined;
    if (!row) return undefined;
    const value = this.unseal<unknown>(`user/${userRef}`, row.sealed);
    return schema ? schema.parse(value) : (value as T);
  }

  listUserRefs(): string[] {
    return (this.db.prepare('SELECT user_ref FROM users ORDER BY user_ref').all() as { user_ref: string }[]).map((r) => r.user_ref);
  }

  putUser(userRef: string, value: unknown): void {
    this.db.prepare('INSERT INTO users (user_ref, sealed) VALUES (?, ?) ON CONFLICT (user_ref) DO UPDATE SET sealed = excluded.sealed').run(userRef, this.seal(`user/${userRef}`, value));
  }

  deleteUser(userRef: string): void {
    this.db.prepare('DELETE FROM users WHERE user_ref = ?').run(userRef);
    this.db.prepare('DELETE FROM verifiers WHERE user_ref = ?').run(userRef);
  }

  verifierAad(userRef: string, kind: VerifierKind, position: number): string {
    return `verifier/${userRef}/${kind}/${position}`;
  }

  putVerifier(userRef: string, kind: VerifierKind, position: number, value: unknown): void {
    this.db
      .prepare('INSERT INTO verifiers (user_ref, kind, position, sealed) VALUES (?, ?, ?, ?) ON CONFLICT (user_ref, kind, position) DO UPDATE SET sealed = excluded.sealed')
      .run(userRef, kind, position, this.seal(this.verifierAad(userRef, kind, position), value));
  }

  verifiers(userRef: string, kind: VerifierKind, from = Number.MIN_SAFE_INTEGER, to = Number.MAX_SAFE_INTEGER): VerifierRow[] {
    return this.db
      .prepare('SELECT position, sealed FROM verifiers WHERE user_ref = ? AND kind = ? AND position BETWEEN ? AND ? ORDER BY position')
      .all(userRef, kind, from, to) as VerifierRow[];
  }

  countVerifiers(userRef: string, kind: VerifierKind, from = Number.MIN_SAFE_INTEGER): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM verifiers WHERE user_ref = ? AND kind = ? AND position >= ?').get(userRef, kind, from) as { n: number }).n;
  }

  maxVerifierPosition(userRef: string, kind: VerifierKind): number | undefined {
    const row = this.db.prepare('SELECT MAX(position) AS m FROM verifiers WHERE user_ref = ? AND kind = ?').get(userRef, kind) as { m: number | null };
    return row.m ?? undefined;
  }

  deleteVerifiers(userRef: string, kind: VerifierKind, upTo = Number.MAX_SAFE_INTEGER): number {
    return this.db.prepare('DELETE FROM verifiers WHERE user_ref = ? AND kind = ? AND position <= ?').run(userRef, kind, upTo).changes;
  }

  deleteVerifier(userRef: string, kind: VerifierKind, position: number): number {
    return this.db.prepare('DELETE FROM verifiers WHERE user_ref = ? AND kind = ? AND position = ?').run(userRef, kind, position).changes;
  }

  appendOutboxRow(eventId: string, value: unknown): void {
    this.db.prepare('INSERT INTO outbox (event_id, sealed) VALUES (?, ?)').run(eventId, this.seal(`outbox/${eventId}`, value));
  }

  outboxRows<T>(limit: number): { seq: number; eventId: string; value: T }[] {
    const rows = this.db.prepare('SELECT seq, event_id, sealed FROM outbox ORDER BY seq LIMIT ?').all(limit) as { seq: number; event_id: string; sealed: Buffer }[];
    return rows.map((r) => ({ seq: r.seq, eventId: r.event_id, value: this.unseal<T>(`outbox/${r.event_id}`, r.sealed) }));
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

  /**
   * Runs `fn` in one transaction. With `bump`, the state counter goes up in the same transaction and is mirrored
   * into the keychain before this resolves, so the caller answers only once both are durable.
   */
  async commit<T>(fn: () => T, options: { bump: boolean } = { bump: true }): Promise<T> {
    let counter = this.counter;
    const result = this.db.transaction(() => {
      const r = fn();
      if (options.bump) {
        counter = this.counter + 1;
        this.putState('counter', counter);
      }
      return r;
    }).immediate();
    if (options.bump) {
      this.counter = counter;
      if (!this.rolledBack) await this.mirrorCounter();
    }
    return result;
  }

  /** Writes the newest counter to the keychain; writes are queued so a slower older one cannot land last. */
  private mirrorCounter(): Promise<void> {
    const next = this.keychainWrites.then(() => this.keychain.set(KEYCHAIN.counter, String(this.counter)));
    this.keychainWrites = next.catch(() => undefined);
    return next;
  }

  /** After the server acknowledged a sync: the store, as it is now, is the truth again. */
  async acceptAfterSync(): Promise<void> {
    this.rolledBack = false;
    await this.mirrorCounter();
  }

  /** For tests and diagnostics: the counter this store holds. */
  get stateCounter(): number {
    return this.counter;
  }

  close(): void {
    if (this.db.open) this.db.close();
    this.key.fill(0);
    this.lock.release();
  }
}

function tampered(reason: string): LifelineError {
  return new LifelineError('store_tampered', `Offline mode is off: ${reason}. It comes back after the next online sign-in with a fresh store.`, 409);
}
