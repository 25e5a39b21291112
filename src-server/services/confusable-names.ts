import unhomoglyph from 'unhomoglyph';
import { LifelineError } from '../../src-shared/errors.js';
import type { Queryable } from '../db/port.js';
import { allAdminNames } from '../db/queries/admins.js';
import { allUsernames } from '../db/queries/users.js';

/**
 * What a name looks like, for refusing a new user or admin whose name would pass for an existing one on a helpdesk
 * screen (Cyrillic "а" beside Latin "a", full-width "ａｌｉｃｅ"): NFKC folds compatibility forms (full-width, ligatures),
 * then the UTS #39 skeleton (NFD, the Unicode confusables.txt mapping from the `unhomoglyph` package, NFD again)
 * maps look-alikes of every script to one prototype, lower-cased as stored names are.
 */
export function nameSkeleton(name: string): string {
  return unhomoglyph(name.normalize('NFKC').toLowerCase().normalize('NFD')).normalize('NFD').toLowerCase();
}

/**
 * Refuses `username` (already normalised) when it differs from an existing name of `table` but looks the same. It
 * reads every name once (about 2 ms per thousand), so callers run it before their transaction; two confusable
 * names created in the same instant could both pass, which the exact-name check inside the transaction does not
 * cover, an accepted gap for an admin-only action that is audited.
 */
export async function assertNotConfusable(q: Queryable, table: 'users' | 'admins', username: string): Promise<void> {
  const skeleton = nameSkeleton(username);
  const names = table === 'users' ? await allUsernames(q) : await allAdminNames(q);
  const lookalike = names.find((n) => n !== username && nameSkeleton(n) === skeleton);
  if (lookalike) {
    const what = table === 'users' ? 'user' : 'admin';
    throw new LifelineError(
      'conflict',
      `The name "${username}" looks like the existing ${what} "${lookalike}" (letters of another script or full-width forms); choose a name that cannot be mistaken for it.`,
      409,
    );
  }
}
