import type { ErrorCode, LifelineError } from '../../src-shared/errors.js';
import type { AgentConfig } from './agent-config.js';
import { loadDeviceKeys, type DeviceKeys, type DeviceState } from './device.js';
import type { Enrollment } from './enrollment.js';
import type { LocalStore } from './local-store.js';
import { appendEvent } from './outbox.js';
import type { AgentLogger, Clock, Keychain, MachineId } from './ports.js';
import { DeviceStateRepo } from './store/device-state.js';
import { storeDamaged, StoreUnavailable, tampered } from './store/errors.js';
import { AgentStore, KEYCHAIN } from './store/store.js';

export interface StoreAccess {
  config: AgentConfig;
  keychain: Keychain;
  machineId: MachineId;
  clock: Clock;
  log: AgentLogger;
}

/** What start-up found: an open store, or why offline mode is off; and the device keys either way, if any. */
export type OpenedStore =
  | { store: AgentStore; error: null; keys: DeviceKeys | null }
  | { store: null; error: LifelineError; keys: DeviceKeys | null };

/** Opens the store at start-up and checks it against the keychain's device keys. */
export async function openStore(access: StoreAccess): Promise<OpenedStore> {
  const { config, keychain, machineId, log } = access;
  let store: AgentStore | null = null;
  try {
    store = await AgentStore.open({ dataDir: config.dataDir, keychain, machineId, log });
    const keys = await loadDeviceKeys(keychain, false);
    checkDeviceKeys(new DeviceStateRepo(store).device(), keys);
    if (store.rolledBack)
      await store.commit(() =>
        appendEvent(store!, access.clock.now(), { type: 'store-tampering', reason: 'store-rollback' }),
      );
    return { store, error: null, keys };
  } catch (err) {
    // A store that cannot be used turns offline mode off, never online sign-in: the device keys are in the
    // keychain and the server names the device again for them (docs/agent.md, "When the offline store fails").
    store?.close();
    const reason = storeDamaged(err);
    log.warn('[agent] offline mode unavailable', { reason: reason.code });
    const keys =
      reason.code === 'keychain_unavailable' ? null : await loadDeviceKeys(keychain, false).catch(() => null);
    return { store: null, error: reason, keys };
  }
}

/**
 * Sets a store that cannot be used aside (moved to a timestamped folder beside it, kept for IT) and starts a new
 * one, which reports the loss to the server at the next sync. Only while offline mode is off because of the store.
 */
export class StoreRecovery {
  constructor(
    private readonly access: StoreAccess,
    private readonly local: LocalStore,
    private readonly enrollment: Enrollment,
    /** Puts the new store to use (its repositories, builder and sync) and starts a sync. */
    private readonly reopen: (store: AgentStore) => void,
  ) {}

  async resetStore(): Promise<
    { ok: true; setAsideTo: string | null } | { ok: false; error: ErrorCode; message: string }
  > {
    const why = this.local.error;
    if (!why || this.local.open)
      return { ok: false, error: 'conflict', message: 'The offline store works; there is nothing to reset.' };
    if (why.code === 'keychain_unavailable') return { ok: false, error: why.code, message: why.message };
    const { config, keychain, machineId, log, clock } = this.access;
    try {
      // A store bound to another machine came with that machine's device keys: this one enrolls as itself.
      if (why instanceof StoreUnavailable && why.foreign)
        for (const name of [KEYCHAIN.deviceSign, KEYCHAIN.deviceBox]) await keychain.delete(name);
      const { store, setAsideTo } = await AgentStore.reset({
        dataDir: config.dataDir,
        keychain,
        machineId,
        log,
        at: clock.now(),
      });
      await this.enrollment.reloadKeys();
      this.reopen(store);
      return { ok: true, setAsideTo };
    } catch (err) {
      const reason = storeDamaged(err);
      this.local.fail(reason);
      return { ok: false, error: reason.code, message: reason.message };
    }
  }
}

/** An enrolled store whose device keys are gone from the keychain, or are not the ones it enrolled with, is unusable. */
function checkDeviceKeys(device: DeviceState, keys: DeviceKeys | null): void {
  if (!device.deviceId) return;
  if (!keys) throw tampered('the device keys are missing from the keychain beside an enrolled store');
  if (device.signingKey !== undefined && device.signingKey !== keys.signing.publicKey)
    throw tampered('the device keys in the keychain are not the ones this store enrolled with');
}
