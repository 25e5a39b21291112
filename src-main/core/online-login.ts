import { verifyServerMessage } from '../../src-shared/crypto/device-messages.js';
import {
  DeviceLoginResponseSchema,
  PROTOCOL_VERSION,
  SIGNATURE_DOMAINS,
  type HeldState,
} from '../../src-shared/protocol/index.js';
import type { BundleIntake } from './bundle-intake.js';
import { serverRefused, type DeviceState } from './device.js';
import type { DeviceWipe } from './device-wipe.js';
import type { Enrollment } from './enrollment.js';
import type { LocalStore, OpenStore } from './local-store.js';
import { failure, type LoginOutcome, type LoginRequest } from './login-outcome.js';
import type { AgentLogger } from './ports.js';
import type { ServerChannel } from './server-channel.js';
import type { UserRecord } from './user-record.js';

/**
 * A sign-in the server decides: the signed request, the checks on its signed answer, and what an approved answer
 * leaves behind (failures cleared, the temporary code and the bundle taken in, a sync started).
 */
export class OnlineLogin {
  constructor(
    private readonly channel: ServerChannel,
    private readonly enrollment: Enrollment,
    private readonly local: LocalStore,
    private readonly wipe: DeviceWipe,
    private readonly intake: BundleIntake,
    private readonly log: AgentLogger,
    private readonly kickSync: () => void,
  ) {}

  /** The server's decision, or null when it gave none in time (the caller then verifies offline). */
  async attempt(device: DeviceState, req: LoginRequest, timeoutMs: number): Promise<LoginOutcome | null> {
    // Without a store (offline mode off) the server still decides; nothing is cached from its answer.
    const open = this.local.open;
    const keys = this.enrollment.deviceKeys()!;
    const deviceId = device.deviceId!;
    const ref = open?.users.ref(req.username);
    const record = open && ref ? open.users.get(ref) : undefined;
    const held = open && ref && record ? heldState(open, ref, record) : undefined;
    const body = {
      v: PROTOCOL_VERSION,
      username: req.username,
      pin: req.pin,
      code: req.code,
      purpose: req.purpose,
      ...(held ? { held } : {}),
    };
    const path = '/api/v1/devices/login';
    const sent = await this.channel.signedPost(keys, deviceId, path, body, timeoutMs);
    if (sent.kind === 'unreachable') return null;
    if (sent.kind === 'revoked') {
      await this.wipe.handleRevoked(sent.body);
      return {
        ok: false,
        mode: 'online',
        error: 'device_revoked',
        message: 'This computer was removed from Lifeline by an administrator; its offline data was wiped.',
      };
    }
    if (sent.status !== 200) {
      this.channel.reachability.record(true);
      return { mode: 'online', ...failure(serverRefused(sent.body, 'The server refused the sign-in.')) };
    }
    const parsed = DeviceLoginResponseSchema.safeParse(sent.body);
    const result = parsed.success ? parsed.data.result : undefined;
    // An unsigned or misdirected 'yes' unlocks nothing: only a pinned server key, for this device and this request.
    if (
      !result ||
      !verifyServerMessage(device.serverKeys, SIGNATURE_DOMAINS.loginResult, result) ||
      result.payload.deviceId !== deviceId ||
      result.payload.requestNonce !== sent.nonce
    ) {
      this.log.warn('[login] the server answer was not signed by a trusted key for this request');
      return {
        ok: false,
        mode: 'online',
        error: 'bad_signature',
        message: "The server's answer could not be verified; the sign-in was refused.",
      };
    }
    const r = result.payload;
    await this.channel.noteContact(r.serverTime);
    if (!open) {
      this.local.onlineDevice = { ...device, status: r.deviceStatus };
      return { ok: true, mode: 'online', method: r.method, username: r.username, preparing: false };
    }
    const { store, users, state } = open;
    if (device.status !== r.deviceStatus)
      await store.commit(() => state.putDevice({ ...state.device(), status: r.deviceStatus }), { bump: false });

    const knownRef = users.ref(r.username);
    const known = users.get(knownRef);
    if (known && (known.failures > 0 || known.lockedUntil !== null)) {
      // The server just confirmed the user: offline failures before this are no longer consecutive.
      await store.commit(() => users.put(knownRef, { ...known, failures: 0, lockedUntil: null }));
    }
    let preparing = false;
    if (r.deviceStatus === 'approved') {
      if (r.method === 'temporary') await this.intake.cacheTemporary(open, r, req.pin, req.code);
      if (parsed.success && parsed.data.bundle)
        preparing = await this.intake.acceptBundle(open, keys.box, parsed.data.bundle, r, req.pin);
    }
    this.kickSync();
    return { ok: true, mode: 'online', method: r.method, username: r.username, preparing };
  }
}

/** What the agent holds for a user, so the server sends only what is new (ignored when generations moved on). */
function heldState(open: OpenStore, ref: string, record: UserRecord): HeldState | undefined {
  if (record.tokenGeneration === null || record.pinGeneration === null) return undefined;
  return {
    throughStep: Math.max(open.verifiers.last(ref, 'token') ?? 0, record.burnedThrough ?? 0),
    tokenGeneration: record.tokenGeneration,
    pinGeneration: record.pinGeneration,
    slots: open.verifiers.positions(ref, 'slot'),
  };
}
