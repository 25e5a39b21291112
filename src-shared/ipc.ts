import * as z from 'zod';
import { CODE_METHODS, PURPOSES } from './codes.js';
import { ErrorCodeSchema, LifelineError, type ErrorCode } from './errors.js';

/**
 * The one contract between the agent's renderer and its core (docs/design.md §5, docs/design.md §12.3–12.5): channel → request and response
 * schemas. The Electron shell carries it over ipcMain.handle / ipcRenderer.invoke, the browser shell over
 * POST /ipc/<channel>; both validate every request with these schemas before the core sees it, and every response
 * on its way out.
 *
 * Rules of this file:
 * - Requests are strict objects: unknown fields are refused, so junk never reaches the core.
 * - Responses are data, never exceptions: `{ok: true, …}` or `{ok: false, error: <stable code>, message, …}`.
 *   Electron passes only an error's message across IPC, hence no throwing.
 * - Responses are parsed with non-strict objects, which DROP unknown fields: whatever the core returns by mistake
 *   (a key, a code, a verifier) cannot reach the renderer. No field here carries a secret; keep it that way.
 * - Times are integer epoch milliseconds of the agent's clock; `status.now` lets the renderer count down with it.
 */

const EpochMs = z.number().int().nonnegative();
const Count = z.number().int().nonnegative();

// Input limits are generous (usernames, PINs and codes typed by people) but bounded; the core normalises.
const Username = z.string().trim().min(1, 'Type your username.').max(256);
const Pin = z.string().min(1, 'Type your PIN.').max(256);
const Code = z.string().trim().min(1, 'Type the code.').max(128);

/** Where a decision was made: by the server, or locally from the offline data. */
export const ModeSchema = z.enum(['online', 'offline']);

/** Every failure on every channel. `message` is for people; the renderer branches on `error`. */
export const IpcFailureSchema = z.object({
  ok: z.literal(false),
  error: ErrorCodeSchema,
  message: z.string(),
  /** Which path answered, when one did (the prompt says 'offline mode' on an offline failure too). */
  mode: ModeSchema.optional(),
  /** For `locked` and `rate_limited`. */
  retryAfterSeconds: Count.optional(),
  /** For `locked`: the moment the lock ends. */
  lockedUntil: EpochMs.optional(),
  /**
   * For `invalid_code`, when the deciding side knows: attempts left before its sanction. Online that is a lock;
   * offline (`mode: 'offline'`) it is the wipe of the user's offline data at the policy's maximum of failures
   * (offline locks with growing delays come earlier and are reported as `locked`).
   */
  triesLeft: Count.optional(),
});
export type IpcFailure = z.infer<typeof IpcFailureSchema>;

function result<T extends z.ZodRawShape>(shape: T) {
  return z.union([z.object({ ok: z.literal(true), ...shape }), IpcFailureSchema]);
}

// ---- requests ------------------------------------------------------------------------------------------------

const Empty = z.strictObject({});

export const LoginRequestSchema = z.strictObject({
  username: Username,
  pin: Pin,
  code: Code,
  purpose: z.enum(PURPOSES).default('logon'),
});

export const EmergencyRequestRequestSchema = z.strictObject({ username: Username });

/** The code the helpdesk read out for the request the prompt showed. The PIN is optional: the user may have forgotten it (RSA). */
export const EmergencySubmitRequestSchema = z.strictObject({
  username: Username,
  pin: Pin.optional(),
  code: Code,
});

// ---- responses -----------------------------------------------------------------------------------------------

/** What a successful login tells the person: how it was decided and what to keep in mind. */
export const LoginSuccessShape = {
  mode: ModeSchema,
  method: z.enum(CODE_METHODS),
  username: z.string(),
  /** Days of offline validation data this device holds for the user (null: none, e.g. device not approved). */
  offlineDaysLeft: Count.nullable().optional(),
  /** The user's cached multi-use temporary code expires then (the prompt warns when it is soon). */
  temporaryCodeExpiresAt: EpochMs.nullable().optional(),
  /** Offline emergency slots left on this device for the user. */
  emergencySlotsLeft: Count.nullable().optional(),
  /** True while fresh offline data is still being prepared in the background after an online login. */
  offlinePreparing: z.boolean().optional(),
};

export const LoginResponseSchema = result(LoginSuccessShape);

export const UserStatusSchema = z.object({
  username: z.string(),
  /** Last moment the offline token windows cover (null: no offline data). */
  offlineDataUntil: EpochMs.nullable(),
  offlineDaysLeft: Count,
  emergencySlotsLeft: Count,
  temporaryCodeExpiresAt: EpochMs.nullable(),
  lockedUntil: EpochMs.nullable(),
  /** Outbox events of this user not yet acknowledged by the server. */
  pendingEvents: Count,
});

export const DEVICE_STATES = ['unenrolled', 'pending', 'approved', 'revoked'] as const;

export const StatusResponseSchema = result({
  /** The agent's clock now. */
  now: EpochMs,
  server: z.object({
    url: z.string(),
    reachable: z.boolean(),
    /** When reachability was last decided (null: never tried). */
    checkedAt: EpochMs.nullable(),
    /** Last successful exchange with the server. */
    lastContactAt: EpochMs.nullable(),
  }),
  device: z.object({ id: z.string().nullable(), state: z.enum(DEVICE_STATES) }),
  /**
   * Whether offline verification can work at all on this machine, and if not, why (keychain missing, store damaged,
   * tampered or busy…): `message` says what the person or IT must do; `resettable` when 'agent:reset-store' can help.
   */
  offline: z.object({
    available: z.boolean(),
    reason: ErrorCodeSchema.nullable(),
    message: z.string().nullable(),
    resettable: z.boolean().default(false),
  }),
  lastSyncAt: EpochMs.nullable(),
  /** All outbox events not yet acknowledged. */
  pendingEvents: Count,
  /** Progress of a running sync: the renderer polls status while `running`. */
  sync: z.object({ running: z.boolean(), done: Count, total: Count, lastError: ErrorCodeSchema.nullable() }),
  users: z.array(UserStatusSchema),
});

export const ConfigResponseSchema = result({
  /** The operating-system user, to pre-fill the prompt. */
  osUsername: z.string(),
  serverUrl: z.string(),
  kiosk: z.boolean(),
  version: z.string(),
});

export const EmergencyRequestResponseSchema = result({
  username: z.string(),
  /** The request to read to the helpdesk, in groups for reading aloud; it encodes device, user and slot, not a secret. */
  request: z.string(),
  /** Unused offline emergency slots left for the user on this device, this one included. */
  slotsLeft: Count,
});

export const ResetStoreResponseSchema = result({
  /** Where the unusable store's files were moved (kept for IT); null when there were none to move. */
  setAsideTo: z.string().nullable(),
});

export const SyncResponseSchema = result({
  uploaded: Count,
  /** Events still waiting after this sync (0 when everything was acknowledged). */
  pendingEvents: Count,
  resetsApplied: Count,
  syncedAt: EpochMs,
});

// ---- the map -------------------------------------------------------------------------------------------------

/** Channel → the AgentService method that serves it, its request and its response. The only list of channels. */
export const IPC_CONTRACT = {
  'agent:config': { method: 'config', request: Empty, response: ConfigResponseSchema },
  'agent:status': { method: 'status', request: Empty, response: StatusResponseSchema },
  'agent:login': { method: 'login', request: LoginRequestSchema, response: LoginResponseSchema },
  'agent:emergency-request': {
    method: 'emergencyRequest',
    request: EmergencyRequestRequestSchema,
    response: EmergencyRequestResponseSchema,
  },
  'agent:emergency-submit': {
    method: 'emergencySubmit',
    request: EmergencySubmitRequestSchema,
    response: LoginResponseSchema,
  },
  'agent:sync-now': { method: 'syncNow', request: Empty, response: SyncResponseSchema },
  'agent:reset-store': { method: 'resetStore', request: Empty, response: ResetStoreResponseSchema },
} as const;

export type IpcChannel = keyof typeof IPC_CONTRACT;
export const IPC_CHANNELS = Object.keys(IPC_CONTRACT) as IpcChannel[];
export type IpcMethod<C extends IpcChannel> = (typeof IPC_CONTRACT)[C]['method'];

/** What the renderer sends (defaults not yet applied). */
export type IpcRequestInput<C extends IpcChannel> = z.input<(typeof IPC_CONTRACT)[C]['request']>;
/** What the core receives (validated, defaults applied). */
export type IpcRequest<C extends IpcChannel> = z.output<(typeof IPC_CONTRACT)[C]['request']>;
export type IpcResponse<C extends IpcChannel> = z.output<(typeof IPC_CONTRACT)[C]['response']>;
/** What the core may return: the response type before unknown fields are dropped. */
export type IpcResponseInput<C extends IpcChannel> = z.input<(typeof IPC_CONTRACT)[C]['response']>;

export type LoginResponse = IpcResponse<'agent:login'>;
export type StatusResponse = IpcResponse<'agent:status'>;
export type SyncResponse = IpcResponse<'agent:sync-now'>;

/** What the core's AgentService implements: one method per channel, taking the validated request. */
export type AgentApi = {
  [C in IpcChannel as IpcMethod<C>]: (request: IpcRequest<C>) => Promise<IpcResponseInput<C>>;
};

/** What the renderer sees as `window.lifeline`: one function per channel, nothing else. */
export type RendererApi = {
  [C in IpcChannel as IpcMethod<C>]: (request: IpcRequestInput<C>) => Promise<IpcResponse<C>>;
};

export function isIpcChannel(name: string): name is IpcChannel {
  return Object.hasOwn(IPC_CONTRACT, name);
}

export function ipcFailure(
  error: ErrorCode,
  message: string,
  extra: Omit<IpcFailure, 'ok' | 'error' | 'message'> = {},
): IpcFailure {
  return { ok: false, error, message, ...extra };
}

/**
 * The door both shells share: validate the payload as `unknown`, call the core, and pass its answer through the
 * response schema. Never throws; a throwing core becomes `internal` (its message is not forwarded: it may say
 * more than the renderer should know), a LifelineError keeps its stable code and message.
 */
export async function dispatchIpc(
  api: AgentApi,
  channel: string,
  payload: unknown,
): Promise<IpcResponse<IpcChannel> | IpcFailure> {
  if (!isIpcChannel(channel)) return ipcFailure('not_found', 'No such channel.');
  const entry = IPC_CONTRACT[channel];
  const parsed = entry.request.safeParse(payload);
  if (!parsed.success)
    return ipcFailure(
      'validation_failed',
      parsed.error.issues[0]?.message ?? 'The request does not match the contract.',
    );
  let answer: unknown;
  try {
    const handler = api[entry.method] as (request: unknown) => Promise<unknown>;
    answer = await handler.call(api, parsed.data);
  } catch (err) {
    if (err instanceof LifelineError) {
      return ipcFailure(
        err.code,
        err.message,
        err.extra.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: err.extra.retryAfterSeconds },
      );
    }
    return ipcFailure('internal', 'The agent failed unexpectedly; try again.');
  }
  const checked = entry.response.safeParse(answer);
  if (!checked.success) return ipcFailure('internal', 'The agent gave an answer outside its contract.');
  return checked.data;
}

// ---- what both shells serve to the renderer --------------------------------------------------------------------

/**
 * The renderer's Content Security Policy, sent as a header by both shells: only its own script and style, no
 * inline code, no eval, no frames, no forms posting elsewhere. `connect-src 'self'` is what the browser shell's
 * HTTP transport needs; under Electron the renderer only talks through the preload.
 */
export const RENDERER_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * URL path → file under src-renderer/, with its content type. Shells serve exactly these and nothing else, so no
 * path from a request ever reaches the file system.
 */
export const RENDERER_ASSETS: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
  '/renderer.js': { file: 'dist/renderer.js', type: 'text/javascript; charset=utf-8' },
};

/**
 * The header the browser shell's page sends its session id in (kept in sessionStorage). A header, not a cookie: a
 * browser sends 127.0.0.1's cookies to every port of 127.0.0.1, but attaches a header only where the page's code does.
 */
export const BROWSER_SESSION_HEADER = 'x-lifeline-session';
