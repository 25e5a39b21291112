/**
 * Code formats shared by the server, the agent and the renderer (docs/design.md §2).
 * Codes use Crockford's base32; input is normalised before any comparison so that a code read over the phone
 * ("eight, I as in India, ...") matches however it was typed.
 */

export const CROCKFORD_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

export const CODE_LENGTHS = {
  temporaryDefault: 12,
  temporaryMin: 8,
  temporaryMax: 24,
  emergency: 8,
  offlineEmergency: 12,
} as const;

/** Spaces and dashes dropped, case folded, I/L → 1 and O → 0 (Crockford). Digits-only token codes pass unchanged. */
export function normalizeCode(input: string): string {
  return input
    .normalize('NFKC')
    .replace(/[\s\-‐-―]/g, '')
    .toUpperCase()
    .replace(/[IL]/g, '1')
    .replace(/O/g, '0');
}

/** True when the normalised string uses only Crockford symbols. */
export function isCrockford(normalized: string): boolean {
  for (const ch of normalized) if (!CROCKFORD_ALPHABET.includes(ch)) return false;
  return true;
}

/** Groups of four for reading out loud: "7K3M-Q9XD-2B8T". */
export function formatCode(normalized: string, groupSize = 4): string {
  const groups: string[] = [];
  for (let i = 0; i < normalized.length; i += groupSize) groups.push(normalized.slice(i, i + groupSize));
  return groups.join('-');
}

export const PURPOSES = ['logon', 'unlock', 'remote-access', 'sign'] as const;
export type Purpose = (typeof PURPOSES)[number];

export const CODE_METHODS = ['token', 'temporary', 'emergency', 'offline-emergency'] as const;
export type CodeMethod = (typeof CODE_METHODS)[number];
