import { LifelineError } from '../../src-shared/errors.js';
import type { AgentConfig } from './agent-config.js';
import { enroll, loadDeviceKeys, type DeviceKeys, type DeviceState } from './device.js';
import type { LocalStore } from './local-store.js';
import type { AgentLogger, Keychain } from './ports.js';
import type { ServerChannel } from './server-channel.js';
import { StoreUnavailable } from './store/errors.js';

/**
 * The device's identity: its keys from the keychain and its enrollment with the server, done on first use and kept
 * in the store (or, with no store, in memory for online sign-in only).
 */
export class Enrollment {
  constructor(
    private readonly config: AgentConfig,
    private readonly channel: ServerChannel,
    private readonly local: LocalStore,
    private readonly keychain: Keychain,
    private readonly log: AgentLogger,
    private readonly machineIdHash: string,
    private keys: DeviceKeys | null,
  ) {}

  /** The device keys; created with the first enrollment. */
  deviceKeys(): DeviceKeys | null {
    return this.keys;
  }

  /** Reads the keys again after a reset (which may have deleted a foreign copy's keys). */
  async reloadKeys(): Promise<void> {
    this.keys = await loadDeviceKeys(this.keychain, false);
  }

  /** Enrolls on first use. Returns the device state, or null when the server could not be reached in time. */
  async ensureEnrolled(timeoutMs: number): Promise<DeviceState | null> {
    const open = this.local.open;
    if (!open) return this.enrollOnlineOnly(timeoutMs);
    const current = open.state.device();
    this.keys ??= await loadDeviceKeys(this.keychain, !current.deviceId);
    if (!this.keys)
      throw new LifelineError(
        'store_tampered',
        'The device keys are missing from the keychain beside an enrolled store.',
        409,
      );
    if (current.deviceId) return current;
    const result = await enroll({
      config: this.config,
      client: this.channel.client,
      keys: this.keys,
      machineIdHash: this.machineIdHash,
      timeoutMs,
    });
    if (!result.reachable) {
      this.channel.noteUnreachable();
      return null;
    }
    await open.store.commit(() => open.state.putDevice({ ...result.state, signingKey: this.keys!.signing.publicKey }));
    await this.channel.noteContact(result.serverTime);
    this.log.info('[device] enrolled', { status: result.state.status });
    return result.state;
  }

  /**
   * Without a store, the device is the one the keychain's keys belong to: enrolling the same signing key again
   * returns the same device (devices.ts), so the server names it, in memory, for online sign-in only. Keys missing
   * from the keychain are created (a new device, pending approval); a store copied from another machine, or no
   * keychain at all, leaves nothing to act as.
   */
  private async enrollOnlineOnly(timeoutMs: number): Promise<DeviceState | null> {
    if (this.local.onlineDevice) return this.local.onlineDevice;
    const why = this.local.error;
    if (why && (why.code === 'keychain_unavailable' || (why instanceof StoreUnavailable && why.foreign))) throw why;
    this.keys ??= await loadDeviceKeys(this.keychain, true);
    const result = await enroll({
      config: this.config,
      client: this.channel.client,
      keys: this.keys!,
      machineIdHash: this.machineIdHash,
      timeoutMs,
    });
    if (!result.reachable) {
      this.channel.noteUnreachable();
      return null;
    }
    this.local.onlineDevice = result.state;
    await this.channel.noteContact(result.serverTime);
    return result.state;
  }
}
