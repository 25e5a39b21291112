import type { IpcResponseInput } from '../../src-shared/ipc.js';
import type { AgentConfig } from './agent-config.js';
import type { LocalStore, OpenStore } from './local-store.js';
import type { LoginOutcome } from './login-outcome.js';
import { offlineLockEnd } from './offline-verify.js';
import { pendingCounts } from './outbox.js';
import type { Clock } from './ports.js';
import type { Reachability } from './reachability.js';
import type { SyncEngine } from './sync.js';
import type { UserRecord } from './user-record.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** No keychain, or another live agent holding the store: setting the files aside changes neither. */
const RESET_CANNOT_HELP = new Set(['keychain_unavailable', 'store_busy']);

/** What the status view and a sign-in answer are read from. */
export interface StatusSources {
  config: AgentConfig;
  clock: Clock;
  reachability: Reachability;
  local: LocalStore;
  sync: SyncEngine | null;
}

/**
 * The agent's status as the status view shows it, read from the parts and never written. Every answer is built
 * from public facts (modes, methods, counts, times); no key, code, PIN or verifier is ever put in one.
 */
export class StatusView {
  constructor(private readonly sources: () => StatusSources) {}

  /** Waits for a fresh reachability check when the last one is old (at most the budget; sign-ins never wait for it). */
  async status(): Promise<IpcResponseInput<'agent:status'>> {
    await this.sources().reachability.fresh();
    const { config, clock, reachability, local, sync } = this.sources();
    const now = clock.now();
    const open = local.open;
    const device = local.device();
    const why = local.error;
    const pending = open ? pendingCounts(open.store) : undefined;
    const base = {
      ok: true as const,
      now,
      server: {
        url: config.serverUrl,
        reachable: reachability.reachable,
        checkedAt: reachability.checkedAt,
        lastContactAt: open?.state.clock().lastContactAt ?? null,
      },
      device: { id: device.deviceId, state: device.status },
      offline: open
        ? open.store.rolledBack
          ? {
              available: false,
              reason: 'store_tampered' as const,
              message: 'The offline data was restored from an older copy; it is off until the next sync.',
            }
          : { available: true, reason: null, message: null }
        : {
            available: false,
            reason: why?.code ?? null,
            message: why?.message ?? null,
            resettable: why ? !RESET_CANNOT_HELP.has(why.code) : false,
          },
      lastSyncAt: sync?.lastSyncAt() ?? null,
      pendingEvents: pending?.total ?? 0,
      sync: {
        running: sync?.isRunning ?? false,
        done: sync?.progress.done ?? 0,
        total: sync?.progress.total ?? 0,
        lastError: sync?.progress.lastError ?? null,
      },
    };
    if (!open || !pending) return { ...base, users: [] };
    const pendingByUser = pending.byUser;
    const users = open.users.refs().flatMap((ref) => {
      const r = open.users.get(ref);
      if (!r) return [];
      const offlineDataUntil = dataUntil(open, ref, r);
      return [
        {
          username: r.username,
          offlineDataUntil,
          offlineDaysLeft: offlineDataUntil === null ? 0 : Math.max(0, Math.floor((offlineDataUntil - now) / DAY_MS)),
          emergencySlotsLeft: open.verifiers.positions(ref, 'slot').length,
          temporaryCodeExpiresAt:
            r.temporaryExpiresAt !== null && r.temporaryExpiresAt > now ? r.temporaryExpiresAt : null,
          lockedUntil: offlineLockEnd(open, clock, r),
          pendingEvents: pendingByUser.get(r.username) ?? 0,
        },
      ];
    });
    return { ...base, users };
  }

  /** A sign-in's answer: its outcome and what the user has left offline afterwards. */
  loginAnswer(outcome: LoginOutcome): IpcResponseInput<'agent:login'> {
    if (!outcome.ok) return failureOf(outcome);
    const { clock, local } = this.sources();
    const open = local.open;
    const ref = open?.users.ref(outcome.username);
    const record = open && ref ? open.users.get(ref) : undefined;
    const now = clock.now();
    const until = open && ref && record ? dataUntil(open, ref, record) : null;
    return {
      ok: true,
      mode: outcome.mode,
      method: outcome.method,
      username: outcome.username,
      offlineDaysLeft: until !== null ? Math.max(0, Math.floor((until - now) / DAY_MS)) : null,
      temporaryCodeExpiresAt:
        record?.temporaryExpiresAt && record.temporaryExpiresAt > now ? record.temporaryExpiresAt : null,
      emergencySlotsLeft: open && ref ? open.verifiers.positions(ref, 'slot').length : null,
      offlinePreparing: outcome.preparing || (ref ? local.isPreparing(ref) : false),
    };
  }
}

/** When the last token window the offline data covers ends, or null when it holds none. */
function dataUntil(open: OpenStore, ref: string, record: UserRecord): number | null {
  const lastWindow = open.verifiers.last(ref, 'token');
  return lastWindow === undefined ? null : (lastWindow + 1) * record.periodSeconds * 1000;
}

export function failureOf(o: Extract<LoginOutcome, { ok: false }>) {
  return {
    ok: false as const,
    error: o.error,
    message: o.message,
    ...(o.mode ? { mode: o.mode } : {}),
    ...(o.retryAfterSeconds !== undefined ? { retryAfterSeconds: o.retryAfterSeconds } : {}),
    ...(o.lockedUntil !== undefined ? { lockedUntil: o.lockedUntil } : {}),
    ...(o.triesLeft !== undefined ? { triesLeft: o.triesLeft } : {}),
  };
}
