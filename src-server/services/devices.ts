import { constantTimeEqual } from '../../src-shared/crypto/compare.js';
import { signServerMessage, verifyDeviceRequest, verifyEnrollProof } from '../../src-shared/crypto/device-messages.js';
import { randomCrockford, randomToken } from '../../src-shared/crypto/random.js';
import { keyFingerprint } from '../../src-shared/crypto/sign.js';
import { LifelineError } from '../../src-shared/errors.js';
import {
  DEVICE_ID_LENGTH,
  PROTOCOL_VERSION,
  SIGNATURE_DOMAINS,
  type ServerKey,
  type Signed,
} from '../../src-shared/protocol/common.js';
import {
  DEVICE_HEADERS,
  DeviceRequestHeadersSchema,
  REQUEST_WINDOW_MS,
} from '../../src-shared/protocol/device-request.js';
import type { DeviceStatus, EnrollRequest, EnrollResponse } from '../../src-shared/protocol/enroll.js';
import type { DeviceSummary } from '../../src-shared/protocol/admin.js';
import type { KeyRotation, WipeOrder } from '../../src-shared/protocol/sync.js';
import type { ServerContext } from '../context.js';
import type { Queryable } from '../db/port.js';
import { insertEnrollmentSecret, readEnrollmentSecret } from '../db/queries/device-enrollment.js';
import { pruneDeviceNonces, recordDeviceNonce } from '../db/queries/device-nonces.js';
import { deliveredUsernames } from '../db/queries/device-users.js';
import * as devices from '../db/queries/devices.js';
import type { DeviceRecord } from '../db/queries/devices.js';
import { retireRevokedDeviceSlots, retireSlots } from '../db/queries/offline-slots.js';
import { appendAudit } from './audit.js';
import { policyForUser } from './policy.js';
import { hitRateLimit } from './rate-limit.js';
import { decryptSecret, encryptSecret } from './secrets.js';
import { requireUser } from './users.js';

/**
 * Devices (agents): enrollment with the enrollment secret, approval and revocation by admins, and the
 * authentication of every later request by the device's Ed25519 key with a timestamp window and a nonce table
 * (docs/protocol.md). A revoked device is answered with a signed wipe order and nothing else.
 */
const ENROLLMENT_SECRET_AAD = 'enrollment-secret';
const ENROLL_ATTEMPTS_PER_HOUR = 30;

/** The enrollment secret IT configures into installers; created on first need (a race creates it once). */
export async function enrollmentSecret(ctx: ServerContext): Promise<string> {
  const existing = await readEnrollmentSecret(ctx.db);
  if (existing) return decryptSecret(ctx, ENROLLMENT_SECRET_AAD, existing).toString('utf8');
  const fresh = Buffer.from(randomToken(24), 'utf8');
  await insertEnrollmentSecret(ctx.db, encryptSecret(ctx, ENROLLMENT_SECRET_AAD, fresh), ctx.clock.now());
  fresh.fill(0);
  return enrollmentSecret(ctx);
}

/** The enrollment secret as an admin reads it for installers: every read is audited. */
export async function readEnrollmentSecretAudited(ctx: ServerContext, admin: string): Promise<string> {
  await appendAudit(ctx.db, ctx, {
    type: 'device.enrollment-secret-read',
    outcome: 'info',
    actorKind: 'admin',
    actor: admin,
  });
  return enrollmentSecret(ctx);
}

/** RSA's reset: retires the device's live offline emergency slots (one user's or all) and audits it; returns how many. */
export async function resetDeviceOffline(
  ctx: ServerContext,
  admin: string,
  deviceId: string,
  username: string | undefined,
): Promise<number> {
  const device = await requireDevice(ctx.db, deviceId);
  const user = username !== undefined ? await requireUser(ctx.db, username) : undefined;
  return ctx.db.tx(async (q) => {
    const n = await retireSlots(q, device.id, user?.id, 'reset', ctx.clock.now());
    await appendAudit(q, ctx, {
      type: 'device.reset-offline',
      outcome: 'success',
      actorKind: 'admin',
      actor: admin,
      device: device.id,
      ...(user ? { subject: user.username } : {}),
      details: { retiredSlots: n },
    });
    return n;
  });
}

export function serverKeys(ctx: ServerContext): ServerKey[] {
  return ctx.keys.allSigningKeys.map((k) => ({ publicKey: k.publicKey, fingerprint: k.fingerprint }));
}

export function signed<T>(
  ctx: ServerContext,
  domain: (typeof SIGNATURE_DOMAINS)[keyof typeof SIGNATURE_DOMAINS],
  payload: T,
): Signed<T> {
  return signServerMessage(ctx.keys.signing, domain, payload);
}

export function keyRotationMessage(ctx: ServerContext): Signed<KeyRotation> {
  const [current, ...accepted] = serverKeys(ctx);
  return signed(ctx, SIGNATURE_DOMAINS.keyRotation, {
    v: PROTOCOL_VERSION,
    current: current!,
    accepted,
    issuedAt: ctx.clock.now(),
  });
}

export function wipeOrder(ctx: ServerContext, deviceId: string): Signed<WipeOrder> {
  return signed(ctx, SIGNATURE_DOMAINS.wipe, {
    v: PROTOCOL_VERSION,
    deviceId,
    reason: 'device-revoked',
    issuedAt: ctx.clock.now(),
  });
}

export const findDevice = devices.findDevice;

export async function requireDevice(q: Queryable, id: string): Promise<DeviceRecord> {
  const d = await findDevice(q, id);
  if (!d) throw new LifelineError('not_found', 'No such device.', 404);
  return d;
}

/** New devices wait for an admin unless the default policy approves them automatically or does not ask for it. */
async function initialStatus(q: Queryable): Promise<'pending' | 'approved'> {
  const policy = await policyForUser(q, { policyId: null });
  return policy.autoApproveDevices || !policy.offline.devicesNeedApproval ? 'approved' : 'pending';
}

export async function enrollDevice(ctx: ServerContext, body: EnrollRequest, address: string): Promise<EnrollResponse> {
  const limit = await hitRateLimit(
    ctx.db,
    `device-enroll:${address}`,
    ENROLL_ATTEMPTS_PER_HOUR,
    3_600_000,
    ctx.clock.now(),
  );
  if (!limit.allowed)
    throw new LifelineError('rate_limited', 'Too many enrollment attempts from this address.', 429, {
      retryAfterSeconds: limit.retryAfterSeconds,
    });
  const expected = await enrollmentSecret(ctx);
  if (!constantTimeEqual(body.enrollmentSecret, expected)) {
    await appendAudit(ctx.db, ctx, {
      type: 'device.enroll',
      outcome: 'failure',
      actorKind: 'device',
      reason: 'wrong_enrollment_secret',
      details: { hostname: body.hostname, address },
    });
    throw new LifelineError('unauthorized', 'The enrollment secret is not this server’s.', 401);
  }
  if (!verifyEnrollProof(body))
    throw new LifelineError('bad_signature', 'The enrollment proof does not verify with the signing key.', 401);

  const result = await ctx.db.tx(async (q) => {
    const existing = await devices.findDeviceBySigningKey(q, body.signingPublicKey);
    if (existing) return existing;
    const status = await initialStatus(q);
    const now = ctx.clock.now();
    const id = await unusedDeviceId(q);
    await devices.insertDevice(q, {
      id,
      signingPublicKey: body.signingPublicKey,
      encryptionPublicKey: body.encryptionPublicKey,
      machineIdHash: body.machineIdHash,
      hostname: body.hostname,
      agentVersion: body.agentVersion,
      status,
      now,
      approvedBy: 'policy',
    });
    await appendAudit(q, ctx, {
      type: 'device.enroll',
      outcome: 'success',
      actorKind: 'device',
      actor: id,
      device: id,
      details: {
        hostname: body.hostname,
        agentVersion: body.agentVersion,
        status,
        address,
        keyFingerprint: keyFingerprint(body.signingPublicKey),
      },
    });
    return (await findDevice(q, id))!;
  });
  if (result.status === 'revoked')
    throw new LifelineError('device_revoked', 'This device key was revoked; create new keys and enroll again.', 403);
  if (result.encryptionPublicKey !== body.encryptionPublicKey)
    throw new LifelineError('conflict', 'This signing key is enrolled with another encryption key.', 409);
  return {
    v: PROTOCOL_VERSION,
    deviceId: result.id,
    status: result.status,
    serverKeys: serverKeys(ctx),
    serverTime: ctx.clock.now(),
  };
}

async function unusedDeviceId(q: Queryable): Promise<string> {
  for (;;) {
    const id = randomCrockford(DEVICE_ID_LENGTH);
    if (!(await findDevice(q, id))) return id;
  }
}

export type DeviceAuth = { ok: true; device: DeviceRecord; nonce: string } | { ok: false; revoked: DeviceRecord };

/**
 * Checks a signed device request: known device, timestamp within the window, signature over method, path, device,
 * timestamp, nonce and body digest, nonce not seen before. Throws `bad_signature` (401) otherwise; a revoked device
 * that signed correctly is returned as such so the route can answer with the wipe order only.
 */
export async function authenticateDeviceRequest(ctx: ServerContext, r: DeviceRequest): Promise<DeviceAuth> {
  return claimDeviceNonce(ctx, await checkDeviceSignature(ctx, r));
}

export interface DeviceRequest {
  method: string;
  path: string;
  headers: Record<string, unknown>;
  body: unknown;
}

/** A request an enrolled device signed within the time window; its nonce is not yet recorded. */
export interface SignedDeviceRequest {
  device: DeviceRecord;
  nonce: string;
  timestamp: number;
}

/**
 * The first half of authenticateDeviceRequest, which writes nothing: a route can check who signed before it takes
 * anything scarce for the request (the device login's place in the admission gate, http/admission.ts), and record
 * the nonce once it has.
 */
export async function checkDeviceSignature(ctx: ServerContext, r: DeviceRequest): Promise<SignedDeviceRequest> {
  const parsed = DeviceRequestHeadersSchema.safeParse(r.headers);
  if (!parsed.success)
    throw new LifelineError('unauthorized', 'Sign the request with the device key (x-lifeline-* headers).', 401);
  const h = parsed.data;
  const deviceId = h[DEVICE_HEADERS.device];
  const timestamp = h[DEVICE_HEADERS.timestamp];
  const nonce = h[DEVICE_HEADERS.nonce];
  const now = ctx.clock.now();
  const device = await findDevice(ctx.db, deviceId);
  const valid =
    device !== undefined &&
    verifyDeviceRequest(device.signingPublicKey, {
      method: r.method,
      path: r.path,
      deviceId,
      body: r.body,
      timestamp,
      nonce,
      signature: h[DEVICE_HEADERS.signature],
    });
  if (!device || !valid) throw new LifelineError('bad_signature', 'The device signature does not verify.', 401);
  if (Math.abs(now - timestamp) > REQUEST_WINDOW_MS) {
    throw new LifelineError(
      'bad_signature',
      `The request time is more than ${REQUEST_WINDOW_MS / 60_000} minutes from the server's (${new Date(now).toISOString()}).`,
      401,
    );
  }
  return { device, nonce, timestamp };
}

/** The second half: records the nonce (a replay is `bad_signature`) and sees whether the device was revoked. */
export async function claimDeviceNonce(
  ctx: ServerContext,
  { device, nonce, timestamp }: SignedDeviceRequest,
): Promise<DeviceAuth> {
  const deviceId = device.id;
  const now = ctx.clock.now();
  const fresh = await ctx.db.tx(async (q) => {
    await pruneDeviceNonces(q, deviceId, now);
    const inserted = await recordDeviceNonce(q, deviceId, nonce, timestamp + REQUEST_WINDOW_MS);
    if (inserted) await devices.touchDeviceLastSeen(q, deviceId, now);
    return inserted;
  });
  if (!fresh) throw new LifelineError('bad_signature', 'This request was already received (replayed nonce).', 401);
  if (device.status === 'revoked') return { ok: false, revoked: device };
  return { ok: true, device, nonce };
}

export async function setDeviceStatus(
  ctx: ServerContext,
  deviceId: string,
  to: 'approved' | 'revoked',
  admin: string,
): Promise<DeviceRecord> {
  return ctx.db.tx(async (q) => {
    const device = await findDevice(q, deviceId);
    if (!device) throw new LifelineError('not_found', 'No such device.', 404);
    const now = ctx.clock.now();
    if (to === 'approved') {
      if (!(await devices.approvePendingDevice(q, deviceId, admin, now)))
        throw new LifelineError(
          'conflict',
          `The device is ${device.status}; only a pending device can be approved.`,
          409,
        );
    } else {
      if (!(await devices.revokeDevice(q, deviceId, admin, now)))
        throw new LifelineError('conflict', 'The device is already revoked.', 409);
      await retireRevokedDeviceSlots(q, deviceId, now);
    }
    await appendAudit(q, ctx, {
      type: to === 'approved' ? 'device.approve' : 'device.revoke',
      outcome: 'success',
      actorKind: 'admin',
      actor: admin,
      device: deviceId,
      details: { hostname: device.hostname },
    });
    return (await findDevice(q, deviceId))!;
  });
}

export async function listDevices(
  q: Queryable,
  filter: { status?: DeviceStatus; q?: string },
): Promise<DeviceSummary[]> {
  const rows = await devices.listDevices(q, filter);
  if (rows.length === 0) return [];
  const users = await deliveredUsernames(
    q,
    rows.map((d) => d.id),
  );
  return rows.map((d) =>
    toSummary(
      d,
      users.filter((u) => u.deviceId === d.id).map((u) => u.username),
    ),
  );
}

export function toSummary(d: DeviceRecord, users: string[]): DeviceSummary {
  return {
    deviceId: d.id,
    hostname: d.hostname,
    status: d.status,
    agentVersion: d.agentVersion,
    machineIdHash: d.machineIdHash,
    signingKeyFingerprint: keyFingerprint(d.signingPublicKey),
    enrolledAt: d.enrolledAt,
    approvedAt: d.approvedAt,
    approvedBy: d.approvedBy,
    revokedAt: d.revokedAt,
    revokedBy: d.revokedBy,
    lastSeenAt: d.lastSeenAt,
    users,
  };
}
