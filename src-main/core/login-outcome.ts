import type { Purpose } from '../../src-shared/codes.js';
import { LifelineError, type ErrorCode } from '../../src-shared/errors.js';
import type { LoginResult } from '../../src-shared/protocol/index.js';
import type { OfflineResult } from './offline-verify.js';

export type LoginOutcome =
  | { ok: true; mode: 'online' | 'offline'; method: LoginResult['method']; username: string; preparing: boolean }
  | {
      ok: false;
      mode?: 'online' | 'offline';
      error: ErrorCode;
      message: string;
      retryAfterSeconds?: number;
      lockedUntil?: number;
      triesLeft?: number;
    };

export type LoginFailure = Extract<LoginOutcome, { ok: false }>;

export interface LoginRequest {
  username: string;
  pin: string;
  code: string;
  purpose: Purpose;
}

export function offlineOutcome(result: OfflineResult): LoginOutcome {
  if (result.ok)
    return { ok: true, mode: 'offline', method: result.method, username: result.record.username, preparing: false };
  const { ok: _ok, ...rest } = result;
  return { ok: false, mode: 'offline', ...rest };
}

export function failure(err: unknown): LoginFailure {
  if (err instanceof LifelineError) {
    const retry = err.extra.retryAfterSeconds;
    return {
      ok: false,
      error: err.code,
      message: err.message,
      ...(retry !== undefined ? { retryAfterSeconds: retry } : {}),
    };
  }
  return { ok: false, error: 'internal', message: 'The agent failed unexpectedly; try again.' };
}
