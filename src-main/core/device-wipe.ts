import { verifyServerMessage } from '../../src-shared/crypto/device-messages.js';
import {
  DeviceRevokedResponseSchema,
  SIGNATURE_DOMAINS,
  type Signed,
  type WipeOrder,
} from '../../src-shared/protocol/index.js';
import type { LocalStore } from './local-store.js';
import { appendEvent } from './outbox.js';
import type { AgentLogger, Clock } from './ports.js';

/** What the agent does with the server's 403 `device_revoked` (a `revoked` outcome of the server channel). */
export class DeviceWipe {
  constructor(
    private readonly local: LocalStore,
    private readonly clock: Clock,
    private readonly log: AgentLogger,
  ) {}

  /** A revoked device wipes all its offline data, but only on a wipe order signed by a trusted server key. */
  async handleRevoked(body: unknown): Promise<boolean> {
    const open = this.local.open;
    if (!open) {
      if (this.local.onlineDevice) this.local.onlineDevice = { ...this.local.onlineDevice, status: 'revoked' };
      return false;
    }
    const { store, users, state } = open;
    const parsed = DeviceRevokedResponseSchema.safeParse(body);
    const device = state.device();
    const order: Signed<WipeOrder> | undefined = parsed.success ? parsed.data.wipe : undefined;
    if (
      !order ||
      !verifyServerMessage(device.serverKeys, SIGNATURE_DOMAINS.wipe, order) ||
      order.payload.deviceId !== device.deviceId
    ) {
      this.log.warn('[device] ignored a wipe order that was not signed for this device');
      return false;
    }
    for (const ref of users.refs()) open.builder.cancel(ref);
    const now = this.clock.now();
    await store.commit(() => {
      for (const ref of users.refs()) users.remove(ref);
      state.putDevice({ ...device, status: 'revoked' });
      appendEvent(store, now, { type: 'offline-wipe', username: null, reason: 'device-revoked' });
    });
    this.log.warn('[device] this device was revoked: offline data wiped');
    return true;
  }
}
