import { canonicalJson } from '../../src-shared/canonical.js';
import type { Reset } from '../../src-shared/protocol/index.js';
import type { OpenStore } from './local-store.js';
import { appendEvent } from './outbox.js';

/**
 * Applies the server's resets inside the caller's transaction; returns how many changed something. The server
 * states what is true now (it sends the policy at every sync), so a reset that matches what the agent already
 * holds changes nothing and records nothing.
 */
export function applyResets(open: OpenStore, resets: readonly Reset[], now: number): number {
  const { store, users, verifiers, builder } = open;
  let applied = 0;
  for (const reset of resets) {
    const ref = users.ref(reset.username);
    const record = users.get(ref);
    if (!record) continue;
    const wipeUser = (reason: 'user-disabled' | 'offline-disabled') => {
      builder.cancel(ref);
      users.remove(ref);
      appendEvent(store, now, { type: 'offline-wipe', username: record.username, reason });
    };
    switch (reset.kind) {
      case 'temporary-revoked':
        if (verifiers.removeUpTo(ref, 'temporary') === 0 && record.temporaryExpiresAt === null) continue;
        users.put(ref, { ...record, temporaryExpiresAt: null });
        break;
      case 'token-changed':
        if (record.tokenGeneration === reset.tokenGeneration) continue;
        builder.cancel(ref);
        if (verifiers.removeUpTo(ref, 'token') > 0)
          appendEvent(store, now, { type: 'offline-wipe', username: record.username, reason: 'token-changed' });
        users.put(ref, { ...record, tokenGeneration: reset.tokenGeneration, windowsUntil: null });
        break;
      case 'pin-changed': {
        if (record.pinGeneration === reset.pinGeneration) continue;
        // Every PIN-bound verifier is void; slots (hashed without the PIN) stay.
        builder.cancel(ref);
        const dropped = verifiers.removeUpTo(ref, 'token') + verifiers.removeUpTo(ref, 'temporary');
        if (dropped > 0)
          appendEvent(store, now, { type: 'offline-wipe', username: record.username, reason: 'pin-changed' });
        users.put(ref, { ...record, pinGeneration: reset.pinGeneration, windowsUntil: null, temporaryExpiresAt: null });
        break;
      }
      case 'user-disabled':
        wipeUser('user-disabled');
        break;
      case 'slots-retired': {
        let retired = 0;
        for (const slot of reset.slots) retired += verifiers.remove(ref, 'slot', slot);
        if (retired === 0) continue;
        break;
      }
      case 'policy':
        if (!reset.offline.allowed) wipeUser('offline-disabled');
        else if (canonicalJson(reset.offline) === canonicalJson(record.offline)) continue;
        else users.put(ref, { ...record, offline: reset.offline });
        break;
    }
    applied++;
  }
  return applied;
}

/**
 * After a rollback the restored file has lost the burns (and their events) made since the copy: any window up to
 * the server's current one plus drift may have been used, so all of them go. Later windows cannot have been.
 */
export function dropPastWindows({ users, verifiers }: OpenStore, serverTime: number): void {
  for (const ref of users.refs()) {
    const record = users.get(ref);
    if (!record) continue;
    const floor = Math.floor(serverTime / 1000 / record.periodSeconds) + 1;
    verifiers.removeUpTo(ref, 'token', floor);
    users.put(ref, { ...record, burnedThrough: Math.max(record.burnedThrough ?? -1, floor) });
  }
}
