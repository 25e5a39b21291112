import { z } from 'zod';
import { PURPOSES } from '../codes.js';
import { OfflinePolicySchema } from '../policy.js';
import {
  DeviceIdSchema,
  EpochMsSchema,
  NonceSchema,
  ServerKeySchema,
  Sha256HexSchema,
  SignatureSchema,
  signedSchema,
  StepSchema,
  UsernameSchema,
  VersionSchema,
} from './common.js';

/**
 * POST /api/v1/devices/sync (device-signed). The agent uploads its outbox: events with unique ids, each linked to the
 * previous one by a hash chain (src-shared/crypto/device-messages.ts `eventHash`, starting from GENESIS_HASH), and
 * the batch head signed by the device key. The server deduplicates by event id, audits each event with the device,
 * applies burns and used slots, and answers with a signed acknowledgement and signed resets; an agent removes an
 * event from its outbox only once it is acknowledged. A revoked device gets only a wipe order (login.ts).
 */
export const GENESIS_HASH = '0'.repeat(64);
export const MAX_EVENTS_PER_BATCH = 500;
/** Users one workstation may hold offline data for: shared ward and shift workstations serve hundreds. */
export const MAX_USERS_PER_DEVICE = 1000;

const OFFLINE_METHODS = ['token', 'temporary', 'offline-emergency'] as const;

const EventCommon = {
  /** A random UUID: the server records each id once, whatever instance receives it and however often it is sent. */
  id: z.uuid(),
  /** The agent's outbox counter, strictly increasing. */
  seq: z.number().int().positive(),
  /** The agent's wall clock when it happened. */
  at: EpochMsSchema,
  prevHash: Sha256HexSchema,
  hash: Sha256HexSchema,
};

export const SyncEventSchema = z.discriminatedUnion('type', [
  /** An offline login succeeded: a token window (burning it and all earlier ones), a slot, or the cached temporary code. */
  z.strictObject({
    ...EventCommon,
    type: z.literal('offline-success'),
    username: UsernameSchema,
    method: z.enum(OFFLINE_METHODS),
    purpose: z.enum(PURPOSES),
    step: StepSchema.optional(),
    tokenGeneration: z.number().int().nonnegative().optional(),
    slot: z.number().int().nonnegative().optional(),
  }),
  z.strictObject({
    ...EventCommon,
    type: z.literal('offline-failure'),
    username: z.string().min(1).max(128),
    reason: z.enum(['invalid_code', 'locked', 'offline_refused']),
    /** Attempts this event stands for (absent: one): refusals while locked or without contact are coalesced. */
    count: z.number().int().positive().optional(),
    /** The last of those attempts (`at` is the first). */
    lastAt: EpochMsSchema.optional(),
  }),
  z.strictObject({
    ...EventCommon,
    type: z.literal('offline-lockout'),
    username: UsernameSchema,
    until: EpochMsSchema,
    failures: z.number().int().nonnegative(),
  }),
  z.strictObject({
    ...EventCommon,
    type: z.literal('offline-wipe'),
    /** null: the whole store (revoked device). */
    username: UsernameSchema.nullable(),
    reason: z.enum([
      'max-failures',
      'device-revoked',
      'user-disabled',
      'token-changed',
      'pin-changed',
      'reset',
      'offline-disabled',
      'tampering',
    ]),
  }),
  /** The wall clock went back past the high-water mark. */
  z.strictObject({
    ...EventCommon,
    type: z.literal('clock-rollback'),
    highWaterMark: EpochMsSchema,
    observed: EpochMsSchema,
  }),
  /** The store is older than the keychain's state counter says, or a keychain entry is missing beside a store. */
  z.strictObject({
    ...EventCommon,
    type: z.literal('store-tampering'),
    reason: z.enum(['store-rollback', 'keychain-missing', 'machine-mismatch']),
  }),
  /** The outbox was full: this many failures from `at` to `lastAt` were counted, not recorded one by one. */
  z.strictObject({
    ...EventCommon,
    type: z.literal('outbox-overflow'),
    dropped: z.number().int().positive(),
    lastAt: EpochMsSchema,
  }),
]);
export type SyncEvent = z.infer<typeof SyncEventSchema>;
/** An event before it is linked into the chain. */
export type SyncEventBody = SyncEvent extends infer E
  ? E extends SyncEvent
    ? Omit<E, 'prevHash' | 'hash'>
    : never
  : never;

/** What the agent holds for each user, so the server can answer with the resets that apply. */
export const SyncUserStateSchema = z.strictObject({
  username: UsernameSchema,
  tokenGeneration: z.number().int().nonnegative(),
  pinGeneration: z.number().int().nonnegative(),
  /** Unused slot indexes the agent holds. */
  slots: z.array(z.number().int().nonnegative()).max(100),
  /** The expiry of the cached multi-use temporary code, if any (the server says whether it is still active). */
  temporaryExpiresAt: EpochMsSchema.optional(),
});
export type SyncUserState = z.infer<typeof SyncUserStateSchema>;

export const SyncBatchHeadSchema = z.strictObject({
  v: VersionSchema,
  deviceId: DeviceIdSchema,
  /** seq and hash of the last event in the batch (GENESIS_HASH and 0 for an empty batch). */
  lastSeq: z.number().int().nonnegative(),
  headHash: Sha256HexSchema,
  count: z.number().int().nonnegative(),
});
export type SyncBatchHead = z.infer<typeof SyncBatchHeadSchema>;

/**
 * The agent found its store gone (deleted, wiped) or set aside by a reset while the keychain said one existed, and
 * started a new one. The keychain's mirror of the lost store's state counter and outbox sequence says how far it had
 * got; the server audits it (`device.store-lost`) beside the last event it recorded from this device, so events
 * that never reached it are known to be lost. Sent with every sync until acknowledged (`id` in `ack.acknowledged`).
 */
export const StoreLossSchema = z.strictObject({
  id: z.uuid(),
  reason: z.enum(['missing', 'reset']),
  /** The lost store's state counter as the keychain held it (null: the keychain no longer had it). */
  stateCounter: z.number().int().nonnegative().nullable(),
  /** The lost store's last outbox sequence number as the keychain held it (null: not known). */
  lastSeq: z.number().int().nonnegative().nullable(),
  detectedAt: EpochMsSchema,
});
export type StoreLoss = z.infer<typeof StoreLossSchema>;

export const SyncRequestSchema = z.strictObject({
  v: VersionSchema,
  agentVersion: z.string().min(1).max(64),
  users: z.array(SyncUserStateSchema).max(MAX_USERS_PER_DEVICE),
  events: z.array(SyncEventSchema).max(MAX_EVENTS_PER_BATCH),
  head: SyncBatchHeadSchema,
  /** Device signature (domain SIGNATURE_DOMAINS.syncBatch) over `head`. */
  headSignature: SignatureSchema,
  /** Optional, so agents that never report a loss still validate. */
  storeLost: StoreLossSchema.optional(),
});
export type SyncRequest = z.infer<typeof SyncRequestSchema>;

export const SyncAckSchema = z.strictObject({
  v: VersionSchema,
  deviceId: DeviceIdSchema,
  requestNonce: NonceSchema,
  /** Every event id of the batch the server now holds (new or already recorded): safe to drop from the outbox. */
  acknowledged: z.array(z.uuid()),
  /** The subset that had been recorded before (a batch sent twice). */
  duplicates: z.array(z.uuid()),
  /** Events recorded as anomalies (e.g. a burn beyond the server's time plus one step, which is not applied). */
  anomalies: z.array(z.uuid()),
  serverTime: EpochMsSchema,
});

export const ResetSchema = z.discriminatedUnion('kind', [
  /** Drop the cached temporary-code verifier. */
  z.strictObject({ kind: z.literal('temporary-revoked'), username: UsernameSchema }),
  /** Token deleted (tokenGeneration null) or re-enrolled: drop every window of the user. */
  z.strictObject({
    kind: z.literal('token-changed'),
    username: UsernameSchema,
    tokenGeneration: z.number().int().nonnegative().nullable(),
  }),
  /** PIN changed: every PIN-bound verifier (windows, temporary code) is void; slots stay. */
  z.strictObject({
    kind: z.literal('pin-changed'),
    username: UsernameSchema,
    pinGeneration: z.number().int().nonnegative(),
  }),
  /** User disabled, deleted or no longer allowed offline: wipe all of the user's offline data. */
  z.strictObject({ kind: z.literal('user-disabled'), username: UsernameSchema }),
  z.strictObject({
    kind: z.literal('slots-retired'),
    username: UsernameSchema,
    slots: z.array(z.number().int().nonnegative()),
  }),
  /** The user's current offline rules (sent at every sync; the agent applies them). */
  z.strictObject({ kind: z.literal('policy'), username: UsernameSchema, offline: OfflinePolicySchema }),
]);
export type Reset = z.infer<typeof ResetSchema>;

export const ResetOrderSchema = z.strictObject({
  v: VersionSchema,
  deviceId: DeviceIdSchema,
  requestNonce: NonceSchema,
  serverTime: EpochMsSchema,
  resets: z.array(ResetSchema),
});

export const WipeOrderSchema = z.strictObject({
  v: VersionSchema,
  deviceId: DeviceIdSchema,
  reason: z.literal('device-revoked'),
  issuedAt: EpochMsSchema,
});
export type WipeOrder = z.infer<typeof WipeOrderSchema>;

/**
 * Server key rotation, signed by the current key. The agent accepts this message only when it is signed by a key it
 * already pins, then pins exactly `current` plus `accepted`: a next key published before the switch, or the previous
 * key during the overlap after it. A key that disappears from the list (revoked) is no longer trusted.
 */
export const KeyRotationSchema = z.strictObject({
  v: VersionSchema,
  current: ServerKeySchema,
  accepted: z.array(ServerKeySchema),
  issuedAt: EpochMsSchema,
});
export type KeyRotation = z.infer<typeof KeyRotationSchema>;

export const SyncResponseSchema = z.strictObject({
  ok: z.literal(true),
  ack: signedSchema(SyncAckSchema),
  resets: signedSchema(ResetOrderSchema),
  keys: signedSchema(KeyRotationSchema),
});
export type SyncResponse = z.infer<typeof SyncResponseSchema>;
