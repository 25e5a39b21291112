import { NodeCryptoPlugin } from '@otplib/plugin-crypto-node';
import { generateSync, ScureBase32Plugin, type HashAlgorithm } from 'otplib';
import { sealBundle } from '../../src-shared/crypto/bundle.js';
import { wipe } from '../../src-shared/crypto/compare.js';
import type { Policy } from '../../src-shared/policy.js';
import type { BundleContent, BundleDelta, BundleHeader, TokenWindows } from '../../src-shared/protocol/bundle.js';
import { PROTOCOL_VERSION } from '../../src-shared/protocol/common.js';
import type { HeldState } from '../../src-shared/protocol/login.js';
import type { ServerContext } from '../context.js';
import { giveUserToDevice, markFirstDelivery, nextBundleSequence } from '../db/queries/device-users.js';
import type { DeviceRecord } from '../db/queries/devices.js';
import { findToken, type TokenRecord } from '../db/queries/tokens.js';
import type { UserRecord } from '../db/queries/users.js';
import { appendAudit } from './audit.js';
import { notifyUser } from './notifier.js';
import { provisionSlots, slotsForBundle } from './offline-slots.js';
import { decryptSecret } from './secrets.js';

/**
 * Bundle deltas (docs/design.md §5): after a token login on an approved device, the windows of the next `offline.days` days
 * the agent does not hold yet, the user's slots for this device and the offline rules, sealed to the device and
 * signed. The cost is in the windows (one HMAC each), so a refresh costs in proportion to the new windows only.
 */
const DAY = 86_400_000;
const cryptoPlugin = new NodeCryptoPlugin();
const base32 = new ScureBase32Plugin();

export interface WindowToken {
  secret: Uint8Array;
  algorithm: TokenWindows['algorithm'];
  digits: 6 | 8;
  period: number;
}

const pluginAlgorithm = (a: TokenWindows['algorithm']): HashAlgorithm =>
  a === 'SHA256' ? 'sha256' : a === 'SHA512' ? 'sha512' : 'sha1';

/**
 * The codes of steps from..to, concatenated. otplib's generateSync re-validates its options on every call, which
 * costs about three times the HMAC itself for 20 000 windows; so each window is otplib's NodeCryptoPlugin HMAC
 * followed by RFC 4226's dynamic truncation, and the first and last window are checked against otplib's own
 * generateSync (the integration tests check them against oathtool too).
 */
export function tokenWindowCodes(t: WindowToken, from: number, to: number): string {
  if (to < from) return '';
  const algorithm = pluginAlgorithm(t.algorithm);
  const modulus = 10 ** t.digits;
  const counter = Buffer.alloc(8);
  const parts: string[] = new Array(to - from + 1);
  for (let step = from; step <= to; step++) {
    counter.writeUInt32BE(Math.floor(step / 2 ** 32), 0);
    counter.writeUInt32BE(step >>> 0, 4);
    const mac = cryptoPlugin.hmac(algorithm, t.secret, counter);
    const offset = mac[mac.length - 1]! & 0x0f;
    const binary =
      ((mac[offset]! & 0x7f) << 24) | (mac[offset + 1]! << 16) | (mac[offset + 2]! << 8) | mac[offset + 3]!;
    parts[step - from] = String(binary % modulus).padStart(t.digits, '0');
  }
  for (const step of new Set([from, to])) {
    const expected = generateSync({
      strategy: 'hotp',
      secret: t.secret,
      counter: step,
      crypto: cryptoPlugin,
      algorithm,
      digits: t.digits,
    });
    if (parts[step - from] !== expected) throw new Error('token window codes disagree with otplib');
  }
  return parts.join('');
}

function asWindowToken(ctx: ServerContext, userId: number, row: TokenRecord): WindowToken {
  const seed = decryptSecret(ctx, `token:${userId}`, row.seedEnc);
  try {
    return {
      secret: base32.decode(seed.toString('utf8')),
      algorithm: row.algorithm === 'SHA256' ? 'SHA256' : row.algorithm === 'SHA512' ? 'SHA512' : 'SHA1',
      digits: row.digits === 8 ? 8 : 6,
      period: row.period,
    };
  } finally {
    wipe(seed);
  }
}

/** Which windows a delta carries: from after the step just used (and after what the agent holds), D days ahead. */
export function windowRange(opts: {
  now: number;
  period: number;
  days: number;
  usedStep: number;
  held?: HeldState;
  user: Pick<UserRecord, 'tokenGeneration' | 'pinGeneration'>;
}): {
  from: number;
  to: number;
  replace: boolean;
} {
  const current = Math.floor(opts.now / 1000 / opts.period);
  const to = current + Math.floor((opts.days * DAY) / 1000 / opts.period);
  const held = opts.held;
  const keep =
    held !== undefined &&
    held.tokenGeneration === opts.user.tokenGeneration &&
    held.pinGeneration === opts.user.pinGeneration;
  const from = Math.max(opts.usedStep + 1, keep ? held.throughStep + 1 : 0);
  return { from, to: Math.max(to, from - 1), replace: !keep };
}

/**
 * giveUserToDevice records that this device holds something of this user's (offline data, or a cached temporary
 * code): from then on its sync may report events for the user and gets the user's resets (services/device-sync.ts).
 */
export { giveUserToDevice };

export async function buildBundleDelta(
  ctx: ServerContext,
  opts: { device: DeviceRecord; user: UserRecord; policy: Policy; usedStep: number; held?: HeldState },
): Promise<BundleDelta | undefined> {
  const { device, user, policy } = opts;
  const tokenRow = await findToken(ctx.db, user.id);
  if (!tokenRow) return undefined;
  const now = ctx.clock.now();
  const token = asWindowToken(ctx, user.id, tokenRow);
  const range = windowRange({
    now,
    period: token.period,
    days: policy.offline.days,
    usedStep: opts.usedStep,
    user,
    ...(opts.held ? { held: opts.held } : {}),
  });
  let codes: string;
  try {
    codes = tokenWindowCodes(token, range.from, range.to); // outside the transaction: it is the slow part
  } finally {
    token.secret.fill(0);
  }

  const { sequence, slots } = await ctx.db.tx(async (q) => {
    await giveUserToDevice(q, device.id, user.id);
    const seq = await nextBundleSequence(q, device.id, user.id, now);
    const first = await markFirstDelivery(q, device.id, user.id, now);
    await provisionSlots(q, ctx, device.id, user, policy, now);
    const slotSet = await slotsForBundle(q, ctx, device.id, user.id, opts.held === undefined, now);
    const windows = range.to - range.from + 1;
    await appendAudit(q, ctx, {
      type: 'device.offline-data',
      outcome: 'success',
      actorKind: 'system',
      subject: user.username,
      device: device.id,
      details: {
        sequence: seq,
        windowsFrom: range.from,
        windowsTo: range.to,
        windows,
        slotsDelivered: slotSet.slots.length,
        replaceWindows: range.replace,
      },
    });
    if (first) {
      await notifyUser(q, ctx, {
        userId: user.id,
        username: user.username,
        kind: 'device-received-offline-data',
        details: { device: device.id, hostname: device.hostname },
      });
    }
    return { sequence: seq, slots: slotSet };
  });

  const header: BundleHeader = {
    v: PROTOCOL_VERSION,
    deviceId: device.id,
    username: user.username,
    sequence,
    issuedAt: now,
    expiresAt: now + policy.offline.maxDaysWithoutContact * DAY,
    pinGeneration: user.pinGeneration,
    tokenGeneration: user.tokenGeneration,
    windowsFrom: range.from,
    windowsTo: range.to,
    replaceWindows: range.replace,
  };
  const content: BundleContent = {
    v: PROTOCOL_VERSION,
    ...(codes.length > 0
      ? {
          tokenWindows: {
            algorithm: token.algorithm,
            digits: token.digits,
            period: token.period,
            firstStep: range.from,
            codes,
          },
        }
      : {}),
    slots: slots.slots,
    activeSlots: slots.active,
    offline: policy.offline,
  };
  return sealBundle({ signing: ctx.keys.signing, devicePublicKey: device.encryptionPublicKey, header, content });
}
