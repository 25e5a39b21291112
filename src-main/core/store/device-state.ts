import { unenrolled, type DeviceState } from '../device.js';
import type { AgentStore } from './store.js';

/** The device-wide clock bookkeeping: the wall-time high-water mark and when the server was last reached. */
export interface ClockState {
  highWater: number;
  lastContactAt: number | null;
  backReported: boolean;
}

/** The device's own rows in the store's `state` table: who it is, its clock floor, its last sync. Writes go inside `store.commit`. */
export class DeviceStateRepo {
  constructor(private readonly store: AgentStore) {}

  device(): DeviceState {
    return this.store.getState<DeviceState>('device') ?? unenrolled();
  }

  putDevice(state: DeviceState): void {
    this.store.putState('device', state);
  }

  clock(): ClockState {
    return this.store.getState<ClockState>('clock') ?? { highWater: 0, lastContactAt: null, backReported: false };
  }

  putClock(state: ClockState): void {
    this.store.putState('clock', state);
  }

  lastSyncAt(): number | null {
    return this.store.getState<number>('lastSyncAt') ?? null;
  }

  putLastSyncAt(at: number): void {
    this.store.putState('lastSyncAt', at);
  }
}
