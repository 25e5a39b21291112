import { LifelineError } from '../../../src-shared/errors.js';

/**
 * Why the store cannot be used, with what it means for the rest of the agent: whether a reset (setting the files
 * aside for a new store) can help, and whether this machine may still act online as the device the keychain names.
 */
export class StoreUnavailable extends LifelineError {
  constructor(
    code: 'store_tampered' | 'store_damaged' | 'store_busy',
    message: string,
    /** The store is bound to another machine id: the keychain's device keys came with a copy, so not online either. */
    readonly foreign = false,
  ) {
    super(code, message, 409);
  }
}

const RESET_HINT =
  'Online sign-in still works. To use offline mode again, reset the offline data in the status view (the files are kept aside for IT)';

export function tampered(reason: string, opts: { foreign?: boolean } = {}): StoreUnavailable {
  return new StoreUnavailable(
    'store_tampered',
    `Offline mode is off: ${reason}. ${opts.foreign ? "Ask IT to reset this computer's agent: this copy cannot act as its device" : RESET_HINT}.`,
    opts.foreign,
  );
}

/**
 * Why the store could not be used, as the agent reports it: an error that already says why (a LifelineError: the
 * keychain, tampering, a busy store) as it is, anything else the checks did not name as `store_damaged`.
 */
export function storeDamaged(err: unknown): LifelineError {
  return err instanceof LifelineError ? err : damaged(describe(err));
}

export function damaged(reason: string): StoreUnavailable {
  return new StoreUnavailable(
    'store_damaged',
    `Offline mode is off: the offline store cannot be used (${reason}). ${RESET_HINT}; if it keeps happening, ask IT to check the disk and the folder's permissions.`,
  );
}

export function describe(err: unknown): string {
  if (err instanceof LifelineError) return err.message;
  return err instanceof Error ? err.message.split('\n')[0]!.slice(0, 160) : 'unknown error';
}
