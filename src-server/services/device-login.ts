import type { DeviceLoginRequest } from '../../src-shared/protocol/login.js';
import { PROTOCOL_VERSION, SIGNATURE_DOMAINS } from '../../src-shared/protocol/common.js';
import type { ServerContext } from '../context.js';
import type { DeviceRecord } from '../db/queries/devices.js';
import { buildBundleDelta, giveUserToDevice } from './bundles.js';
import { signed } from './devices.js';
import { onlineSlotCandidates } from './offline-slots.js';
import { loadSettings, policyForUser } from './policy.js';
import { verifyCode, type VerifyResult } from './verification.js';

/**
 * The online login at an agent (`POST /api/v1/devices/login`, docs/protocol.md), for a device whose signature and
 * nonce the route has checked: one verifyCode (an offline emergency code online too, when the policy allows it),
 * then the signed login result and, after the user's normal token on an approved device, the bundle delta.
 * A refusal is verifyCode's, for the route to answer with.
 */
export async function deviceLogin(ctx: ServerContext, device: DeviceRecord, nonce: string, body: DeviceLoginRequest) {
  const r = await verifyCode(ctx, {
    username: body.username,
    code: body.code,
    ...(body.pin !== undefined ? { pin: body.pin } : {}),
    purpose: body.purpose,
    channel: { kind: 'device', id: device.id },
    device: device.id,
    extraCandidates: onlineSlotCandidates(ctx),
  });
  if (!r.ok) return r;
  return loginAnswer(ctx, device, nonce, body, r);
}

/** After a success: the code is spent, so under load this waits for connections rather than fail without its bundle. */
function loginAnswer(
  ctx: ServerContext,
  device: DeviceRecord,
  nonce: string,
  body: DeviceLoginRequest,
  r: Extract<VerifyResult, { ok: true }>,
) {
  return ctx.db.patiently(async () => {
    const [policy, settings] = await Promise.all([policyForUser(ctx.db, r.user), loadSettings(ctx.db)]);
    const deviceStatus = device.status === 'approved' ? 'approved' : 'pending';
    // An approved agent caches a multi-use temporary code's verifier: its syncs must then get this user's resets.
    if (r.method === 'temporary' && deviceStatus === 'approved') await giveUserToDevice(ctx.db, device.id, r.user.id);
    const result = signed(ctx, SIGNATURE_DOMAINS.loginResult, {
      v: PROTOCOL_VERSION,
      deviceId: device.id,
      requestNonce: nonce,
      username: r.user.username,
      method: r.method,
      purpose: body.purpose,
      ...(r.temporary ? { temporary: r.temporary } : {}),
      pinGeneration: r.user.pinGeneration,
      deviceStatus,
      serverTime: ctx.clock.now(),
    } as const);
    // Offline data only after the user's normal token, on a device an admin approved (or the policy trusts).
    const eligible =
      r.method === 'token' &&
      r.tokenStep !== undefined &&
      policy.offline.allowed &&
      settings.offlineEnabled &&
      (deviceStatus === 'approved' || !policy.offline.devicesNeedApproval);
    const bundle = eligible
      ? await buildBundleDelta(ctx, {
          device,
          user: r.user,
          policy,
          usedStep: r.tokenStep!,
          ...(body.held ? { held: body.held } : {}),
        })
      : undefined;
    return { ok: true as const, result, ...(bundle ? { bundle } : {}) };
  });
}
