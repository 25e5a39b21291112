import { z } from 'zod';
import { ApiErrorSchema } from '../../src-shared/errors.js';
import type { App } from '../http/app-type.js';
import type { ServerContext } from '../context.js';
import { adminGuard, currentAdmin, SESSION_COOKIE } from '../http/admin-guard.js';
import { ADMIN_ERRORS, ADMIN_SECURITY, OkSchema } from '../http/schemas.js';
import { loginAdmin, logoutAdmin, stepUp } from '../services/admin-login.js';
import { PermissionSchema } from '../services/roles.js';
import { HIGH_ASSURANCE_MS, SESSION_IDLE_MS } from '../services/sessions.js';

const Credentials = z.strictObject({
  username: z.string().min(1).max(256).describe('Admin username'),
  password: z.string().min(1).max(1024).describe('Admin password'),
  otp: z.string().min(1).max(16).describe('Current code of the admin’s TOTP authenticator'),
});
const OtpBody = z.strictObject({
  otp: z.string().min(1).max(16).describe('Current code of the admin’s TOTP authenticator'),
});

const SessionInfo = z.object({
  username: z.string(),
  roles: z.array(z.string()),
  permissions: z.array(PermissionSchema),
  expiresAt: z.number().int().describe('Epoch ms: absolute end of the session (it also ends after 30 minutes unused)'),
  highAssuranceUntil: z.number().int().describe('Epoch ms until which actions needing high assurance are allowed'),
});

const LOGIN_ERRORS = {
  400: ADMIN_ERRORS[400],
  401: ApiErrorSchema.describe('Wrong username, password or code (invalid_credentials)'),
  429: ApiErrorSchema.describe('Too many attempts (rate_limited)'),
};

/** Admin sign-in: bearer sessions for API callers, cookie sessions (with a CSRF token) for the console. */
export async function adminAuthRoutes(app: App, ctx: ServerContext): Promise<void> {
  app.post(
    '/api/v1/admin/sessions',
    {
      schema: {
        tags: ['admin auth'],
        summary: 'Sign in with password and TOTP; returns a bearer token',
        description:
          'Both factors are required; each TOTP time step is accepted once. Attempts are limited per address, per admin name from one address, and per admin name by growing delays (capped at 90 s), so failures under a name never lock its owner out. The session is high-assurance for 15 minutes.',
        body: Credentials,
        response: {
          200: z.object({
            token: z.string(),
            expiresAt: z.number().int(),
            roles: z.array(z.string()),
            permissions: z.array(PermissionSchema),
          }),
          ...LOGIN_ERRORS,
        },
      },
    },
    async (req) => {
      const r = await loginAdmin(ctx, { ...req.body, address: req.ip, kind: 'bearer' });
      return { token: r.token, expiresAt: r.expiresAt, roles: r.roles, permissions: r.permissions };
    },
  );

  app.post(
    '/api/v1/admin/console-sessions',
    {
      schema: {
        tags: ['admin auth'],
        summary: 'Sign in for the web console; sets the httpOnly session cookie',
        description: `Sets \`${SESSION_COOKIE}\` (httpOnly, SameSite=Strict, Secure over TLS) and returns a CSRF token that must accompany every non-GET request as \`x-csrf-token\`.`,
        body: Credentials,
        response: {
          200: z.object({
            csrfToken: z.string(),
            expiresAt: z.number().int(),
            roles: z.array(z.string()),
            permissions: z.array(PermissionSchema),
          }),
          ...LOGIN_ERRORS,
        },
      },
    },
    async (req, reply) => {
      const r = await loginAdmin(ctx, { ...req.body, address: req.ip, kind: 'cookie' });
      reply.setCookie(SESSION_COOKIE, r.token, {
        httpOnly: true,
        sameSite: 'strict',
        secure: req.protocol === 'https',
        path: '/',
        maxAge: Math.floor((r.expiresAt - ctx.clock.now()) / 1000),
      });
      return { csrfToken: r.csrfToken!, expiresAt: r.expiresAt, roles: r.roles, permissions: r.permissions };
    },
  );

  app.get(
    '/api/v1/admin/sessions/current',
    {
      schema: {
        tags: ['admin auth'],
        summary: 'Who is signed in, with what permissions, until when',
        security: ADMIN_SECURITY,
        response: { 200: SessionInfo, 401: ADMIN_ERRORS[401] },
      },
      preHandler: adminGuard(ctx),
    },
    async (req) => {
      const a = currentAdmin(req);
      return {
        username: a.username,
        roles: a.roles,
        permissions: [...a.permissions],
        expiresAt: Math.min(a.expiresAt, ctx.clock.now() + SESSION_IDLE_MS),
        highAssuranceUntil: a.mfaAt + HIGH_ASSURANCE_MS,
      };
    },
  );

  app.post(
    '/api/v1/admin/sessions/step-up',
    {
      schema: {
        tags: ['admin auth'],
        summary: 'Renew high assurance with a fresh TOTP code',
        description:
          'Needed when an action answers 403 step_up_required (the last password+TOTP or step-up is older than 15 minutes). Works for bearer and console sessions. Attempts are limited per session (10 per 15 minutes).',
        security: ADMIN_SECURITY,
        body: OtpBody,
        response: { 200: z.object({ highAssuranceUntil: z.number().int() }), ...ADMIN_ERRORS, 429: LOGIN_ERRORS[429] },
      },
      preHandler: adminGuard(ctx),
    },
    async (req) => {
      const a = currentAdmin(req);
      await stepUp(ctx, {
        adminId: a.id,
        username: a.username,
        sessionId: a.sessionId,
        otp: req.body.otp,
        address: req.ip,
      });
      return { highAssuranceUntil: ctx.clock.now() + HIGH_ASSURANCE_MS };
    },
  );

  const signOut = (sessionId: string, username: string) => logoutAdmin(ctx, sessionId, username);

  app.delete(
    '/api/v1/admin/sessions',
    {
      schema: {
        tags: ['admin auth'],
        summary: 'Sign out (ends the bearer session)',
        security: ADMIN_SECURITY,
        response: { 200: OkSchema, 401: ADMIN_ERRORS[401] },
      },
      preHandler: adminGuard(ctx),
    },
    async (req) => {
      const a = currentAdmin(req);
      await signOut(a.sessionId, a.username);
      return { ok: true as const };
    },
  );

  app.delete(
    '/api/v1/admin/console-sessions',
    {
      schema: {
        tags: ['admin auth'],
        summary: 'Sign out of the console (ends the cookie session, clears the cookie)',
        security: ADMIN_SECURITY,
        response: { 200: OkSchema, 401: ADMIN_ERRORS[401], 403: ADMIN_ERRORS[403] },
      },
      preHandler: adminGuard(ctx),
    },
    async (req, reply) => {
      const a = currentAdmin(req);
      await signOut(a.sessionId, a.username);
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return { ok: true as const };
    },
  );
}
