import { encodeEmergencyRequest, formatEmergencyRequest } from '../../src-shared/protocol/index.js';
import { foldUsername } from '../../src-shared/usernames.js';
import type { AgentConfig } from './agent-config.js';
import type { LocalStore } from './local-store.js';
import { offlineOutcome, type LoginFailure, type LoginOutcome, type LoginRequest } from './login-outcome.js';
import { verifyOffline } from './offline-verify.js';
import type { AgentLogger, Clock } from './ports.js';
import type { ServerClient } from './server-client.js';

/** Offline events are offered to the server this soon after they happen (then with backoff). */
export const RETRY_AFTER_OFFLINE_MS = 5_000;

/**
 * Sign-ins the agent decides alone, from the store: a login when the server gave no answer in time, and offline
 * emergency access (the request read to the helpdesk, and the code read back).
 */
export class OfflineLogin {
  constructor(
    private readonly local: LocalStore,
    private readonly config: AgentConfig,
    private readonly clock: Clock,
    private readonly log: AgentLogger,
    private readonly client: ServerClient,
    private readonly kickSync: (delayMs: number) => void,
  ) {}

  async login(req: LoginRequest): Promise<LoginOutcome> {
    const deviceId = this.local.device().deviceId;
    if (!deviceId) {
      const tls = this.client.lastFailure?.reason === 'tls' ? this.client.lastFailure.detail : undefined;
      const message = tls
        ? `This computer does not trust the server's TLS certificate (${tls}), so it could not enroll; ask IT to check the serverCaFile setting.`
        : 'The server cannot be reached and this computer has no offline data yet.';
      return { ok: false, mode: 'offline', error: 'server_unreachable', message };
    }
    const result = await verifyOffline(
      { repos: this.local.require(), clock: this.clock, config: this.config, log: this.log, deviceId },
      req,
    );
    this.kickSync(RETRY_AFTER_OFFLINE_MS); // what just happened waits in the outbox for the network
    return offlineOutcome(result);
  }

  /** The request to read to the helpdesk: device, user and the next unused slot, with a check symbol. */
  emergencyRequest(
    usernameInput: string,
  ): { ok: true; username: string; request: string; slotsLeft: number } | LoginFailure {
    const open = this.local.open;
    if (!open) return this.local.unavailable();
    const { users, verifiers } = open;
    const deviceId = this.local.device().deviceId;
    const record = deviceId ? users.get(users.ref(foldUsername(usernameInput))) : undefined;
    const now = this.clock.now();
    const slots = record
      ? verifiers
          .list(users.ref(record.username), 'slot')
          .filter((row) => !row.verifier.expiresAt || row.verifier.expiresAt > now)
      : [];
    if (!record || !deviceId || slots.length === 0) {
      return {
        ok: false,
        error: 'offline_unavailable',
        message:
          'This computer holds no offline emergency code for this user; ask the helpdesk for a temporary code once connected.',
      };
    }
    const request = formatEmergencyRequest(
      encodeEmergencyRequest({ deviceId, username: record.username, slot: slots[0]!.position }),
    );
    return { ok: true, username: record.username, request, slotsLeft: slots.length };
  }

  /** The code the helpdesk read back: checked against the unused slots only, offline, with or without the PIN. */
  async emergencySubmit(req: { username: string; pin?: string; code: string }): Promise<LoginOutcome> {
    const open = this.local.open;
    if (!open) return this.local.unavailable();
    const deviceId = this.local.device().deviceId;
    if (!deviceId)
      return {
        ok: false,
        mode: 'offline',
        error: 'offline_unavailable',
        message: 'This computer holds no offline data.',
      };
    const result = await verifyOffline(
      { repos: open, clock: this.clock, config: this.config, log: this.log, deviceId },
      {
        username: foldUsername(req.username),
        code: req.code,
        purpose: 'logon',
        slotsOnly: true,
        ...(req.pin !== undefined ? { pin: req.pin } : {}),
      },
    );
    return offlineOutcome(result);
  }
}
