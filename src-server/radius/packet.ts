import { createHash, createHmac } from 'node:crypto';
import { constantTimeEqual } from '../../src-shared/crypto/compare.js';

/**
 * The RADIUS wire format (RFC 2865) with the Message-Authenticator of RFC 3579 §3.2. Only what an authentication
 * server needs: parse an Access-Request, check its Message-Authenticator, decrypt a PAP User-Password, and build
 * signed Access-Accept / Access-Reject / Access-Challenge answers with the Message-Authenticator FIRST (BlastRADIUS,
 * CVE-2024-3596: a forged prefix cannot then collide its way in front of it).
 *
 * MD5 and HMAC-MD5 are what the RFCs prescribe; they come from node:crypto, nothing here is a home-made primitive.
 */

export const CODE = {
  AccessRequest: 1,
  AccessAccept: 2,
  AccessReject: 3,
  AccessChallenge: 11,
} as const;

export const ATTR = {
  UserName: 1,
  UserPassword: 2,
  ChapPassword: 3,
  ReplyMessage: 18,
  State: 24,
  ProxyState: 33,
  MessageAuthenticator: 80,
} as const;

const HEADER = 20;
const MAX_PACKET = 4096;
const AUTHENTICATOR_BYTES = 16;
const MESSAGE_AUTHENTICATOR_LENGTH = 18; // type, length, 16-byte HMAC-MD5

export interface Attribute {
  type: number;
  value: Buffer;
}

export interface RadiusPacket {
  code: number;
  identifier: number;
  authenticator: Buffer;
  attributes: Attribute[];
  /** The packet exactly as received (only the bytes covered by the Length field). */
  raw: Buffer;
  /** Offset of the Message-Authenticator value inside `raw`, when present. */
  messageAuthenticatorOffset?: number;
}

/** Structure only: undefined for anything that is not a well-formed RADIUS packet (RFC 2865 §3: silently discard). */
export function parsePacket(datagram: Buffer): RadiusPacket | undefined {
  if (datagram.length < HEADER) return undefined;
  const length = datagram.readUInt16BE(2);
  // Octets beyond Length are padding and ignored; fewer than Length means a truncated packet (RFC 2865 §3).
  if (length < HEADER || length > MAX_PACKET || length > datagram.length) return undefined;
  const raw = datagram.subarray(0, length);
  const attributes: Attribute[] = [];
  let messageAuthenticatorOffset: number | undefined;
  for (let at = HEADER; at < length;) {
    if (at + 2 > length) return undefined;
    const type = raw[at]!;
    const len = raw[at + 1]!;
    if (len < 2 || at + len > length) return undefined;
    if (type === ATTR.MessageAuthenticator) {
      // More than one, or a wrong size, cannot be verified unambiguously: the packet is malformed.
      if (len !== MESSAGE_AUTHENTICATOR_LENGTH || messageAuthenticatorOffset !== undefined) return undefined;
      messageAuthenticatorOffset = at + 2;
    }
    attributes.push({ type, value: raw.subarray(at + 2, at + len) });
    at += len;
  }
  return {
    code: raw[0]!,
    identifier: raw[1]!,
    authenticator: raw.subarray(4, 4 + AUTHENTICATOR_BYTES),
    attributes,
    raw,
    ...(messageAuthenticatorOffset !== undefined ? { messageAuthenticatorOffset } : {}),
  };
}

export function attribute(packet: RadiusPacket, type: number): Buffer | undefined {
  return packet.attributes.find((a) => a.type === type)?.value;
}

/**
 * RFC 3579 §3.2: HMAC-MD5 keyed with the shared secret over the whole request with the Message-Authenticator value
 * zeroed. Compared in constant time. False when the attribute is absent.
 */
export function hasValidMessageAuthenticator(packet: RadiusPacket, secret: Buffer): boolean {
  const offset = packet.messageAuthenticatorOffset;
  if (offset === undefined) return false;
  const received = packet.raw.subarray(offset, offset + AUTHENTICATOR_BYTES);
  const zeroed = Buffer.from(packet.raw);
  zeroed.fill(0, offset, offset + AUTHENTICATOR_BYTES);
  const expected = createHmac('md5', secret).update(zeroed).digest();
  return constantTimeEqual(received, expected);
}

/**
 * RFC 2865 §5.2: b1 = MD5(S + RA), c1 = p1 xor b1, bi = MD5(S + c(i-1)). The result has its NUL padding removed.
 * Undefined when the attribute has an impossible length (not 16..128 in blocks of 16). The caller wipes the buffer.
 */
export function decryptUserPassword(
  encrypted: Buffer,
  secret: Buffer,
  requestAuthenticator: Buffer,
): Buffer | undefined {
  if (encrypted.length < 16 || encrypted.length > 128 || encrypted.length % 16 !== 0) return undefined;
  const plain = Buffer.alloc(encrypted.length);
  let previous = requestAuthenticator;
  for (let block = 0; block < encrypted.length; block += 16) {
    const b = createHash('md5').update(secret).update(previous).digest();
    for (let i = 0; i < 16; i++) plain[block + i] = encrypted[block + i]! ^ b[i]!;
    previous = encrypted.subarray(block, block + 16);
  }
  let end = plain.length;
  while (end > 0 && plain[end - 1] === 0) end--;
  const password = Buffer.from(plain.subarray(0, end));
  plain.fill(0);
  return password;
}

/**
 * A signed answer to `request`: Message-Authenticator first (computed with the Request Authenticator in place, RFC
 * 3579 §3.2), then `attributes`, then the request's Proxy-State attributes in order (RFC 2865 §5.33), and finally the
 * Response Authenticator MD5(Code+ID+Length+RequestAuth+Attributes+Secret).
 */
export function buildResponse(request: RadiusPacket, code: number, attributes: Attribute[], secret: Buffer): Buffer {
  const all: Attribute[] = [
    { type: ATTR.MessageAuthenticator, value: Buffer.alloc(AUTHENTICATOR_BYTES) },
    ...attributes,
    ...request.attributes.filter((a) => a.type === ATTR.ProxyState),
  ];
  const body = Buffer.concat(all.map(encodeAttribute));
  const length = HEADER + body.length;
  if (length > MAX_PACKET) throw new Error('RADIUS response too large');
  const packet = Buffer.alloc(length);
  packet[0] = code;
  packet[1] = request.identifier;
  packet.writeUInt16BE(length, 2);
  request.authenticator.copy(packet, 4);
  body.copy(packet, HEADER);
  const maOffset = HEADER + 2;
  createHmac('md5', secret).update(packet).digest().copy(packet, maOffset);
  createHash('md5').update(packet).update(secret).digest().copy(packet, 4);
  return packet;
}

/** Text attributes (Reply-Message) longer than one attribute holds are split over several, as RFC 2865 §5.18 allows. */
export function textAttributes(type: number, text: string): Attribute[] {
  const bytes = Buffer.from(text, 'utf8');
  const out: Attribute[] = [];
  for (let at = 0; at < bytes.length; at += 253) out.push({ type, value: bytes.subarray(at, at + 253) });
  return out;
}

function encodeAttribute(a: Attribute): Buffer {
  if (a.value.length > 253) throw new Error(`RADIUS attribute ${a.type} too long`);
  return Buffer.concat([Buffer.from([a.type, a.value.length + 2]), a.value]);
}
