import { NodeCryptoPlugin } from '@otplib/plugin-crypto-node';
import { generateSecret, generateURI, verify, type HashAlgorithm } from 'otplib';

/**
 * Stable API (used by services/verification.ts): newTotpSecret, otpauthUri, matchTokenStep.
 *
 * TOTP (RFC 6238) through otplib with Node's crypto. Time comes from the caller (ctx.clock), never from otplib's
 * own clock, so tests can drive it. Replay protection is the caller's: it must advance the stored last step with the
 * one guarded statement (advanceTokenStep, db/queries/tokens.ts) and treat false as a replay.
 */
const crypto = new NodeCryptoPlugin();

export type TotpAlgorithm = 'SHA1' | 'SHA256';
export interface TotpParams {
  algorithm: TotpAlgorithm;
  digits: 6 | 8;
  period: number;
}
export const DEFAULT_TOTP: TotpParams = { algorithm: 'SHA1', digits: 6, period: 30 };

const otplibAlgorithm = (a: TotpAlgorithm): HashAlgorithm => (a === 'SHA256' ? 'sha256' : 'sha1');

/** 20 random bytes (160 bits, RFC 4226's recommendation), base32. */
export function newTotpSecret(): string {
  return generateSecret({ crypto, length: 20 });
}

export function otpauthUri(secret: string, issuer: string, account: string, params: TotpParams = DEFAULT_TOTP): string {
  return generateURI({
    issuer,
    label: account,
    secret,
    algorithm: otplibAlgorithm(params.algorithm),
    digits: params.digits,
    period: params.period,
  });
}

export interface TokenParams {
  /** Base32. */
  secret: string;
  /** 'SHA1' or 'SHA256', as stored in tokens.algorithm. */
  algorithm: string;
  digits: number;
  period: number;
}

/**
 * The time step the code belongs to (within ±1 step of `nowMs` for clock drift), or undefined. Codes of a step at or
 * below `afterStep` are refused here already, as a cheap first filter before the guarded update.
 */
export async function matchTokenStep(
  token: TokenParams,
  code: string,
  nowMs: number,
  afterStep?: number,
): Promise<number | undefined> {
  if ((token.digits !== 6 && token.digits !== 8) || !new RegExp(`^[0-9]{${token.digits}}$`).test(code))
    return undefined;
  try {
    const epoch = Math.floor(nowMs / 1000);
    const result = await verify({
      secret: token.secret,
      token: code,
      crypto,
      algorithm: otplibAlgorithm(token.algorithm === 'SHA256' ? 'SHA256' : 'SHA1'),
      digits: token.digits,
      period: token.period,
      epoch,
      epochTolerance: token.period,
      ...(afterStep !== undefined && afterStep >= 0 ? { afterTimeStep: afterStep } : {}),
    });
    return result.valid ? Math.floor(epoch / token.period) + result.delta : undefined;
  } catch {
    return undefined; // a malformed secret or token is simply not a match
  }
}
