/**
 * The parts of the admin API's answers the console reads, as GET /api/v1/admin/users/{username} returns them
 * (src-server/routes/admin-users.ts). The console never receives a code here, only the terms of active ones.
 */
export interface AdminUser {
  username: string;
  displayName: string | null;
  email: string | null;
  status: 'active' | 'inactive';
  policy: string;
  hasPin: boolean;
  token: { algorithm: string; digits: number; period: number; enrolledAt: number } | null;
  lock: { locked: boolean; lockedUntil: number | null; lockedPermanently: boolean; failures: number };
  temporaryCode: {
    expiresAt: number;
    multiUse: boolean;
    pinRequired: boolean;
    issuedAt: number;
    issuedBy: string;
  } | null;
  emergencyCodes: {
    issuedAt: number;
    expiresAt: number | null;
    expired: boolean;
    tokenBehaviour: string;
    total: number;
    unused: number;
  } | null;
}
