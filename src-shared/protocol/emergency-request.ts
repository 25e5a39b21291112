import { CROCKFORD_ALPHABET, formatCode, isCrockford, normalizeCode } from '../codes.js';
import { DEVICE_ID_LENGTH } from './common.js';

/**
 * The offline emergency request (docs/design.md §5): what the agent's prompt shows a user without a token, read to the
 * helpdesk, typed into the console. 16 Crockford symbols, shown as four groups of four:
 *
 *   device id (10 symbols, 50 bits) ‖ user tag (3 symbols, 15 bits) ‖ slot (2 symbols, index mod 1024) ‖ check (1)
 *
 * Crockford symbols only, so it survives normalizeCode (case, spaces, dashes, I/L/O) whatever the username is; the
 * user is a tag (a hash of the server-normalised username), not the name, and the console shows the matching user
 * for the helpdesk to confirm. The check symbol is Luhn mod 32, which catches every single wrong symbol and every
 * swap of two adjacent different symbols except 0↔Z (Luhn's blind spot). The version is the length: another format
 * will have another length.
 */
export const EMERGENCY_REQUEST_LENGTH = 16;
const USER_TAG_SYMBOLS = 3;
const SLOT_SYMBOLS = 2;
export const USER_TAG_BITS = 5 * USER_TAG_SYMBOLS;
export const SLOT_MODULUS = 32 ** SLOT_SYMBOLS;

export interface EmergencyRequest {
  deviceId: string;
  /** USER_TAG_BITS bits identifying the user among those of the device; compare with `userTag(username)`. */
  userTag: number;
  /** The slot index modulo SLOT_MODULUS. */
  slot: number;
}

export type DecodeResult = { ok: true; request: EmergencyRequest } | { ok: false; error: 'malformed' | 'check_failed' };

/** FNV-1a over the UTF-8 bytes of the normalised username, folded to USER_TAG_BITS: a short label, not a secret. */
export function userTag(normalizedUsername: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(normalizedUsername)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return (h ^ (h >>> USER_TAG_BITS)) & ((1 << USER_TAG_BITS) - 1);
}

function toSymbols(value: number, count: number): string {
  let out = '';
  for (let i = count - 1; i >= 0; i--) out += CROCKFORD_ALPHABET[Math.floor(value / 32 ** i) % 32];
  return out;
}

function fromSymbols(s: string): number {
  let v = 0;
  for (const c of s) v = v * 32 + CROCKFORD_ALPHABET.indexOf(c);
  return v;
}

/** Luhn mod N (N = 32) over Crockford symbols. */
export function luhn32(body: string): string {
  let sum = 0;
  let factor = 2;
  for (let i = body.length - 1; i >= 0; i--) {
    const addend = factor * CROCKFORD_ALPHABET.indexOf(body[i]!);
    sum += Math.floor(addend / 32) + (addend % 32);
    factor = factor === 2 ? 1 : 2;
  }
  return CROCKFORD_ALPHABET[(32 - (sum % 32)) % 32]!;
}

/** The request the agent shows, unformatted (use formatEmergencyRequest for display). */
export function encodeEmergencyRequest(r: { deviceId: string; username: string; slot: number }): string {
  if (r.deviceId.length !== DEVICE_ID_LENGTH || !isCrockford(r.deviceId))
    throw new Error('encodeEmergencyRequest: bad device id');
  if (!Number.isInteger(r.slot) || r.slot < 0) throw new Error('encodeEmergencyRequest: bad slot');
  const body =
    r.deviceId + toSymbols(userTag(r.username), USER_TAG_SYMBOLS) + toSymbols(r.slot % SLOT_MODULUS, SLOT_SYMBOLS);
  return body + luhn32(body);
}

export function formatEmergencyRequest(request: string): string {
  return formatCode(normalizeCode(request), 4);
}

/** Parses what the helpdesk typed: any case, spaces or dashes, I/L/O confusions. */
export function decodeEmergencyRequest(input: string): DecodeResult {
  const s = normalizeCode(input);
  if (s.length !== EMERGENCY_REQUEST_LENGTH || !isCrockford(s)) return { ok: false, error: 'malformed' };
  const body = s.slice(0, -1);
  if (luhn32(body) !== s.slice(-1)) return { ok: false, error: 'check_failed' };
  return {
    ok: true,
    request: {
      deviceId: body.slice(0, DEVICE_ID_LENGTH),
      userTag: fromSymbols(body.slice(DEVICE_ID_LENGTH, DEVICE_ID_LENGTH + USER_TAG_SYMBOLS)),
      slot: fromSymbols(body.slice(DEVICE_ID_LENGTH + USER_TAG_SYMBOLS)),
    },
  };
}
