import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, renameSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { z } from 'zod';
import { open as openSealed, seal } from '../../../src-shared/crypto/aead.js';
import { hkdf, hmacSha256 } from '../../../src-shared/crypto/kdf.js';
import { randomBytes } from '../../../src-shared/crypto/random.js';
import { LifelineError } from '../../../src-shared/errors.js';
import { GENESIS_HASH, type StoreLoss } from '../../../src-shared/protocol/sync.js';
import type { AgentLogger, Keychain, MachineId } from '../ports.js';
import { StoreBusy, StoreLock } from './lock.js';
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

  static async open(opts: StoreOpenOptions): Promise<AgentStore> {
    await opts.keychain.probe();
    const file = prepareDir(opts.dataDir);
    const lock = await takeLock(file);
    return AgentStore.openLocked(opts, file, lock, 'missing');
  }

  /**
   * Sets the store aside (its files moved, never deleted, to a timestamped folder beside it: the evidence stays for
   * IT) and opens a new one, which reports the loss at the next sync. Refused while another live core holds it.
   */
  static async reset(opts: StoreOpenOptions & { at: number }): Promise<{ store: AgentStore; setAsideTo: string | null }> {
    await opts.keychain.probe();
    const file = prepareDir(opts.dataDir);
    const lock = await takeLock(file);
    let setAsideTo: string | null;
    try {
      setAsideTo = setAside(opts.dataDir, opts.at);
    } catch (err) {
      lock.release();
      throw damaged(`its files could not be moved aside (${describe(err)})`);
    }
    if (setAsideTo) opts.log.warn('[store] the store was set aside by a reset', { folder: setAsideTo });
    return { store: await AgentStore.openLocked(opts, file, lock, 'reset'), setAsideTo };
  }

  private static async openLocked(opts: StoreOpenOptions, file: string, lock: StoreLock, lossReason: StoreLoss['reason']): Promise<AgentStore> {
    const { keychain, log } = opts;
    try {
      const machine = await opts.machineId.hash();
      const exists = existsSync(file);
      let dataKeyText = await keychain.get(KEYCHAIN.dataKey);
      const counterText = await keychain.get(KEYCHAIN.counter);
      if (exists && (!dataKeyText || counterText === null)) {
        throw tampered('the keychain holds no key or state counter for the existing store (deleted or replaced)');
      }
      const remembered = counterText === null ? null : parseCounter(counterText);
      if (exists && !remembered) throw tampered('the keychain state counter is unreadable');
      // The keychain says a store existed and its file is gone (deleted, wiped, set aside): the new store carries
      // on from the old one's counters, keeps the device keys (so the device keeps its id) and reports the loss.
      const loss: StoreLoss | null = !exists && (dataKeyText !== null || counterText !== null)
        ? { id: randomUUID(), reason: lossReason, stateCounter: remembered?.counter ?? null, lastSeq: remembered?.seq ?? null, detectedAt: Date.now() }
        : null;
      if (loss && lossReason === 'missing') log.warn('[store] the store file is gone although the keychain says one existed: a new store reports the loss at the next sync');
      if (!dataKeyText) {
        dataKeyText = randomBytes(32).toString('base64url');
        await keychain.set(KEYCHAIN.dataKey, dataKeyText);
      }
      if (!remembered) await keychain.set(KEYCHAIN.counter, formatCounter({ flagged: false, counter: 0, seq: 0 }));
      const dataKey = Buffer.from(dataKeyText, 'base64url');
      if (dataKey.length !== 32) throw tampered('the keychain data key has the wrong length');
      const storeKey = hkdf(dataKey, Buffer.from(machine, 'utf8'), 'lifeline/agent-store/v1');
      dataKey.fill(0);

      const db = openDatabase(file, exists);
      const store = new AgentStore(db, storeKey, lock, keychain, 0, false, !exists);
      try {
        store.bind(machine, exists, loss);
        await store.checkCounter(remembered ?? { flagged: false, counter: 0, seq: 0 }, log);
      } catch (err) {
        db.close();
        throw err;
      }
      return store;
    } catch (err) {
      lock.release();
      throw storeDamaged(err);
    }
  }

  /**
   * Binds the file to this machine id: plain for a clear message, sealed so the plain copy cannot be edited. A store
   * replacing a lost one starts at the lost one's state counter and outbox sequence (its chain from the genesis
   * hash, as the server restarts it when it records the loss) and holds the loss report until a sync delivers it.
   */
  private bind(machine: string, existed: boolean, loss: StoreLoss | null): void {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get('machine') as { value: string } | undefined;
    if (!existed || !row) {
      if (existed) throw tampered('the store has no machine binding');
      this.db.transaction(() => {
        this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('machine', machine);
        this.putState('binding', { machine });
        this.putState('counter', loss?.stateCounter ?? 0);
        if (loss) {
          this.putState(OUTBOX_CHAIN_STATE, { seq: loss.lastSeq ?? 0, head: GENESIS_HASH });
          this.putState(STORE_LOSS_STATE, loss);
        }
      })();
      return;
    }
    if (row.value !== machine) throw tampered('the store was made on a machine with another machine id', { foreign: true });
    let bound: { machine?: string } | undefined;
    try {
      bound = this.getState<{ machine?: string }>('binding');
    } catch {
      throw tampered('the store cannot be opened with this machine\'s key (copied from another machine or edited)');
    }
    if (bound?.machine !== machine) throw tampered('the store binding does not match this machine');
  }

  private async checkCounter(remembered: KeychainCounter, log: AgentLogger): Promise<void> {
    const stored = this.getState<number>('counter');
    if (typeof stored !== 'number') throw tampered('the store has no state counter');
    this.counter = stored;
    if (remembered.flagged || stored < remembered.counter) {
      // Flag it in the keychain, where a restored file cannot undo it: later writes to the old file must not
      // let its counter catch up and pass for current. Only a sync with the server clears it.
      this.rolledBack = true;
      if (!remembered.flagged) {
        log.warn('[store] the store is older than the keychain state counter: offline verification is off until the next sync');
        await this.keychain.set(KEYCHAIN.counter, formatCounter({ ...remembered, flagged: true }));
      }
    } else if (stored > remembered.counter) {
      // The agent stopped between committing and mirroring: the file is the newer truth.
      await this.keychain.set(KEYCHAIN.counter, formatCounter({ flagged: false, counter: stored, seq: this.outboxSeq() }));
    }
  }

  /** The loss of an earlier store this one reports at the next sync, until the server acknowledged it. */
  pendingLoss(): StoreLoss | undefined {
    return this.getState<StoreLoss>(STORE_LOSS_STATE);
  }

  /** Call inside `commit`: the server acknowledged the loss report. */
  lossReported(): void {
    this.deleteState(STORE_LOSS_STATE);
  }

  private outboxSeq(): number {
    return this.getState<{ seq: number }>(OUTBOX_CHAIN_STATE)?.seq ?? 0;
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

  /**
   * Writes the newest counter, with the outbox sequence reached, to the keychain (what a lost store is measured by);
   * writes are queued so a slower older one cannot land last.
   */
  private mirrorCounter(): Promise<void> {
    const text = formatCounter({ flagged: false, counter: this.counter, seq: this.outboxSeq() });
    const next = this.keychainWrites.then(() => this.keychain.set(KEYCHAIN.counter, text));
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

/**
 * Why the store cannot be used, with what it means for the rest of the agent: whether a reset (setting the files
 * aside for a new store) can help, and whether this machine may still act online as the device the keychain names.
 */
export class StoreUnavailable extends LifelineError {
  constructor(
    code: 'store_tampered' | 'store_damaged' | 'store_busy',
    message: string,
    /** The store is bound to another machine id: the keychain's device keys came with a copy, so not online either. */
    readonly foreign = false,
  ) {
    super(code, message, 409);
  }
}

const RESET_HINT = 'Online sign-in still works. To use offline mode again, reset the offline data in the status view (the files are kept aside for IT)';

function tampered(reason: string, opts: { foreign?: boolean } = {}): StoreUnavailable {
  return new StoreUnavailable('store_tampered', `Offline mode is off: ${reason}. ${opts.foreign ? 'Ask IT to reset this computer\'s agent: this copy cannot act as its device' : RESET_HINT}.`, opts.foreign);
}

export const storeTampered = (reason: string): StoreUnavailable => tampered(reason);

/**
 * Why the store could not be used, as the agent reports it: an error that already says why (a LifelineError: the
 * keychain, tampering, a busy store) as it is, anything else the checks did not name as `store_damaged`.
 */
export function storeDamaged(err: unknown): LifelineError {
  return err instanceof LifelineError ? err : damaged(describe(err));
}

function damaged(reason: string): StoreUnavailable {
  return new StoreUnavailable('store_damaged', `Offline mode is off: the offline store cannot be used (${reason}). ${RESET_HINT}; if it keeps happening, ask IT to check the disk and the folder's permissions.`);
}

async function takeLock(file: string): Promise<StoreLock> {
  try {
    return await StoreLock.acquire(`${file}.lock`);
  } catch (err) {
    if (err instanceof StoreBusy) {
      throw new StoreUnavailable('store_busy', `Offline mode is off: the offline store is in use by another agent core (process ${err.pid}) on this computer. Online sign-in still works; close the other agent and restart this one.`);
    }
    throw damaged(`its lock file cannot be written (${describe(err)})`);
  }
}

export interface StoreOpenOptions {
  dataDir: string;
  keychain: Keychain;
  machineId: MachineId;
  log: AgentLogger;
}

const STORE_LOSS_STATE = 'storeLost';
const SET_ASIDE_PREFIX = 'set-aside-';

/** The keychain's mirror of the store: its state counter and outbox sequence, flagged after a detected rollback. */
interface KeychainCounter {
  flagged: boolean;
  counter: number;
  /** null: written by an agent that did not mirror the sequence yet. */
  seq: number | null;
}

function formatCounter(c: KeychainCounter): string {
  return `${c.flagged ? ROLLBACK_PREFIX : ''}${c.counter}/${c.seq ?? 0}`;
}

function parseCounter(text: string): KeychainCounter | null {
  const m = /^(rollback:)?(\d{1,15})(?:\/(\d{1,15}))?$/.exec(text);
  if (!m) return null;
  return { flagged: m[1] !== undefined, counter: Number(m[2]), seq: m[3] === undefined ? null : Number(m[3]) };
}

function prepareDir(dataDir: string): string {
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw damaged(`its folder cannot be created (${describe(err)})`);
  }
  return path.join(dataDir, STORE_FILE);
}

/**
 * Opens (or creates) the SQLite file and proves it usable now rather than at the first burn: readable and intact
 * (quick_check finds a corrupt or truncated file) and writable (a read-only file or folder fails the probe write).
 */
function openDatabase(file: string, existed: boolean): Database.Database {
  let db: Database.Database | undefined;
  try {
    // Created owner-only (SQLite gives the -wal and -shm files the same mode); the folder is 0700 as well.
    if (!existed) closeSync(openSync(file, 'wx', 0o600));
    db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL'); // a burn or a failure count is on disk before the agent answers
    if (existed) {
      const check = db.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new Error(`integrity check: ${String(check).slice(0, 120)}`);
    }
    migrate(db);
    db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run('opened-at', String(Date.now()));
    return db;
  } catch (err) {
    db?.close();
    throw damaged(describe(err));
  }
}

/** Moves the store's files into `set-aside-<time>/` beside them; null when there was nothing to move. */
function setAside(dataDir: string, at: number): string | null {
  const names = [STORE_FILE, `${STORE_FILE}-wal`, `${STORE_FILE}-shm`].filter((n) => existsSync(path.join(dataDir, n)));
  if (names.length === 0) return null;
  const folder = path.join(dataDir, `${SET_ASIDE_PREFIX}${new Date(at).toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(folder, { mode: 0o700 });
  for (const n of names) renameSync(path.join(dataDir, n), path.join(folder, n));
  return folder;
}

function describe(err: unknown): string {
  if (err instanceof LifelineError) return err.message;
  return err instanceof Error ? err.message.split('\n')[0]!.slice(0, 160) : 'unknown error';
}
