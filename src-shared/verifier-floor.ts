/**
 * The least work an offline verifier may cost (scrypt N and r; p ≥ 1 anyway). A stolen workstation's store is
 * attacked one (PIN, code) guess per scrypt, so whoever sets the policy must not be able to make that cheap: the
 * server refuses a policy below this floor and the agent refuses a bundle below the floor it ships with, whatever
 * the server sent (docs/protocol.md). It is today's default; the default may rise, the floor only by a release.
 */
export interface VerifierCost {
  N: number;
  r: number;
  p: number;
}

export const VERIFIER_SCRYPT_FLOOR: Readonly<VerifierCost> = Object.freeze({ N: 2 ** 11, r: 8, p: 1 });

export function meetsVerifierFloor(params: VerifierCost, floor: VerifierCost = VERIFIER_SCRYPT_FLOOR): boolean {
  return params.N >= floor.N && params.r >= floor.r && params.p >= floor.p;
}
