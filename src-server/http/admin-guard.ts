import type { FastifyReply, FastifyRequest } from 'fastify';
import { LifelineError } from '../../src-shared/errors.js';
import type { ServerContext } from '../context.js';
import { findAdminStatusById } from '../services/admins.js';
import { authorityOf, type Permission } from '../services/roles.js';
import { csrfMatches, isHighAssurance, resumeSession, type SessionKind } from '../services/sessions.js';

export type { Permission } from '../services/roles.js';

export const SESSION_COOKIE = 'lifeline_session';
export const CSRF_HEADER = 'x-csrf-token';

export interface AdminPrincipal {
  id: number;
  username: string;
  roles: string[];
  permissions: ReadonlySet<Permission>;
  sessionId: string;
  sessionKind: SessionKind;
  isSuperadmin: boolean;
  /** Epoch ms until which the session counts as high-assurance. */
  mfaAt: number;
  expiresAt: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    admin?: AdminPrincipal;
  }
}

export interface GuardOptions {
  permission?: Permission;
  /** Any one of these suffices (e.g. reading users is open to every helpdesk role). */
  anyPermission?: readonly Permission[];
  highAssurance?: boolean;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function bearerToken(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+([A-Za-z0-9_-]{20,200})$/.exec(h);
  if (!m) throw new LifelineError('unauthorized', 'Sign in as an admin (Authorization: Bearer <token>).', 401);
  return m[1];
}

/**
 * Authenticates an admin request and checks what it needs. API callers send `Authorization: Bearer <token>`; the
 * console sends its httpOnly SameSite=Strict cookie plus, on every state-changing request, the CSRF token it got at
 * sign-in in `x-csrf-token` (the cookie alone proves nothing about which page sent the request).
 */
export function adminGuard(ctx: ServerContext, opts: GuardOptions = {}) {
  return async function guard(req: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const bearer = bearerToken(req);
    const cookie = bearer === undefined ? req.cookies?.[SESSION_COOKIE] : undefined;
    const token = bearer ?? cookie;
    if (!token) throw new LifelineError('unauthorized', 'Sign in as an admin.', 401);
    const session = await resumeSession(ctx, token, bearer !== undefined ? 'bearer' : 'cookie');
    if (!session) throw new LifelineError('unauthorized', 'The session has expired or was ended; sign in again.', 401);
    if (cookie !== undefined && !SAFE_METHODS.has(req.method)) {
      const presented = req.headers[CSRF_HEADER];
      if (!csrfMatches(ctx, session, typeof presented === 'string' ? presented : undefined)) {
        throw new LifelineError('csrf_failed', 'The request lacks the CSRF token of this console session.', 403);
      }
    }
    const row = await findAdminStatusById(ctx.db, session.adminId);
    if (!row || row.status !== 'active')
      throw new LifelineError('unauthorized', 'This admin account is disabled.', 401);
    const authority = await authorityOf(ctx.db, row.id);
    req.admin = {
      id: row.id,
      username: row.username,
      roles: authority.roles,
      permissions: authority.permissions,
      sessionId: session.id,
      sessionKind: session.kind,
      isSuperadmin: authority.isSuperadmin,
      mfaAt: session.mfaAt,
      expiresAt: session.expiresAt,
    };
    if (opts.permission && !authority.permissions.has(opts.permission)) {
      throw new LifelineError('forbidden', `This needs the ${opts.permission} permission.`, 403);
    }
    if (opts.anyPermission && !opts.anyPermission.some((p) => authority.permissions.has(p))) {
      throw new LifelineError('forbidden', `This needs one of: ${opts.anyPermission.join(', ')}.`, 403);
    }
    if (opts.highAssurance && !isHighAssurance(session, ctx.clock.now())) {
      throw new LifelineError(
        'step_up_required',
        'Confirm with your authenticator code first (POST /api/v1/admin/sessions/step-up).',
        403,
      );
    }
  };
}

/** The admin a guarded route runs for; a route without the guard calling this is a bug. */
export function currentAdmin(req: FastifyRequest): AdminPrincipal {
  if (!req.admin) throw new Error('route is missing adminGuard');
  return req.admin;
}
