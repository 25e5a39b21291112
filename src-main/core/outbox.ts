import { randomUUID } from 'node:crypto';
import { chainEvent } from '../../src-shared/crypto/device-messages.js';
import { GENESIS_HASH, type SyncEvent, type SyncEventBody } from '../../src-shared/protocol/sync.js';
import type { AgentStore } from './store/store.js';

/**
 * The outbox of DESIGN §5: what happened offline, for the server's audit. Each event has a unique id (the server
 * deduplicates on it), a strictly increasing sequence number and a hash link to the event before, so a removed or
 * edited event breaks the chain the server checks. Events are appended inside the same store transaction as the
 * change they record, and leave only when the server acknowledged them.
 */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type NewEvent = DistributiveOmit<SyncEventBody, 'id' | 'seq' | 'at'>;

interface ChainState {
  seq: number;
  head: string;
}

/** Appends an event; call it inside `store.commit`. */
export function appendEvent(store: AgentStore, at: number, event: NewEvent): SyncEvent {
  const chain = store.getState<ChainState>('outboxChain') ?? { seq: 0, head: GENESIS_HASH };
  const body = { ...event, id: randomUUID(), seq: chain.seq + 1, at } as SyncEventBody;
  const linked = chainEvent(chain.head, body);
  store.appendOutboxRow(linked.id, linked);
  store.putState('outboxChain', { seq: linked.seq, head: linked.hash } satisfies ChainState);
  return linked;
}

export function pendingEvents(store: AgentStore, limit: number): SyncEvent[] {
  return store.outboxRows<SyncEvent>(limit).map((r) => r.value);
}
