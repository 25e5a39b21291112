import { api, PATHS } from './api.js';

/** The signed-in admin as GET /api/v1/admin/sessions/current describes them. */
export interface Me {
  username: string;
  roles: string[];
  permissions: string[];
  /** The server ends a console session after this many minutes without a request (set in the page by the server). */
  idleTimeoutMinutes: number;
}

export type Permission =
  | 'settings.manage'
  | 'roles.manage'
  | 'users.manage'
  | 'tokens.manage'
  | 'codes.issue'
  | 'codes.revoke'
  | 'offline.reveal'
  | 'audit.read'
  | 'clients.manage'
  | 'devices.manage';

export async function loadMe(): Promise<Me> {
  const me = await api<{ username: string; roles: string[]; permissions: string[] }>('GET', PATHS.me);
  const idle = Number(document.body.dataset.idleMinutes);
  return {
    username: me.username,
    roles: me.roles,
    permissions: me.permissions,
    idleTimeoutMinutes: Number.isFinite(idle) && idle > 0 ? idle : 30,
  };
}

export function can(me: Me, permission: Permission): boolean {
  // A superadmin's permission list from the server already holds every permission.
  return me.permissions.includes(permission);
}
