import { randomBytes, randomInt } from 'node:crypto';
import { CROCKFORD_ALPHABET } from '../codes.js';

/** A code of `length` Crockford symbols, each drawn uniformly (randomInt has no modulo bias): 5 bits per symbol. */
export function randomCrockford(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += CROCKFORD_ALPHABET[randomInt(32)];
  return out;
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export { randomBytes };
