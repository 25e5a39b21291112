import { monotonicNow, type Clock } from '../../src-shared/clock.js';
import type { AgentStore } from './store/store.js';
import { offlineLockMs, type UserRecord } from './user-record.js';

interface LockAnchor {
  /** The lock it measures (a new lock or a cleared one does not match, and is measured afresh). */
  lockedUntil: number;
  failures: number;
  /** Monotonic reading when it started counting, and for how long it holds from then. */
  mono: number;
  lockMs: number;
}

/**
 * What offline verification keeps in memory beside a store (one core per store, docs/agent.md):
 * - a queue per user, so one user's verifications run one at a time: each sees the failures, lock and burns the
 *   one before committed, and concurrent guesses can never be compared beyond what the lock and wipe allow;
 * - offline locks measured on the monotonic clock, which setting the wall clock does not move;
 * - a time that a clock set back cannot undo: the store's wall-time high-water mark plus the monotonic time
 *   since this process saw it.
 */
export class OfflineGuard {
  private readonly tails = new Map<string, Promise<void>>();
  private readonly locks = new Map<string, LockAnchor>();
  private mark: { highWater: number; mono: number } | null = null;
  /** When this process first verified offline: a lock set before it counts from here. */
  private readonly since: number;

  constructor(private readonly clock: Clock) {
    this.since = monotonicNow(clock);
  }

  /** Runs `fn` after every earlier call for the same user has settled. */
  serialise<T>(ref: string, fn: () => Promise<T>): Promise<T> {
    const result = (this.tails.get(ref) ?? Promise.resolve()).then(fn);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(ref, tail);
    void tail.then(() => {
      if (this.tails.get(ref) === tail) this.tails.delete(ref);
    });
    return result;
  }

  /**
   * Time left on the user's lock. A lock set by an earlier process (the agent restarted) counts in full from when
   * this one first verified offline: the time in between is unknown, and the wall clock, which anyone may set
   * forward, must not stand in for it.
   */
  lockRemainingMs(ref: string, record: UserRecord): number {
    if (record.lockedUntil === null) return 0;
    let anchor = this.locks.get(ref);
    if (!anchor || anchor.lockedUntil !== record.lockedUntil || anchor.failures !== record.failures) {
      anchor = {
        lockedUntil: record.lockedUntil,
        failures: record.failures,
        mono: this.since,
        lockMs: offlineLockMs(record.failures),
      };
      this.locks.set(ref, anchor);
    }
    return Math.max(0, anchor.lockMs - (monotonicNow(this.clock) - anchor.mono));
  }

  /** A lock just committed: it holds for `lockMs` on the monotonic clock from now. */
  noteLock(ref: string, record: UserRecord, lockMs: number): void {
    if (record.lockedUntil === null) this.locks.delete(ref);
    else
      this.locks.set(ref, {
        lockedUntil: record.lockedUntil,
        failures: record.failures,
        mono: monotonicNow(this.clock),
        lockMs,
      });
  }

  /** The later of the wall clock and the high-water mark plus the monotonic time since it was seen. */
  trustedNow(highWater: number, wallNow: number): number {
    const mono = monotonicNow(this.clock);
    if (this.mark?.highWater !== highWater) this.mark = { highWater, mono };
    return Math.max(wallNow, this.mark.highWater + Math.max(0, mono - this.mark.mono));
  }

  /** A high-water mark just committed: the time after it keeps counting from now. */
  noteHighWater(highWater: number): void {
    this.mark = { highWater, mono: monotonicNow(this.clock) };
  }
}

const guards = new WeakMap<AgentStore, OfflineGuard>();

export function offlineGuard(store: AgentStore, clock: Clock): OfflineGuard {
  let guard = guards.get(store);
  if (!guard) guards.set(store, (guard = new OfflineGuard(clock)));
  return guard;
}
