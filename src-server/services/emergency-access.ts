import { formatCode } from '../../src-shared/codes.js';
import { wipe } from '../../src-shared/crypto/compare.js';
import { LifelineError } from '../../src-shared/errors.js';
import type { EmergencyAccessResponse } from '../../src-shared/protocol/admin.js';
import { decodeEmergencyRequest, SLOT_MODULUS, userTag } from '../../src-shared/protocol/emergency-request.js';
import type { ServerContext } from '../context.js';
import { revealableSlots, revealSlot, slotHolders } from '../db/queries/offline-slots.js';
import { appendAudit } from './audit.js';
import { findDevice } from './devices.js';
import { notifyUser } from './notifier.js';
import { decryptSlotCode } from './offline-slots.js';

/**
 * Offline emergency access (RSA seed 003): the helpdesk types the request the agent shows; the server finds the
 * device and the user, and reveals the first slot, at or after the one the agent asked for, that was delivered to
 * the device and never revealed. Each slot is revealed at most once (guarded UPDATE on revealed_at), with the
 * reason in the audit log and a notification to the user. The agent accepts any of its unused slots, so revealing a
 * later slot than asked (the asked one was revealed before, e.g. a call that broke off) still lets the user in.
 */
export async function revealOfflineEmergencyCode(
  ctx: ServerContext,
  input: { request: string; reason: string; admin: string },
): Promise<EmergencyAccessResponse> {
  const decoded = decodeEmergencyRequest(input.request);
  if (!decoded.ok) {
    const why =
      decoded.error === 'check_failed'
        ? 'Its check character does not match: ask the user to read it again.'
        : 'It is 16 letters and digits.';
    throw new LifelineError('validation_failed', `This is not an offline emergency request. ${why}`, 400);
  }
  const { deviceId, userTag: tag, slot: askedSlot } = decoded.request;
  const device = await findDevice(ctx.db, deviceId);
  if (!device) throw new LifelineError('not_found', 'No device has the id in this request.', 404);
  if (device.status === 'revoked')
    throw new LifelineError('device_revoked', 'This device is revoked; it holds no offline data.', 409);

  const now = ctx.clock.now();
  const holders = await slotHolders(ctx.db, deviceId);
  const matching = holders.filter((u) => userTag(u.username) === tag);
  if (matching.length === 0) throw new LifelineError('not_found', 'No user of this device matches this request.', 404);
  if (matching.length > 1)
    throw new LifelineError(
      'conflict',
      'Several users of this device match this request; reset the device’s offline data.',
      409,
    );
  const user = matching[0]!;

  const candidates = await revealableSlots(ctx.db, deviceId, user.id, now);
  // "At or after the asked slot" modulo the request's slot field, so it holds however high the indexes have grown.
  const atOrAfter = candidates.filter(
    (s) => (s.slotIndex - askedSlot + SLOT_MODULUS) % SLOT_MODULUS < SLOT_MODULUS / 2,
  );
  for (const slot of atOrAfter) {
    const revealed = await ctx.db.tx(async (q) => {
      if (!(await revealSlot(q, slot.id, input.admin, now))) return false; // revealed by a concurrent request: try the next slot
      await appendAudit(q, ctx, {
        type: 'offline.emergency-reveal',
        outcome: 'success',
        actorKind: 'admin',
        actor: input.admin,
        subject: user.username,
        device: deviceId,
        method: 'offline-emergency',
        reason: input.reason,
        details: { slot: slot.slotIndex, askedSlot, expiresAt: slot.expiresAt },
      });
      await notifyUser(q, ctx, {
        userId: user.id,
        username: user.username,
        kind: 'offline-emergency-revealed',
        details: { device: deviceId, hostname: device.hostname, by: input.admin },
      });
      return true;
    });
    if (!revealed) continue;
    const code = decryptSlotCode(ctx, slot);
    try {
      return {
        username: user.username,
        device: deviceId,
        hostname: device.hostname,
        slot: slot.slotIndex,
        code: formatCode(code.toString('utf8')),
        expiresAt: slot.expiresAt,
      };
    } finally {
      wipe(code);
    }
  }
  await appendAudit(ctx.db, ctx, {
    type: 'offline.emergency-reveal',
    outcome: 'failure',
    actorKind: 'admin',
    actor: input.admin,
    subject: user.username,
    device: deviceId,
    reason: 'no_slot_left',
    details: { askedSlot },
  });
  throw new LifelineError(
    'offline_unavailable',
    'No unrevealed offline emergency code is left for this user on this device. Reset the device’s offline data; fresh codes arrive at the next online login.',
    409,
  );
}
