import { normalizeCode } from '../../src-shared/codes.js';
import { constantTimeEqual } from '../../src-shared/crypto/compare.js';
import { signServerMessage, verifyDeviceRequest, verifyEnrollProof } from '../../src-shared/crypto/device-messages.js';
import { randomCrockford, randomToken } from '../../src-shared/crypto/random.js';
import { keyFingerprint } from '../../src-shared/crypto/sign.js';
import { LifelineError } from '../../src-shared/errors.js';
import { DEVICE_ID_LENGTH, PROTOCOL_VERSION, SIGNATURE_DOMAINS, type ServerKey, type Signed } from '../../src-shared/protocol/common.js';
import { DEVICE_HEADERS, DeviceRequestHeadersSchema, REQUEST_WINDOW_MS } from '../../src-shared/protocol/device-request.js';
import type { DeviceStatus, EnrollRequest, EnrollResponse } from '../../src-shared/protocol/enroll.js';
import type { DeviceSummary } from '../../src-shared/protocol/admin.js';
import type { KeyRotation, WipeOrder } from '../../src-shared/protocol/sync.js';
import type { ServerContext } from '../context.js';
import type { Param, Queryable } from '../db/port.js';
import { appendAudit } from './audit.js';
import { policyForUser } from './policy.js';
import { hitRateLimit } from './rate-limit.js';
import { decryptSecret, encryptSecret } from './secrets.js';

/**
 * Devices (agents): enrollment with the enrollment secret, approval and revocation by admins, and the
 * authentication of every later request by the device's Ed25519 key with a timestamp window and a nonce table
 * (docs/protocol.md). A revoked device is answered with a signed wipe order and nothing else.
 */
export interface DeviceRow {
  id: string;
  signing_public_key: string;
  encryption_public_key: string;
  machine_id_hash: string;
  hostname: string;
  agent_version: string;
  status: DeviceStatus;
  enrolled_at: number;
  approved_at: number | null;
  approved_by: string | null;
  revoked_at: number | null;
  revoked_by: string | null;
  last_seen_at: number | null;
  chain_seq: number;
  chain_head: string;
}

const ENROLLMENT_SECRET_AAD = 'enrollment-secret';
const ENROLL_ATTEMPTS_PER_HOUR = 30;

/** The enrollment secret IT configures into installers; created on first need (a race creates it once). */
export async function enrollmentSecret(ctx: ServerContext): Promise<string> {
  const existing = await ctx.db.get<{ secret_enc: Buffer }>('SELECT secret_enc FROM device_enrollment WHERE id = 1');
  if (existing) return decryptSecret(ctx, ENROLLMENT_SECRET_AAD, existing.secret_enc).toString('utf8');
  const fresh = Buffer.from(randomToken(24), 'utf8');
  await ctx.db.run('INSERT INTO device_enrollment (id, secret_enc, created_at) VALUES (1, ?, ?) ON CONFLICT (id) DO NOTHING', [
    encryptSecret(ctx, ENROLLMENT_SECRET_AAD, fresh),
    ctx.clock.now(),
  ]);
  fresh.fill(0);
  return enrollmentSecret(ctx);
}

export function serverKeys(ctx: ServerContext): ServerKey[] {
  return ctx.keys.allSigningKeys.map((k) => ({ publicKey: k.publicKey, fingerprint: k.fingerprint }));
}

export function signed<T>(ctx: ServerContext, domain: (typeof SIGNATURE_DOMAINS)[keyof typeof SIGNATURE_DOMAINS], payload: T): Signed<T> {
  return signServerMessage(ctx.keys.signing, domain, payload);
}

export function keyRotationMessage(ctx: ServerContext): Signed<KeyRotation> {
  const [current, ...accepted] = serverKeys(ctx);
  return signed(ctx, SIGNATURE_DOMAINS.keyRotation, { v: PROTOCOL_VERSION, current: current!, accepted, issuedAt: ctx.clock.now() });
}

export function wipeOrder(ctx: ServerContext, deviceId: string): Signed<WipeOrder> {
  return signed(ctx, SIGNATURE_DOMAINS.wipe, { v: PROTOCOL_VERSION, deviceId, reason: 'device-revoked', issuedAt: ctx.clock.now() });
}

export async function findDevice(q: Queryable, id: string): Promise<DeviceRow | undefined> {
  return q.get<DeviceRow>('SELECT * FROM devices WHERE id = ?', [id]);
}

export async function requireDevice(q: Queryable, id: string): Promise<DeviceRow> {
  const d = await findDevice(q, id);
  if (!d) throw new LifelineError('not_found', 'No such device.', 404);
  return d;
}

/** New devices wait for an admin unless the default policy approves them automatically or does not ask for it. */
async function initialStatus(q: Queryable): Promise<'pending' | 'approved'> {
  const policy = await policyForUser(q, { policy_id: null });
  return policy.autoApproveDevices || !policy.offline.devicesNeedApproval ? 'approved' : 'pending';
}

export async function enrollDevice(ctx: ServerContext, body: EnrollRequest, address: string): Promise<EnrollResponse> {
  const limit = await hitRateLimit(ctx.db, `device-enroll:${address}`, ENROLL_ATTEMPTS_PER_HOUR, 3_600_000, ctx.clock.now());
  if (!limit.allowed) throw new LifelineError('rate_limited', 'Too many enrollment attempts from this address.', 429, { retryAfterSeconds: limit.retryAfterSeconds });
  const expected = await enrollmentSecret(ctx);
  if (!constantTimeEqual(body.enrollmentSecret, expected)) {
    await appendAudit(ctx.db, ctx, { type: 'device.enroll', outcome: 'failure', actorKind: 'device', reason: 'wrong_enrollment_secret', details: { hostname: body.hostname, address } });
    throw new LifelineError('unauthorized', 'The enrollment secret is not this server’s.', 401);
  }
  if (!verifyEnrollProof(body)) throw new LifelineError('bad_signature', 'The enrollment proof does not verify with the signing key.', 401);

  const result = await ctx.db.tx(async (q) => {
    const existing = await q.get<DeviceRow>('SELECT * FROM devices WHERE signing_public_key = ?', [body.signingPublicKey]);
    if (existing) return existing;
    const status = await initialStatus(q);
    const now = ctx.clock.now();
    const id = await unusedDeviceId(q);
    await q.run(
      `INSERT INTO devices (id, signing_public_key, encryption_public_key, machine_id_hash, hostname, agent_version, status, enrolled_at, approved_at, approved_by)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [id, body.signingPublicKey, body.encryptionPublicKey, body.machineIdHash, body.hostname, body.agentVersion, status, now, status === 'approved' ? now : null, status === 'approved' ? 'policy' : null],
    );
    await appendAudit(q, ctx, {
      type: 'device.enroll',
      outcome: 'success',
      actorKind: 'device',
      actor: id,
      device: id,
      details: { hostname: body.hostname, agentVersion: body.agentVersion, status, address, keyFingerprint: keyFingerprint(body.signingPublicKey) },
    });
    return (await findDevice(q, id))!;
  });
  if (result.status === 'revoked') throw new LifelineError('device_revoked', 'This device key was revoked; create new keys and enroll again.', 403);
  if (result.encryption_public_key !== body.encryptionPublicKey) throw new LifelineError('conflict', 'This signing key is enrolled with another encryption key.', 409);
  return { v: PROTOCOL_VERSION, deviceId: result.id, status: result.status, serverKeys: serverKeys(ctx), serverTime: ctx.clock.now() };
}

async function unusedDeviceId(q: Queryable): Promise<string> {
  for (;;) {
    const id = randomCrockford(DEVICE_ID_LENGTH);
    if (!(await findDevice(q, id))) return id;
  }
}

export type DeviceAuth = { ok: true; device: DeviceRow; nonce: string } | { ok: false; revoked: DeviceRow };

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
  device: DeviceRow;
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
  if (!parsed.success) throw new LifelineError('unauthorized', 'Sign the request with the device key (x-lifeline-* headers).', 401);
  const h = parsed.data;
  const deviceId = h[DEVICE_HEADERS.device];
  const timestamp = h[DEVICE_HEADERS.timestamp];
  const nonce = h[DEVICE_HEADERS.nonce];
  const now = ctx.clock.now();
  const device = await findDevice(ctx.db, deviceId);
  const valid =
    device !== undefined &&
    verifyDeviceRequest(device.signing_public_key, { method: r.method, path: r.path, deviceId, body: r.body, timestamp, nonce, signature: h[DEVICE_HEADERS.signature] });
  if (!device || !valid) throw new LifelineError('bad_signature', 'The device signature does not verify.', 401);
  if (Math.abs(now - timestamp) > REQUEST_WINDOW_MS) {
    throw new LifelineError('bad_signature', `The request time is more than ${REQUEST_WINDOW_MS / 60_000} minutes from the server's (${new Date(now).toISOString()}).`, 401);
  }
  return { device, nonce, timestamp };
}

/** The second half: records the nonce (a replay is `bad_signature`) and sees whether the device was revoked. */
export async function claimDeviceNonce(ctx: ServerContext, { device, nonce, timestamp }: SignedDeviceRequest): Promise<DeviceAuth> {
  const deviceId = device.id;
  const now = ctx.clock.now();
  const fresh = await ctx.db.tx(async (q) => {
    await q.run('DELETE FROM device_nonces WHERE device_id = ? AND expires_at < ?', [deviceId, now]);
    const inserted = await q.run('INSERT INTO device_nonces (device_id, nonce, expires_at) VALUES (?, ?, ?) ON CONFLICT (device_id, nonce) DO NOTHING', [
      deviceId,
      nonce,
      timestamp + REQUEST_WINDOW_MS,
    ]);
    if (inserted.changes === 1) await q.run('UPDATE devices SET last_seen_at = ? WHERE id = ?', [now, deviceId]);
    return inserted.changes === 1;
  });
  if (!fresh) throw new LifelineError('bad_signature', 'This request was already received (replayed nonce).', 401);
  if (device.status === 'revoked') return { ok: false, revoked: device };
  return { ok: true, device, nonce };
}

export async function setDeviceStatus(ctx: ServerContext, deviceId: string, to: 'approved' | 'revoked', admin: string): Promise<DeviceRow> {
  return ctx.db.tx(async (q) => {
    const device = await findDevice(q, deviceId);
    if (!device) throw new LifelineError('not_found', 'No such device.', 404);
    const now = ctx.clock.now();
    if (to === 'approved') {
      const r = await q.run("UPDATE devices SET status = 'approved', approved_at = ?, approved_by = ? WHERE id = ? AND status = 'pending'", [now, admin, deviceId]);
      if (r.changes === 0) throw new LifelineError('conflict', `The device is ${device.status}; only a pending device can be approved.`, 409);
    } else {
      const r = await q.run("UPDATE devices SET status = 'revoked', revoked_at = ?, revoked_by = ? WHERE id = ? AND status <> 'revoked'", [now, admin, deviceId]);
      if (r.changes === 0) throw new LifelineError('conflict', 'The device is already revoked.', 409);
      await q.run("UPDATE offline_slots SET retired_at = ?, retire_reason = 'device-revoked' WHERE device_id = ? AND retired_at IS NULL", [now, deviceId]);
    }
    await appendAudit(q, ctx, { type: to === 'approved' ? 'device.approve' : 'device.revoke', outcome: 'success', actorKind: 'admin', actor: admin, device: deviceId, details: { hostname: device.hostname } });
    return (await findDevice(q, deviceId))!;
  });
}

export async function listDevices(q: Queryable, filter: { status?: DeviceStatus; q?: string }): Promise<DeviceSummary[]> {
  const where: string[] = [];
  const params: Param[] = [];
  if (filter.status) {
    where.push('status = ?');
    params.push(filter.status);
  }
  if (filter.q) {
    where.push('(id = ? OR lower(hostname) LIKE ?)');
    params.push(normalizeCode(filter.q), `%${filter.q.toLowerCase().replace(/[%_]/g, '')}%`);
  }
  const rows = await q.all<DeviceRow>(`SELECT * FROM devices ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY enrolled_at DESC LIMIT 500`, params);
  if (rows.length === 0) return [];
  const users = await q.all<{ device_id: string; username: string }>(
    `SELECT du.device_id, u.username FROM device_users du JOIN users u ON u.id = du.user_id
     WHERE du.first_delivered_at IS NOT NULL AND du.device_id IN (${rows.map(() => '?').join(',')}) ORDER BY u.username`,
    rows.map((d) => d.id),
  );
  return rows.map((d) => toSummary(d, users.filter((u) => u.device_id === d.id).map((u) => u.username)));
}

export function toSummary(d: DeviceRow, users: string[]): DeviceSummary {
  const n = (v: number | null) => (v === null ? null : Number(v));
  return {
    deviceId: d.id,
    hostname: d.hostname,
    status: d.status,
    agentVersion: d.agent_version,
    machineIdHash: d.machine_id_hash,
    signingKeyFingerprint: keyFingerprint(d.signing_public_key),
    enrolledAt: Number(d.enrolled_at),
    approvedAt: n(d.approved_at),
    approvedBy: d.approved_by,
    revokedAt: n(d.revoked_at),
    revokedBy: d.revoked_by,
    lastSeenAt: n(d.last_seen_at),
    users,
  };
}
