import { createHash } from 'node:crypto';
import { canonicalJson } from '../canonical.js';
import {
  PROTOCOL_VERSION,
  SIGNATURE_DOMAINS,
  type ServerKey,
  type Signed,
  type SignatureDomain,
} from '../protocol/common.js';
import { DEVICE_HEADERS, deviceRequestPayload } from '../protocol/device-request.js';
import { enrollProofPayload, type EnrollRequest } from '../protocol/enroll.js';
import { GENESIS_HASH, type SyncBatchHead, type SyncEvent, type SyncEventBody } from '../protocol/sync.js';
import { randomBytes } from './random.js';
import { signingInput, signPayload, verifyPayload } from './sign.js';

/**
 * The signatures and hashes of the agent protocol (docs/protocol.md), in one place so the server and the agent
 * cannot drift apart: device request signing, the enrollment proof, the outbox hash chain and batch signature, and
 * server-signed messages verified against the agent's pinned keys.
 */
export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** SHA-256 of the canonical JSON of a request body ('' when there is none): signatures survive re-serialisation. */
export function bodyDigest(body: unknown): string {
  return sha256Hex(body === undefined || body === null ? '' : canonicalJson(body));
}

export interface DeviceRequestParts {
  method: string;
  path: string;
  deviceId: string;
  body: unknown;
}

/** The headers an agent sends with a signed request. */
export function signDeviceRequest(
  privateKey: string,
  r: DeviceRequestParts,
  now: number,
  nonce = randomBytes(16).toString('base64url'),
): Record<string, string> {
  const payload = deviceRequestPayload({
    method: r.method,
    path: r.path,
    deviceId: r.deviceId,
    timestamp: now,
    nonce,
    bodySha256: bodyDigest(r.body),
  });
  return {
    [DEVICE_HEADERS.device]: r.deviceId,
    [DEVICE_HEADERS.timestamp]: String(now),
    [DEVICE_HEADERS.nonce]: nonce,
    [DEVICE_HEADERS.signature]: signPayload(privateKey, SIGNATURE_DOMAINS.request, PROTOCOL_VERSION, payload),
  };
}

export function verifyDeviceRequest(
  publicKey: string,
  r: DeviceRequestParts & { timestamp: number; nonce: string; signature: string },
): boolean {
  const payload = deviceRequestPayload({
    method: r.method,
    path: r.path,
    deviceId: r.deviceId,
    timestamp: r.timestamp,
    nonce: r.nonce,
    bodySha256: bodyDigest(r.body),
  });
  return verifyPayload(publicKey, r.signature, SIGNATURE_DOMAINS.request, PROTOCOL_VERSION, payload);
}

export function signEnrollProof(privateKey: string, r: Omit<EnrollRequest, 'proof' | 'enrollmentSecret'>): string {
  return signPayload(privateKey, SIGNATURE_DOMAINS.enroll, PROTOCOL_VERSION, enrollProofPayload(r));
}

export function verifyEnrollProof(r: EnrollRequest): boolean {
  return verifyPayload(r.signingPublicKey, r.proof, SIGNATURE_DOMAINS.enroll, PROTOCOL_VERSION, enrollProofPayload(r));
}

/** hash = SHA-256("lifeline/sync-event/v1\n" ‖ canonicalJson(event without hash, with prevHash)). */
export function eventHash(prevHash: string, body: SyncEventBody): string {
  const { hash: _ignored, ...rest } = body as SyncEventBody & { hash?: string };
  return sha256Hex(signingInput(SIGNATURE_DOMAINS.syncEvent, PROTOCOL_VERSION, { ...rest, prevHash }));
}

/** Links one new event after `prevHash` (GENESIS_HASH for a device's first event). */
export function chainEvent(prevHash: string, body: SyncEventBody): SyncEvent {
  return { ...body, prevHash, hash: eventHash(prevHash, body) } as SyncEvent;
}

/** Index of the first event whose hash or link is wrong, or -1 when the whole list is one intact chain. */
export function findChainBreak(events: readonly SyncEvent[]): number {
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (i > 0 && (e.prevHash !== events[i - 1]!.hash || e.seq <= events[i - 1]!.seq)) return i;
    const { prevHash, hash, ...body } = e;
    if (eventHash(prevHash, body as SyncEventBody) !== hash) return i;
  }
  return -1;
}

export function batchHead(deviceId: string, events: readonly SyncEvent[]): SyncBatchHead {
  const last = events.at(-1);
  return {
    v: PROTOCOL_VERSION,
    deviceId,
    lastSeq: last?.seq ?? 0,
    headHash: last?.hash ?? GENESIS_HASH,
    count: events.length,
  };
}

export function signBatchHead(privateKey: string, head: SyncBatchHead): string {
  return signPayload(privateKey, SIGNATURE_DOMAINS.syncBatch, PROTOCOL_VERSION, head);
}

export function verifyBatchHead(publicKey: string, head: SyncBatchHead, signature: string): boolean {
  return verifyPayload(publicKey, signature, SIGNATURE_DOMAINS.syncBatch, PROTOCOL_VERSION, head);
}

/** A server-signed message: the payload with the fingerprint of the signing key. */
export function signServerMessage<T>(
  key: { privateKey: string; fingerprint: string },
  domain: SignatureDomain,
  payload: T,
): Signed<T> {
  return {
    payload,
    keyFingerprint: key.fingerprint,
    signature: signPayload(key.privateKey, domain, PROTOCOL_VERSION, payload),
  };
}

/** True only when a pinned key with that fingerprint signed exactly this payload under this domain. */
export function verifyServerMessage<T>(
  pinned: readonly ServerKey[],
  domain: SignatureDomain,
  signed: Signed<T>,
): boolean {
  const key = pinned.find((k) => k.fingerprint === signed.keyFingerprint);
  return key !== undefined && verifyPayload(key.publicKey, signed.signature, domain, PROTOCOL_VERSION, signed.payload);
}
