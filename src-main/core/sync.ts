import { batchHead, signBatchHead, verifyServerMessage } from '../../src-shared/crypto/device-messages.js';
import { keyFingerprint } from '../../src-shared/crypto/sign.js';
import type { ErrorCode } from '../../src-shared/errors.js';
import {
  MAX_EVENTS_PER_BATCH,
  PROTOCOL_VERSION,
  SIGNATURE_DOMAINS,
  SyncResponseSchema,
  type KeyRotation,
  type ServerKey,
  type Signed,
  type SyncUserState,
} from '../../src-shared/protocol/index.js';
import type { AgentConfig } from './agent-config.js';
import { AGENT_VERSION, serverRefused } from './device.js';
import type { DeviceWipe } from './device-wipe.js';
import type { Enrollment } from './enrollment.js';
import type { OpenStore } from './local-store.js';
import { flushCoalesced, hasCoalesced, pendingEvents } from './outbox.js';
import type { Clock } from './ports.js';
import type { ServerChannel } from './server-channel.js';
import { applyResets, dropPastWindows } from './sync-resets.js';

/** The parts a sync works with; it reaches them through these and never through the agent that built it. */
export interface SyncDeps {
  config: AgentConfig;
  clock: Clock;
  channel: ServerChannel;
  enrollment: Enrollment;
  wipe: DeviceWipe;
}

export type SyncOutcome =
  | { ok: true; uploaded: number; pendingEvents: number; resetsApplied: number; syncedAt: number }
  | { ok: false; error: ErrorCode; message: string };

/** Sync never blocks the prompt: it gets more time than a login decision, and runs in the background. */
const SYNC_TIMEOUT_MS = 15_000;
/** When background syncs run: retries of an unreachable server back off from first to max; resets (revocations, PIN
 * changes) are fetched every quiet interval even when nothing happened offline. Tests shorten them. */
export interface SyncTiming {
  firstRetryMs: number;
  maxRetryMs: number;
  quietIntervalMs: number;
}
const DEFAULT_TIMING: SyncTiming = { firstRetryMs: 5_000, maxRetryMs: 5 * 60_000, quietIntervalMs: 15 * 60_000 };
/** Rounds of MAX_EVENTS_PER_BATCH events per sync, so one sync drains a long offline period. */
const MAX_ROUNDS = 20;

/**
 * Upload of the outbox and application of the server's signed resets (docs/design.md §5–§6). Runs one at a time; entries
 * leave the outbox only once the signed acknowledgement lists them; failures retry with exponential backoff.
 */
export class SyncEngine {
  private running: Promise<SyncOutcome> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly timing: SyncTiming;
  private retryMs: number;
  private stopped = false;
  progress = { done: 0, total: 0, lastError: null as ErrorCode | null };

  constructor(
    private readonly deps: SyncDeps,
    private readonly open: OpenStore,
    private readonly auto: boolean,
    timing: Partial<SyncTiming> = {},
  ) {
    this.timing = { ...DEFAULT_TIMING, ...timing };
    this.retryMs = this.timing.firstRetryMs;
  }

  get isRunning(): boolean {
    return this.running !== null;
  }

  lastSyncAt(): number | null {
    return this.open.state.lastSyncAt();
  }

  /** Starts a background sync soon (after a login or an offline event); no-op when auto sync is off. */
  kick(delayMs = 0): void {
    if (!this.auto || this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.runNow();
    }, delayMs);
    this.timer.unref();
  }

  /** Runs a sync now, or joins the one already running, then runs again so nothing recorded meanwhile waits. */
  async runNow(): Promise<SyncOutcome> {
    while (this.running) await this.running;
    if (this.stopped) return { ok: false, error: 'offline_unavailable', message: 'The agent is stopping.' };
    this.running = this.syncOnce().finally(() => (this.running = null));
    const outcome = await this.running;
    if (outcome.ok) {
      this.retryMs = this.timing.firstRetryMs;
      this.progress.lastError = null;
      this.kick(outcome.pendingEvents > 0 ? this.timing.firstRetryMs : this.timing.quietIntervalMs);
    } else {
      this.progress.lastError = outcome.error;
      if (outcome.error === 'server_unreachable') {
        this.kick(this.retryMs);
        this.retryMs = Math.min(this.retryMs * 2, this.timing.maxRetryMs);
      } else if (outcome.error !== 'device_revoked') {
        // A refusal or an answer that could not be verified may be fixed on the server or by IT (a re-pinned key):
        // keep the regular schedule rather than waiting for the next login to try again.
        this.kick(this.timing.quietIntervalMs);
      }
    }
    return outcome;
  }

  async whenIdle(): Promise<void> {
    while (this.running) await this.running.catch(() => undefined);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private async syncOnce(): Promise<SyncOutcome> {
    const { clock, channel, enrollment, wipe } = this.deps;
    const { store, state } = this.open;
    let device;
    try {
      device = await enrollment.ensureEnrolled(SYNC_TIMEOUT_MS);
    } catch (err) {
      return { ok: false, error: 'bad_request', message: err instanceof Error ? err.message : 'Enrollment failed.' };
    }
    if (!device) return unreachable();
    if (device.status === 'revoked')
      return { ok: false, error: 'device_revoked', message: 'This computer was removed from Lifeline.' };
    const keys = enrollment.deviceKeys()!;
    // Coalesced refusals become events now, so what is uploaded is the whole story up to this sync.
    if (hasCoalesced(store)) await store.commit(() => flushCoalesced(store));
    let uploaded = 0;
    let resetsApplied = 0;
    this.progress = { done: 0, total: store.outboxSize(), lastError: null };
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const events = pendingEvents(store, MAX_EVENTS_PER_BATCH);
      const head = batchHead(device.deviceId!, events);
      const storeLost = store.pendingLoss();
      const body = {
        v: PROTOCOL_VERSION,
        agentVersion: AGENT_VERSION,
        users: this.userStates(),
        events,
        head,
        headSignature: signBatchHead(keys.signing.privateKey, head),
        ...(storeLost ? { storeLost } : {}),
      };
      const path = '/api/v1/devices/sync';
      const posted = await channel.signedPost(keys, device.deviceId!, path, body, SYNC_TIMEOUT_MS);
      if (posted.kind === 'unreachable') return unreachable();
      if (posted.kind === 'revoked') {
        await wipe.handleRevoked(posted.body);
        return {
          ok: false,
          error: 'device_revoked',
          message: 'This computer was removed from Lifeline; its offline data was wiped.',
        };
      }
      if (posted.status !== 200) {
        const err = serverRefused(posted.body, 'The server refused the sync.');
        return { ok: false, error: err.code, message: err.message };
      }
      const { nonce } = posted;
      const parsed = SyncResponseSchema.safeParse(posted.body);
      if (!parsed.success)
        return { ok: false, error: 'bad_request', message: 'The server answered the sync with something unexpected.' };
      const { ack, resets, keys: rotation } = parsed.data;
      const trusted = withKeysPinnedByIt(
        state.device().serverKeys,
        rotation.payload,
        this.deps.config.serverKeyFingerprints,
      );
      const mine = (p: { deviceId: string; requestNonce: string }) =>
        p.deviceId === device.deviceId && p.requestNonce === nonce;
      if (
        !verifyServerMessage(trusted, SIGNATURE_DOMAINS.syncAck, ack) ||
        !mine(ack.payload) ||
        !verifyServerMessage(trusted, SIGNATURE_DOMAINS.reset, resets) ||
        !mine(resets.payload)
      ) {
        return {
          ok: false,
          error: 'bad_signature',
          message: "The server's sync answer could not be verified; nothing was removed from the outbox.",
        };
      }
      const sent = new Set(events.map((e) => e.id));
      const acknowledged = ack.payload.acknowledged.filter((id) => sent.has(id));
      const wasRolledBack = store.rolledBack;
      const lossAcknowledged = storeLost !== undefined && ack.payload.acknowledged.includes(storeLost.id);
      await store.commit(() => {
        store.deleteOutbox(acknowledged);
        if (lossAcknowledged) store.lossReported();
        state.putLastSyncAt(clock.now());
        resetsApplied += applyResets(this.open, resets.payload.resets, clock.now());
        if (wasRolledBack) dropPastWindows(this.open, resets.payload.serverTime);
      });
      await channel.noteContact(resets.payload.serverTime);
      // A restored store is trusted again only now: the server knows every burn, and the clock floor is its time.
      if (wasRolledBack) await store.acceptAfterSync();
      await this.applyRotation(rotation, trusted);
      uploaded += acknowledged.length;
      this.progress.done = uploaded;
      if (acknowledged.length === 0 || store.outboxSize() === 0) break;
    }
    return { ok: true, uploaded, pendingEvents: store.outboxSize(), resetsApplied, syncedAt: clock.now() };
  }

  /** What the agent holds per user, so the server answers with the resets that apply. */
  private userStates(): SyncUserState[] {
    const { users, verifiers } = this.open;
    const now = this.deps.clock.now();
    return users.refs().flatMap((ref) => {
      const record = users.get(ref);
      if (!record) return [];
      return [
        {
          username: record.username,
          // Unknown generations (a temporary-code-only user) are reported as 0: at worst a reset drops a verifier.
          tokenGeneration: record.tokenGeneration ?? 0,
          pinGeneration: record.pinGeneration ?? 0,
          slots: verifiers.positions(ref, 'slot'),
          ...(record.temporaryExpiresAt !== null && record.temporaryExpiresAt > now
            ? { temporaryExpiresAt: record.temporaryExpiresAt }
            : {}),
        },
      ];
    });
  }

  /** Pins exactly the keys a trusted key announced (current plus accepted); a key dropped from the list is revoked. */
  private async applyRotation(rotation: Signed<KeyRotation>, trusted: readonly ServerKey[]): Promise<void> {
    if (!verifyServerMessage(trusted, SIGNATURE_DOMAINS.keyRotation, rotation)) return;
    const keys = [rotation.payload.current, ...rotation.payload.accepted].filter(
      (k) => keyFingerprint(k.publicKey) === k.fingerprint,
    );
    if (keys.length === 0) return;
    const { store, state } = this.open;
    const device = state.device();
    const same =
      keys.length === device.serverKeys.length &&
      keys.every((k, i) => device.serverKeys[i]?.fingerprint === k.fingerprint);
    if (!same) await store.commit(() => state.putDevice({ ...device, serverKeys: keys }));
  }
}

/**
 * A server key IT pinned in the configuration (serverKeyFingerprints) is trusted as soon as the server shows its
 * public key, even if this agent never synced while that key was announced: the fingerprint authenticates the key by
 * itself. This is how an agent that was offline for a rotation's whole overlap catches up (docs/design.md §6: the next key
 * reaches agents signed by the current one, or pinned by IT). A key IT pinned that the server no longer announces
 * (retired) is not taken back.
 */
function withKeysPinnedByIt(
  pinned: readonly ServerKey[],
  announced: KeyRotation,
  itPinned: readonly string[],
): ServerKey[] {
  const extra = [announced.current, ...announced.accepted].filter(
    (k) =>
      itPinned.includes(k.fingerprint) &&
      keyFingerprint(k.publicKey) === k.fingerprint &&
      !pinned.some((p) => p.fingerprint === k.fingerprint),
  );
  return [...pinned, ...extra];
}

function unreachable(): SyncOutcome {
  return { ok: false, error: 'server_unreachable', message: 'The server cannot be reached; the agent will try again.' };
}
