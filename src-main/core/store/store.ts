import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { hkdf } from '../../../src-shared/crypto/kdf.js';
import { randomBytes } from '../../../src-shared/crypto/random.js';
import { GENESIS_HASH, type StoreLoss } from '../../../src-shared/protocol/sync.js';
import type { AgentLogger, Keychain, MachineId } from '../ports.js';
import { damaged, describe, storeDamaged, tampered } from './errors.js';
import { openDatabase, prepareDir, setAside, takeLock } from './files.js';
import type { StoreLock } from './lock.js';
import { SealedRows } from './sealed-rows.js';

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
/** The state row holding the loss of an earlier store until the server acknowledged it. */
const STORE_LOSS_STATE = 'storeLost';

/**
 * The agent's encrypted store: one SQLite file (WAL, synchronous FULL so a commit is on disk when it returns), a
 * lock file, and a store key derived from the keychain's data key and the machine id. A monotonic state counter is
 * mirrored in the keychain after every security-relevant commit (burns, failures, wipes, resets): a file restored
 * from an older copy carries a smaller counter than the keychain remembers, and is caught.
 */
export class AgentStore extends SealedRows {
  private keychainWrites: Promise<unknown> = Promise.resolve();

  private constructor(
    db: Database.Database,
    key: Buffer,
    private readonly lock: StoreLock,
    private readonly keychain: Keychain,
    private counter: number,
    /** True when the store is older than the keychain says: offline verification stays off until a sync. */
    public rolledBack: boolean,
    readonly created: boolean,
  ) {
    super(db, key);
  }

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
  static async reset(
    opts: StoreOpenOptions & { at: number },
  ): Promise<{ store: AgentStore; setAsideTo: string | null }> {
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

  private static async openLocked(
    opts: StoreOpenOptions,
    file: string,
    lock: StoreLock,
    lossReason: StoreLoss['reason'],
  ): Promise<AgentStore> {
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
      const loss: StoreLoss | null =
        !exists && (dataKeyText !== null || counterText !== null)
          ? {
              id: randomUUID(),
              reason: lossReason,
              stateCounter: remembered?.counter ?? null,
              lastSeq: remembered?.seq ?? null,
              detectedAt: Date.now(),
            }
          : null;
      if (loss && lossReason === 'missing')
        log.warn(
          '[store] the store file is gone although the keychain says one existed: a new store reports the loss at the next sync',
        );
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
    if (row.value !== machine)
      throw tampered('the store was made on a machine with another machine id', { foreign: true });
    let bound: { machine?: string } | undefined;
    try {
      bound = this.getState<{ machine?: string }>('binding');
    } catch {
      throw tampered("the store cannot be opened with this machine's key (copied from another machine or edited)");
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
        log.warn(
          '[store] the store is older than the keychain state counter: offline verification is off until the next sync',
        );
        await this.keychain.set(KEYCHAIN.counter, formatCounter({ ...remembered, flagged: true }));
      }
    } else if (stored > remembered.counter) {
      // The agent stopped between committing and mirroring: the file is the newer truth.
      await this.keychain.set(
        KEYCHAIN.counter,
        formatCounter({ flagged: false, counter: stored, seq: this.outboxSeq() }),
      );
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

  /**
   * Runs `fn` in one transaction. With `bump`, the state counter goes up in the same transaction and is mirrored
   * into the keychain before this resolves, so the caller answers only once both are durable.
   */
  async commit<T>(fn: () => T, options: { bump: boolean } = { bump: true }): Promise<T> {
    let counter = this.counter;
    const result = this.db
      .transaction(() => {
        const r = fn();
        if (options.bump) {
          counter = this.counter + 1;
          this.putState('counter', counter);
        }
        return r;
      })
      .immediate();
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

export interface StoreOpenOptions {
  dataDir: string;
  keychain: Keychain;
  machineId: MachineId;
  log: AgentLogger;
}

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
