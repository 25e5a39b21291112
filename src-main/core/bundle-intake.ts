import { normalizeCode } from '../../src-shared/codes.js';
import type { X25519KeyPair } from '../../src-shared/crypto/box.js';
import { openBundle, verifyBundle } from '../../src-shared/crypto/bundle.js';
import type { BundleContent, BundleDelta, LoginResult } from '../../src-shared/protocol/index.js';
import { meetsVerifierFloor, type VerifierCost } from '../../src-shared/verifier-floor.js';
import type { OpenStore } from './local-store.js';
import type { AgentLogger, Clock } from './ports.js';
import { newUserRecord, type UserRecord } from './user-record.js';
import type { BuildJob } from './verifier-builder.js';
import { computeVerifier } from './verifier-hash.js';

/**
 * What an approved online sign-in leaves for offline use: the typed temporary code as a PIN-bound verifier, and the
 * bundle delta the server sent, checked, applied and turned into a job for the background verifier builder.
 */
export class BundleIntake {
  constructor(
    private readonly clock: Clock,
    private readonly log: AgentLogger,
    /** The least verifier cost a bundle may ask for. */
    private readonly verifierFloor: VerifierCost,
  ) {}

  /**
   * A multi-use temporary code typed at an online login becomes a PIN-bound verifier until it expires; a single-use
   * one was used up by that very login, and it replaced any earlier code, so the cached one goes.
   */
  async cacheTemporary(open: OpenStore, r: LoginResult, pin: string, code: string): Promise<void> {
    const { store, users, verifiers } = open;
    const ref = users.ref(r.username);
    const existing = users.get(ref);
    const record = existing ?? newUserRecord(r.username, {});
    if (!record.offline.allowed) return;
    const multiUse = r.temporary?.multiUse === true && r.temporary.expiresAt > this.clock.now();
    let hash: Buffer | undefined;
    if (multiUse) {
      const pinBuf = Buffer.from(pin, 'utf8');
      const codeBuf = Buffer.from(normalizeCode(code), 'utf8');
      hash = await computeVerifier(
        { kind: 'temporary', position: 0, username: r.username, deviceId: r.deviceId, pin: pinBuf, code: codeBuf },
        record.offline.verifierScrypt,
      );
      pinBuf.fill(0);
      codeBuf.fill(0);
    }
    await store.commit(() => {
      verifiers.removeUpTo(ref, 'temporary');
      if (hash)
        verifiers.put(ref, 'temporary', 0, {
          hash: hash.toString('base64url'),
          expiresAt: r.temporary!.expiresAt,
          scrypt: record.offline.verifierScrypt,
        });
      // The verifier is bound to the PIN of this generation; a user known here only by temporary codes learns it now,
      // so a later PIN change arrives as a reset. (A user with offline data has it from the bundle already.)
      const pinGeneration = record.pinGeneration ?? r.pinGeneration ?? null;
      users.put(ref, { ...record, pinGeneration, temporaryExpiresAt: hash ? r.temporary!.expiresAt : null });
    });
    hash?.fill(0);
  }

  /** Checks a bundle delta (pinned key, this device, this user, a newer sequence, not expired), applies it, and queues the hashing. */
  async acceptBundle(
    open: OpenStore,
    box: X25519KeyPair,
    bundle: BundleDelta,
    r: LoginResult,
    pin: string,
  ): Promise<boolean> {
    const { store, users, verifiers } = open;
    const ref = users.ref(r.username);
    const existing = users.get(ref);
    const checked = verifyBundle(bundle, {
      pinned: open.state.device().serverKeys,
      deviceId: r.deviceId,
      username: r.username,
      lastSequence: existing?.lastSequence ?? 0,
      now: this.clock.now(),
    });
    if (!checked.ok) {
      this.log.warn('[bundle] refused a bundle delta', { reason: checked.error });
      return false;
    }
    let content: BundleContent;
    try {
      content = openBundle(checked.delta, box);
    } catch {
      this.log.warn("[bundle] a signed bundle delta did not open with this device's key");
      return false;
    }
    // Whatever the server sent, verifiers are never made cheaper to attack than the floor this agent ships with.
    if (!meetsVerifierFloor(content.offline.verifierScrypt, this.verifierFloor)) {
      this.log.warn('[bundle] refused a bundle whose verifier parameters are below the floor', {
        N: content.offline.verifierScrypt.N,
        r: content.offline.verifierScrypt.r,
      });
      content.slots.length = 0;
      if (content.tokenWindows) content.tokenWindows.codes = '';
      return false;
    }
    const { header } = checked.delta;
    const base = existing ?? newUserRecord(r.username, content.offline);
    const tokenChanged = base.tokenGeneration !== header.tokenGeneration;
    const pinChanged = base.pinGeneration !== header.pinGeneration;
    const record: UserRecord = {
      ...base,
      offline: content.offline,
      lastSequence: header.sequence,
      bundleExpiresAt: header.expiresAt,
      pinGeneration: header.pinGeneration,
      tokenGeneration: header.tokenGeneration,
      ...(content.tokenWindows
        ? { periodSeconds: content.tokenWindows.period, digits: content.tokenWindows.digits }
        : {}),
    };
    if (header.replaceWindows || tokenChanged || pinChanged) record.windowsUntil = null;
    if (content.tokenWindows && header.windowsTo >= header.windowsFrom)
      record.windowsUntil = Math.max(record.windowsUntil ?? -1, header.windowsTo);
    await store.commit(() => {
      if (header.replaceWindows || tokenChanged || pinChanged) verifiers.removeUpTo(ref, 'token');
      // A PIN change voids the cached temporary code too (it is PIN-bound); slots are not.
      if (pinChanged && existing) verifiers.removeUpTo(ref, 'temporary');
      const active = new Set(content.activeSlots);
      for (const position of verifiers.positions(ref, 'slot'))
        if (!active.has(position)) verifiers.remove(ref, 'slot', position);
      users.put(ref, record);
    });
    const job = buildJob(r, ref, record, content, pin, this.clock.now());
    content.slots.length = 0;
    if (content.tokenWindows) content.tokenWindows.codes = '';
    if (!job) return false;
    open.builder.enqueue(job);
    return true;
  }
}

function buildJob(
  r: LoginResult,
  ref: string,
  record: UserRecord,
  content: BundleContent,
  pin: string,
  now: number,
): BuildJob | undefined {
  const slots = content.slots.map((s) => ({
    index: s.index,
    code: Buffer.from(normalizeCode(s.code), 'utf8'),
    expiresAt: s.expiresAt,
  }));
  let windows: { firstStep: number; digits: number; codes: Buffer } | undefined;
  const t = content.tokenWindows;
  if (t && t.codes.length > 0) {
    // Windows already in the past are useless offline: start from the one before the current (drift −1).
    const current = Math.floor(now / 1000 / t.period);
    const from = Math.max(t.firstStep, current - 1, (record.burnedThrough ?? -1) + 1);
    const skip = (from - t.firstStep) * t.digits;
    if (skip < t.codes.length)
      windows = { firstStep: from, digits: t.digits, codes: Buffer.from(t.codes.slice(skip), 'utf8') };
  }
  if (slots.length === 0 && !windows) return undefined;
  return {
    ref,
    username: r.username,
    deviceId: r.deviceId,
    sequence: record.lastSequence,
    pin: Buffer.from(pin, 'utf8'),
    scrypt: record.offline.verifierScrypt,
    slots,
    ...(windows ? { windows } : {}),
  };
}
