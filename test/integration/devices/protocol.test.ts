import { describe, expect, it } from 'vitest';
import { CROCKFORD_ALPHABET, normalizeCode } from '../../../src-shared/codes.js';
import { generateX25519 } from '../../../src-shared/crypto/box.js';
import { openBundle, sealBundle, verifyBundle } from '../../../src-shared/crypto/bundle.js';
import {
  batchHead,
  chainEvent,
  findChainBreak,
  signBatchHead,
  signDeviceRequest,
  verifyBatchHead,
  verifyDeviceRequest,
} from '../../../src-shared/crypto/device-messages.js';
import { generateEd25519, keyFingerprint } from '../../../src-shared/crypto/sign.js';
import { randomCrockford } from '../../../src-shared/crypto/random.js';
import { DEFAULT_POLICY } from '../../../src-shared/policy.js';
import { windowCode, type BundleContent, type BundleHeader } from '../../../src-shared/protocol/bundle.js';
import { DEVICE_HEADERS } from '../../../src-shared/protocol/device-request.js';
import {
  decodeEmergencyRequest,
  encodeEmergencyRequest,
  formatEmergencyRequest,
  luhn32,
  SLOT_MODULUS,
  userTag,
} from '../../../src-shared/protocol/emergency-request.js';
import { GENESIS_HASH, type SyncEvent } from '../../../src-shared/protocol/sync.js';

describe('offline emergency request format', () => {
  const deviceId = '7K3MQ9XD2B';

  it('round-trips device, user tag and slot through display formatting and normalisation', () => {
    const req = encodeEmergencyRequest({ deviceId, username: 'élodie.dupont@example.com', slot: 3 });
    expect(req).toHaveLength(16);
    const shown = formatEmergencyRequest(req);
    expect(shown).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    // typed back in lower case with spaces and O/I confusions
    const typed = shown.toLowerCase().replace(/-/g, ' ').replace(/0/g, 'o').replace(/1/g, 'l');
    const decoded = decodeEmergencyRequest(typed);
    expect(decoded).toEqual({
      ok: true,
      request: { deviceId, userTag: userTag('élodie.dupont@example.com'), slot: 3 },
    });
  });

  it('survives any username, including ones with symbols and non-Latin letters', () => {
    for (const username of ['a', "o'brien", 'ivan.ivanov@пример.рф', '李雷', 'x'.repeat(128), 'user name']) {
      const decoded = decodeEmergencyRequest(encodeEmergencyRequest({ deviceId, username, slot: 7 }));
      expect(decoded.ok && decoded.request.userTag === userTag(username)).toBe(true);
    }
  });

  it('carries the slot modulo SLOT_MODULUS', () => {
    const decoded = decodeEmergencyRequest(
      encodeEmergencyRequest({ deviceId, username: 'bob', slot: SLOT_MODULUS + 5 }),
    );
    expect(decoded.ok && decoded.request.slot).toBe(5);
  });

  it("detects every single wrong symbol and every adjacent swap but Luhn's 0/Z", () => {
    const req = encodeEmergencyRequest({ deviceId, username: 'alice', slot: 1 });
    let checked = 0;
    for (let i = 0; i < req.length; i++) {
      for (const c of CROCKFORD_ALPHABET) {
        if (c === req[i]) continue;
        const changed = req.slice(0, i) + c + req.slice(i + 1);
        expect(decodeEmergencyRequest(changed).ok).toBe(false);
        checked++;
      }
      const pair = `${req[i]}${req[i + 1]}`;
      if (i + 1 < req.length && req[i] !== req[i + 1] && pair !== '0Z' && pair !== 'Z0') {
        const swapped = req.slice(0, i) + req[i + 1] + req[i] + req.slice(i + 2);
        expect(decodeEmergencyRequest(swapped)).toEqual({ ok: false, error: 'check_failed' });
      }
    }
    expect(checked).toBe(16 * 31);
  });

  it('refuses wrong lengths and non-Crockford symbols as malformed', () => {
    expect(decodeEmergencyRequest('7K3M-Q9XD')).toEqual({ ok: false, error: 'malformed' });
    expect(decodeEmergencyRequest('UUUU-UUUU-UUUU-UUUU')).toEqual({ ok: false, error: 'malformed' });
    const body = randomCrockford(15);
    expect(normalizeCode(body + luhn32(body))).toHaveLength(16);
  });
});

describe('bundle deltas', () => {
  const server = generateEd25519();
  const signing = { privateKey: server.privateKey, fingerprint: keyFingerprint(server.publicKey) };
  const pinned = [{ publicKey: server.publicKey, fingerprint: signing.fingerprint }];
  const device = generateX25519();
  const header: BundleHeader = {
    v: 1,
    deviceId: 'AAAAABBBBB',
    username: 'alice',
    sequence: 4,
    issuedAt: 1000,
    expiresAt: 2000,
    pinGeneration: 1,
    tokenGeneration: 2,
    windowsFrom: 10,
    windowsTo: 12,
    replaceWindows: false,
  };
  const content: BundleContent = {
    v: 1,
    tokenWindows: { algorithm: 'SHA1', digits: 6, period: 30, firstStep: 10, codes: '111111222222333333' },
    slots: [{ index: 0, code: 'ABCDEFGHJKMN', expiresAt: 5000 }],
    activeSlots: [0],
    offline: DEFAULT_POLICY.offline,
  };
  const delta = sealBundle({ signing, devicePublicKey: device.publicKey, header, content });

  it('verifies with the server key and opens with the device key', () => {
    const checked = verifyBundle(JSON.parse(JSON.stringify(delta)), {
      pinned,
      deviceId: 'AAAAABBBBB',
      username: 'alice',
      lastSequence: 3,
      now: 1500,
    });
    expect(checked.ok).toBe(true);
    const opened = openBundle(delta, device);
    expect(opened).toEqual(content);
    expect(windowCode(opened.tokenWindows!, 11)).toBe('222222');
    expect(windowCode(opened.tokenWindows!, 13)).toBeUndefined();
  });

  it('rejects a changed byte, another key, an old sequence, another device or user, and expiry', () => {
    const flipped = structuredClone(delta);
    const ct = Buffer.from(flipped.box.ciphertext, 'base64url');
    ct[ct.length - 1]! ^= 1;
    flipped.box.ciphertext = ct.toString('base64url');
    expect(verifyBundle(flipped, { pinned, deviceId: 'AAAAABBBBB' })).toEqual({ ok: false, error: 'bad_signature' });
    const headerChanged = structuredClone(delta);
    headerChanged.header.windowsTo = 99;
    expect(verifyBundle(headerChanged, { pinned, deviceId: 'AAAAABBBBB' })).toEqual({
      ok: false,
      error: 'bad_signature',
    });
    const other = generateEd25519();
    const forged = sealBundle({
      signing: { privateKey: other.privateKey, fingerprint: signing.fingerprint },
      devicePublicKey: device.publicKey,
      header,
      content,
    });
    expect(verifyBundle(forged, { pinned, deviceId: 'AAAAABBBBB' })).toEqual({ ok: false, error: 'bad_signature' });
    expect(
      verifyBundle(delta, {
        pinned: [{ publicKey: other.publicKey, fingerprint: keyFingerprint(other.publicKey) }],
        deviceId: 'AAAAABBBBB',
      }),
    ).toEqual({ ok: false, error: 'unknown_key' });
    expect(verifyBundle(delta, { pinned, deviceId: 'AAAAABBBBB', lastSequence: 4 })).toEqual({
      ok: false,
      error: 'stale_sequence',
    });
    expect(verifyBundle(delta, { pinned, deviceId: 'CCCCCDDDDD' })).toEqual({ ok: false, error: 'wrong_device' });
    expect(verifyBundle(delta, { pinned, deviceId: 'AAAAABBBBB', username: 'bob' })).toEqual({
      ok: false,
      error: 'wrong_user',
    });
    expect(verifyBundle(delta, { pinned, deviceId: 'AAAAABBBBB', now: 2000 })).toEqual({ ok: false, error: 'expired' });
    expect(verifyBundle({ ...delta, extra: 1 }, { pinned, deviceId: 'AAAAABBBBB' })).toEqual({
      ok: false,
      error: 'malformed',
    });
  });

  it('does not open with another device key or under another header', () => {
    expect(() => openBundle(delta, generateX25519())).toThrow();
    expect(() => openBundle({ ...delta, header: { ...header, sequence: 5 } }, device)).toThrow();
  });
});

describe('device request signatures and the outbox chain', () => {
  const dev = generateEd25519();

  it('a request signature covers method, path, device, time, nonce and body', () => {
    const parts = { method: 'POST', path: '/api/v1/devices/sync', deviceId: 'AAAAABBBBB', body: { b: 1, a: [1, 2] } };
    const h = signDeviceRequest(dev.privateKey, parts, 1234);
    const base = {
      ...parts,
      timestamp: 1234,
      nonce: h[DEVICE_HEADERS.nonce]!,
      signature: h[DEVICE_HEADERS.signature]!,
    };
    expect(verifyDeviceRequest(dev.publicKey, { ...base, body: { a: [1, 2], b: 1 } })).toBe(true);
    expect(verifyDeviceRequest(dev.publicKey, { ...base, body: { a: [1, 2], b: 2 } })).toBe(false);
    expect(verifyDeviceRequest(dev.publicKey, { ...base, path: '/api/v1/devices/login' })).toBe(false);
    expect(verifyDeviceRequest(dev.publicKey, { ...base, timestamp: 1235 })).toBe(false);
    expect(verifyDeviceRequest(dev.publicKey, { ...base, deviceId: 'AAAAABBBBC' })).toBe(false);
    expect(verifyDeviceRequest(generateEd25519().publicKey, base)).toBe(false);
  });

  it('detects an edited, dropped or reordered event, and the batch head signature covers the chain', () => {
    const events: SyncEvent[] = [];
    let prev = GENESIS_HASH;
    for (let seq = 1; seq <= 3; seq++) {
      const e = chainEvent(prev, {
        id: crypto.randomUUID(),
        seq,
        at: 1000 * seq,
        type: 'offline-failure',
        username: 'alice',
        reason: 'invalid_code',
      });
      events.push(e);
      prev = e.hash;
    }
    expect(findChainBreak(events)).toBe(-1);
    expect(findChainBreak([events[0]!, events[2]!])).toBe(1);
    expect(findChainBreak([{ ...events[0]!, at: 1 }, ...events.slice(1)])).toBe(0);
    const head = batchHead('AAAAABBBBB', events);
    const sig = signBatchHead(dev.privateKey, head);
    expect(verifyBatchHead(dev.publicKey, head, sig)).toBe(true);
    expect(verifyBatchHead(dev.publicKey, { ...head, count: 2 }, sig)).toBe(false);
  });
});
