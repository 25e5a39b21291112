import { isCrockford, normalizeCode, type CodeMethod } from '../../src-shared/codes.js';

/**
 * Splitting a PAP password into PIN and code (RSA's passcode = PIN ‖ code). Every kind of code has a fixed length
 * under the user's policy, so the code is the password's last `length` code symbols and the PIN is what precedes
 * them. A password may fit more than one kind ("PIN of 8 + 6-digit token" vs "PIN of 6 + 8-character emergency
 * code"); this module lists every reading, and the caller turns them into ONE verification (authenticate.ts).
 */

export interface CodeKind {
  method: CodeMethod;
  length: number;
  /** Token codes are decimal digits; every other kind is Crockford base32. */
  digitsOnly: boolean;
  pinNeeded: boolean;
}

export interface Reading {
  /** Undefined when the kind needs no PIN. */
  pin?: string;
  /** As typed (separators inside it included); verifyCode normalises. */
  code: string;
}

// The separators normalizeCode drops: a code read over the phone may be typed in groups ("7K3M-Q9XD-2B8T").
const SEPARATOR = /[\s\-‐-―]/u;

function fitsKind(code: string, kind: CodeKind): boolean {
  const n = normalizeCode(code);
  return n.length === kind.length && (kind.digitsOnly ? /^[0-9]+$/.test(n) : isCrockford(n));
}

/** The shortest suffix of `chars` holding `count` code symbols, and the prefix before it. */
function splitFromEnd(chars: string[], count: number): { prefix: string; suffix: string } | undefined {
  let symbols = 0;
  for (let i = chars.length - 1; i >= 0; i--) {
    if (!SEPARATOR.test(chars[i]!)) symbols++;
    if (symbols === count) return { prefix: chars.slice(0, i).join(''), suffix: chars.slice(i).join('') };
  }
  return undefined;
}

/**
 * Every way `password` reads as (PIN, code) for the given kinds: with a PIN of at least `minPinLength` characters in
 * front where the kind needs one, or the code alone where it does not. Empty: no code can be parsed (challenge).
 */
export function readPasscode(password: string, kinds: readonly CodeKind[], minPinLength: number): Reading[] {
  const chars = [...password];
  const readings: Reading[] = [];
  for (const kind of kinds) {
    const split = splitFromEnd(chars, kind.length);
    if (!split || !fitsKind(split.suffix, kind)) continue;
    if (kind.pinNeeded) {
      if ([...split.prefix].length >= Math.max(1, minPinLength))
        readings.push({ pin: split.prefix, code: split.suffix });
    } else if (split.prefix.trim() === '') {
      readings.push({ code: split.suffix });
    }
  }
  return dedupe(readings);
}

/**
 * The second step of the challenge flow: the password is the code alone and the PIN came with the first request.
 * The PIN is given only to kinds that need one.
 */
export function readCodeAfterChallenge(code: string, pin: string, kinds: readonly CodeKind[]): Reading[] {
  return dedupe(kinds.filter((k) => fitsKind(code, k)).map((k) => (k.pinNeeded ? { pin, code } : { code })));
}

function dedupe(readings: Reading[]): Reading[] {
  const seen = new Set<string>();
  return readings.filter((r) => {
    const key = JSON.stringify([r.pin ?? null, normalizeCode(r.code)]);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
