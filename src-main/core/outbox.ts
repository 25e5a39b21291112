import { randomUUID } from 'node:crypto';
import { chainEvent } from '../../src-shared/crypto/device-messages.js';
import { GENESIS_HASH, type SyncEvent, type SyncEventBody } from '../../src-shared/protocol/sync.js';
import { OUTBOX_CHAIN_STATE, type AgentStore } from './store/store.js';

/**
 * The outbox of docs/design.md §5: what happened offline, for the server's audit. Each event has a unique id (the server
 * deduplicates on it), a strictly increasing sequence number and a hash link to the event before, so a removed or
 * edited event breaks the chain the server checks. Events are appended inside the same store transaction as the
 * change they record, and leave only when the server acknowledged them.
 *
 * The outbox is bounded, so a prompt stuck on a locked user (or a script typing into it) cannot fill the disk:
 * refusals that say nothing new (an attempt while locked, an attempt refused for lack of contact) are recorded
 * once as they happen, and their repeats coalesced into one pending entry per user and reason with a count,
 * written out as one event when a sync starts; and
 * beyond MAX_OUTBOX_ROWS rows, failures are only counted, and that count goes to the server as one
 * `outbox-overflow` event. Successes (burns, used slots), wipes and tampering are never dropped: the server
 * needs every one of them, and they are bounded by the offline data the device was given.
 */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type NewEvent = DistributiveOmit<SyncEventBody, 'id' | 'seq' | 'at'>;

/** Rows the outbox may hold before failures are only counted (a few MB sealed; a month of heavy offline use). */
export const MAX_OUTBOX_ROWS = 2_000;

interface ChainState {
  seq: number;
  head: string;
}

type CoalescedReason = 'locked' | 'offline_refused';
interface Coalesced {
  username: string;
  reason: CoalescedReason;
  count: number;
  firstAt: number;
  lastAt: number;
}
interface Overflow {
  dropped: number;
  firstAt: number;
  lastAt: number;
}
const COALESCED_STATE = 'outboxCoalesced';
const OVERFLOW_STATE = 'outboxOverflow';

/**
 * Records an event; call it inside `store.commit`. Returns the event as linked into the chain, or null when it
 * was coalesced or only counted (it reaches the server with the next flush).
 */
export function appendEvent(store: AgentStore, at: number, event: NewEvent): SyncEvent | null {
  if (isCoalescable(event) && coalesced(store, at, event.username, event.reason)) {
    return null;
  }
  if ((event.type === 'offline-failure' || event.type === 'offline-lockout') && store.outboxSize() >= MAX_OUTBOX_ROWS) {
    const o = store.getState<Overflow>(OVERFLOW_STATE);
    store.putState(OVERFLOW_STATE, {
      dropped: (o?.dropped ?? 0) + 1,
      firstAt: o?.firstAt ?? at,
      lastAt: at,
    } satisfies Overflow);
    return null;
  }
  return link(store, at, event);
}

function link(store: AgentStore, at: number, event: NewEvent): SyncEvent {
  const chain = store.getState<ChainState>(OUTBOX_CHAIN_STATE) ?? { seq: 0, head: GENESIS_HASH };
  const body = { ...event, id: randomUUID(), seq: chain.seq + 1, at } as SyncEventBody;
  const linked = chainEvent(chain.head, body);
  store.appendOutboxRow(linked.id, linked);
  store.putState(OUTBOX_CHAIN_STATE, { seq: linked.seq, head: linked.hash } satisfies ChainState);
  return linked;
}

const isCoalescable = (event: NewEvent): event is NewEvent & { type: 'offline-failure'; reason: CoalescedReason } =>
  event.type === 'offline-failure' && (event.reason === 'locked' || event.reason === 'offline_refused');

const coalescedEntry = (entries: Coalesced[], username: string, reason: CoalescedReason) =>
  entries.find((e) => e.username === username && e.reason === reason);

/** Whether appendEvent would only count this event (a repeat of a refusal already recorded since the last flush). */
export function isCoalescedRepeat(store: AgentStore, event: NewEvent): boolean {
  return (
    isCoalescable(event) &&
    coalescedEntry(store.getState<Coalesced[]>(COALESCED_STATE) ?? [], event.username, event.reason) !== undefined
  );
}

/** Counts a repeat; false for the first of its kind since the last flush, which is recorded as a row. */
function coalesced(store: AgentStore, at: number, username: string, reason: CoalescedReason): boolean {
  const entries = store.getState<Coalesced[]>(COALESCED_STATE) ?? [];
  const entry = coalescedEntry(entries, username, reason);
  if (entry) {
    if (entry.count === 0) entry.firstAt = at;
    entry.count++;
    entry.lastAt = at;
  } else {
    entries.push({ username, reason, count: 0, firstAt: at, lastAt: at });
  }
  store.putState(COALESCED_STATE, entries);
  return entry !== undefined;
}

/**
 * Writes the coalesced refusals and the overflow count out as events (call it inside `store.commit`, before a
 * sync reads the outbox). The overflow event may be the one row beyond the cap: it says what the cap dropped.
 */
export function flushCoalesced(store: AgentStore): number {
  const all = store.getState<Coalesced[]>(COALESCED_STATE) ?? [];
  const entries = all.filter((e) => e.count > 0);
  const overflow = store.getState<Overflow>(OVERFLOW_STATE);
  for (const e of entries)
    link(store, e.firstAt, {
      type: 'offline-failure',
      username: e.username,
      reason: e.reason,
      count: e.count,
      lastAt: e.lastAt,
    });
  if (overflow)
    link(store, overflow.firstAt, { type: 'outbox-overflow', dropped: overflow.dropped, lastAt: overflow.lastAt });
  if (all.length > 0) store.deleteState(COALESCED_STATE);
  if (overflow) store.deleteState(OVERFLOW_STATE);
  return entries.length + (overflow ? 1 : 0);
}

/** Whether a flush has something to write (so a sync commits only when it does). */
export function hasCoalesced(store: AgentStore): boolean {
  return (
    (store.getState<Coalesced[]>(COALESCED_STATE) ?? []).length > 0 ||
    store.getState<Overflow>(OVERFLOW_STATE) !== undefined
  );
}

/** Events waiting for the server: outbox rows plus what the next flush will write, per user when named. */
export function pendingCounts(store: AgentStore): { total: number; byUser: Map<string, number> } {
  const byUser = new Map<string, number>();
  const add = (name: string | null) => name && byUser.set(name, (byUser.get(name) ?? 0) + 1);
  for (const { value } of store.outboxRows<SyncEvent>(MAX_OUTBOX_ROWS + 1))
    add('username' in value ? value.username : null);
  const entries = (store.getState<Coalesced[]>(COALESCED_STATE) ?? []).filter((e) => e.count > 0);
  for (const e of entries) add(e.username);
  const overflow = store.getState<Overflow>(OVERFLOW_STATE) ? 1 : 0;
  return { total: store.outboxSize() + entries.length + overflow, byUser };
}

export function pendingEvents(store: AgentStore, limit: number): SyncEvent[] {
  return store.outboxRows<SyncEvent>(limit).map((r) => r.value);
}
