import { LifelineError } from '../../src-shared/errors.js';
import { unenrolled, type DeviceState } from './device.js';
import type { LoginFailure } from './login-outcome.js';
import type { AgentLogger } from './ports.js';
import type { ClockState } from './store/device-state.js';
import { repositories, type Repositories } from './store/repositories.js';
import type { AgentStore } from './store/store.js';
import { VerifierBuilder } from './verifier-builder.js';

/** An open store with its typed repositories and the background builder that writes verifiers into it. */
export interface OpenStore extends Repositories {
  builder: VerifierBuilder;
}

/**
 * Where the device's data lives: the open store, or, while offline mode is off, why it is off and the device as
 * the server named it in memory (online sign-in works without a store). A reset swaps a new store in here, so every
 * part reads `open` when it acts rather than keeping a store of its own.
 */
export class LocalStore {
  private current: OpenStore | null = null;
  /** The device as the server named it when there is no store to keep it in (online-only, in memory). */
  onlineDevice: DeviceState | null = null;

  constructor(
    private readonly log: AgentLogger,
    private why: LifelineError | null,
  ) {}

  /** The open store; null while offline mode is unavailable. */
  get open(): OpenStore | null {
    return this.current;
  }

  /** Why offline mode is unavailable, when it is: a stable code and a message that says what to do. */
  get error(): LifelineError | null {
    return this.why;
  }

  use(store: AgentStore): OpenStore {
    this.current = { ...repositories(store), builder: new VerifierBuilder(store, this.log) };
    this.why = null;
    this.onlineDevice = null;
    return this.current;
  }

  /** A reset that failed: offline mode stays off, for this reason now. */
  fail(reason: LifelineError): void {
    this.why = reason;
  }

  device(): DeviceState {
    return this.current ? this.current.state.device() : (this.onlineDevice ?? unenrolled());
  }

  require(): OpenStore {
    if (!this.current) throw this.why ?? notOpen();
    return this.current;
  }

  unavailable(): LoginFailure {
    const err = this.why ?? notOpen();
    return { ok: false, error: err.code, message: err.message };
  }

  /**
   * The server's time is the trusted floor: contact ends a clock-back refusal (docs/design.md §5) and replaces a mark
   * pushed ahead by a clock set forward; a clock that is still wrong is caught again at the next offline login.
   */
  async recordContact(serverTime: number, now: number): Promise<void> {
    const open = this.current;
    if (!open) return;
    const next: ClockState = { highWater: serverTime, lastContactAt: now, backReported: false };
    await open.store.commit(() => open.state.putClock(next), { bump: false });
  }

  /** Drops a user's background hashing (their data was reset or wiped). */
  cancelBuild(ref: string): void {
    this.current?.builder.cancel(ref);
  }

  isPreparing(ref: string): boolean {
    return this.current?.builder.busyWith(ref) ?? false;
  }
}

function notOpen(): LifelineError {
  return new LifelineError('offline_unavailable', 'The offline store is not open.', 503);
}
