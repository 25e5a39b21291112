import { userInfo } from 'node:os';
import type { AgentApi, IpcRequest, IpcResponseInput } from '../../src-shared/ipc.js';
import { AGENT_VERSION } from './device.js';
import type { AgentCore, LoginOutcome } from './agent-core.js';
import { offlineLockEnd } from './offline-verify.js';
import { UserRecordSchema } from './user-record.js';
import { pendingCounts } from './outbox.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** No keychain, or another live agent holding the store: setting the files aside changes neither. */
const RESET_CANNOT_HELP = new Set(['keychain_unavailable', 'store_busy']);

/**
 * The IPC contract (src-shared/ipc.ts) served by the core: one method per channel, errors as data. Every answer is
 * built from public facts (modes, methods, counts, times); no key, code, PIN or verifier is ever put in one, and
 * the contract's response schemas drop any field they do not name.
 */
export class AgentService implements AgentApi {
  constructor(private readonly core: AgentCore) {}

  async config(): Promise<IpcResponseInput<'agent:config'>> {
    const cfg = this.core.config;
    return { ok: true, osUsername: safeOsUsername(), serverUrl: cfg.serverUrl, kiosk: cfg.kiosk, version: AGENT_VERSION };
  }

  async login(req: IpcRequest<'agent:login'>): Promise<IpcResponseInput<'agent:login'>> {
    const outcome = await this.core.login(req);
    return this.loginAnswer(outcome);
  }

  async emergencyRequest(req: IpcRequest<'agent:emergency-request'>): Promise<IpcResponseInput<'agent:emergency-request'>> {
    const r = this.core.emergencyRequest(req.username);
    if (!r.ok) return failureOf(r);
    return { ok: true, username: r.username, request: r.request, slotsLeft: r.slotsLeft };
  }

  async emergencySubmit(req: IpcRequest<'agent:emergency-submit'>): Promise<IpcResponseInput<'agent:emergency-submit'>> {
    return this.loginAnswer(await this.core.emergencySubmit(req));
  }

  async syncNow(): Promise<IpcResponseInput<'agent:sync-now'>> {
    const r = await this.core.runSync();
    return r.ok ? { ok: true, uploaded: r.uploaded, pendingEvents: r.pendingEvents, resetsApplied: r.resetsApplied, syncedAt: r.syncedAt } : { ok: false, error: r.error, message: r.message };
  }

  async resetStore(): Promise<IpcResponseInput<'agent:reset-store'>> {
    const r = await this.core.resetStore();
    return r.ok ? { ok: true, setAsideTo: r.setAsideTo } : { ok: false, error: r.error, message: r.message };
  }

  /** Waits for a fresh reachability check when the last one is old (at most the budget; sign-ins never wait for it). */
  async status(): Promise<IpcResponseInput<'agent:status'>> {
    const core = this.core;
    await core.reachability.fresh();
    const now = core.clock.now();
    const store = core.store;
    const device = core.device();
    const pending = store ? pendingCounts(store) : undefined;
    const base = {
      ok: true as const,
      now,
      server: { url: core.config.serverUrl, reachable: core.reachability.reachable, checkedAt: core.reachability.checkedAt, lastContactAt: store?.getState<{ lastContactAt: number | null }>('clock')?.lastContactAt ?? null },
      device: { id: device.deviceId, state: device.status },
      offline: store
        ? store.rolledBack
          ? { available: false, reason: 'store_tampered' as const, message: 'The offline data was restored from an older copy; it is off until the next sync.' }
          : { available: true, reason: null, message: null }
        : { available: false, reason: core.offlineError?.code ?? null, message: core.offlineError?.message ?? null, resettable: core.offlineError ? !RESET_CANNOT_HELP.has(core.offlineError.code) : false },
      lastSyncAt: core.sync?.lastSyncAt() ?? null,
      pendingEvents: pending?.total ?? 0,
      sync: { running: core.sync?.isRunning ?? false, done: core.sync?.progress.done ?? 0, total: core.sync?.progress.total ?? 0, lastError: core.sync?.progress.lastError ?? null },
    };
    if (!store || !pending) return { ...base, users: [] };
    const pendingByUser = pending.byUser;
    const users = store.listUserRefs().flatMap((ref) => {
      const r = store.getUser(ref, UserRecordSchema);
      if (!r) return [];
      const lastWindow = store.maxVerifierPosition(ref, 'token');
      const offlineDataUntil = lastWindow === undefined ? null : (lastWindow + 1) * r.periodSeconds * 1000;
      const slots = store.verifiers(ref, 'slot').length;
      return [{
        username: r.username,
        offlineDataUntil,
        offlineDaysLeft: offlineDataUntil === null ? 0 : Math.max(0, Math.floor((offlineDataUntil - now) / DAY_MS)),
        emergencySlotsLeft: slots,
        temporaryCodeExpiresAt: r.temporaryExpiresAt !== null && r.temporaryExpiresAt > now ? r.temporaryExpiresAt : null,
        lockedUntil: offlineLockEnd(store, core.clock, r),
        pendingEvents: pendingByUser.get(r.username) ?? 0,
      }];
    });
    return { ...base, users };
  }

  private loginAnswer(outcome: LoginOutcome): IpcResponseInput<'agent:login'> {
    if (!outcome.ok) return failureOf(outcome);
    const store = this.core.store;
    const ref = store?.userRef(outcome.username);
    const record = ref ? store!.getUser(ref, UserRecordSchema) : undefined;
    const now = this.core.clock.now();
    const lastWindow = ref ? store!.maxVerifierPosition(ref, 'token') : undefined;
    return {
      ok: true,
      mode: outcome.mode,
      method: outcome.method,
      username: outcome.username,
      offlineDaysLeft: record && lastWindow !== undefined ? Math.max(0, Math.floor(((lastWindow + 1) * record.periodSeconds * 1000 - now) / DAY_MS)) : null,
      temporaryCodeExpiresAt: record?.temporaryExpiresAt && record.temporaryExpiresAt > now ? record.temporaryExpiresAt : null,
      emergencySlotsLeft: ref ? store!.verifiers(ref, 'slot').length : null,
      offlinePreparing: outcome.preparing || (ref ? this.core.isPreparing(ref) : false),
    };
  }
}

function failureOf(o: Extract<LoginOutcome, { ok: false }>) {
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

function safeOsUsername(): string {
  try {
    return userInfo().username;
  } catch {
    return '';
  }
}
