import type { ErrorCode, LifelineError } from '../../src-shared/errors.js';
import { AgentConfigSchema, type AgentConfig, type AgentConfigInput } from './agent-config.js';
import { BundleIntake } from './bundle-intake.js';
import type { DeviceState } from './device.js';
import { DeviceWipe } from './device-wipe.js';
import { Enrollment } from './enrollment.js';
import { fetchTrustingCas, readCaBundle } from './http-tls.js';
import { LocalStore } from './local-store.js';
import type { LoginFailure, LoginOutcome, LoginRequest } from './login-outcome.js';
import { OfflineLogin, RETRY_AFTER_OFFLINE_MS } from './offline-login.js';
import { OnlineLogin } from './online-login.js';
import { pendingCounts } from './outbox.js';
import {
  silentLogger,
  systemClock,
  type AgentLogger,
  type Clock,
  type HttpFetch,
  type Keychain,
  type MachineId,
} from './ports.js';
import { DEFAULT_REACHABILITY_TIMING, type Reachability, type ReachabilityTiming } from './reachability.js';
import type { ServerClient } from './server-client.js';
import { ServerChannel } from './server-channel.js';
import { signIn } from './sign-in.js';
import { StatusView } from './status.js';
import type { AgentStore } from './store/store.js';
import { openStore, StoreRecovery } from './store-recovery.js';
import { SyncEngine, type SyncOutcome, type SyncTiming } from './sync.js';
import { VERIFIER_SCRYPT_FLOOR, type VerifierCost } from '../../src-shared/verifier-floor.js';

export interface AgentDeps {
  config: AgentConfigInput;
  keychain: Keychain;
  machineId: MachineId;
  clock?: Clock;
  fetch?: HttpFetch;
  log?: AgentLogger;
  /** Background sync after logins and retries with backoff (on by default; tests may drive sync by hand). */
  autoSync?: boolean;
  /** When background syncs run (tests shorten it). */
  syncTiming?: Partial<SyncTiming>;
  /** How fresh the status's reachability must be and how often it is checked in the background (tests shorten them). */
  reachabilityTiming?: Partial<ReachabilityTiming>;
  /** The least verifier cost a bundle may ask for (default VERIFIER_SCRYPT_FLOOR; no shell sets it, tests lower it). */
  verifierScryptFloor?: VerifierCost;
}

/**
 * The agent in plain Node: online login through the server with a bounded wait, offline verification from the
 * encrypted store otherwise, the background verifier builder and the sync engine. The shells wrap it in
 * AgentService; nothing here returns a key, a code, a PIN or a verifier.
 */
export interface Agent {
  readonly config: AgentConfig;
  readonly clock: Clock;
  readonly client: ServerClient;
  readonly reachability: Reachability;
  readonly status: StatusView;
  /** The open store; null while offline mode is unavailable (online sign-in works without it). */
  readonly store: AgentStore | null;
  readonly sync: SyncEngine | null;
  /** Why offline mode is unavailable, when it is: a stable code and a message that says what to do. */
  readonly offlineError: LifelineError | null;
  device(): DeviceState;
  ensureEnrolled(timeoutMs: number): Promise<DeviceState | null>;
  login(req: LoginRequest): Promise<LoginOutcome>;
  emergencyRequest(username: string): { ok: true; username: string; request: string; slotsLeft: number } | LoginFailure;
  emergencySubmit(req: { username: string; pin?: string; code: string }): Promise<LoginOutcome>;
  runSync(): Promise<SyncOutcome>;
  resetStore(): Promise<{ ok: true; setAsideTo: string | null } | { ok: false; error: ErrorCode; message: string }>;
  /** Resolves when background hashing and any running sync are done. */
  whenIdle(): Promise<void>;
  close(): Promise<void>;
}

/** Opens the store (or learns why it cannot be used), builds the parts around it and starts the reachability checks. */
export async function createAgent(deps: AgentDeps): Promise<Agent> {
  const config = AgentConfigSchema.parse(deps.config);
  const clock = deps.clock ?? systemClock;
  const log = deps.log ?? silentLogger;
  // A private CA (serverCaFile) needs node:https (http-tls.ts), else the global fetch; a bad CA file stops the start.
  const fetchFn: HttpFetch =
    deps.fetch ??
    (config.serverCaFile ? fetchTrustingCas(readCaBundle(config.serverCaFile)) : (url, init) => fetch(url, init));
  const machineIdHash = await deps.machineId.hash();
  const access = { config, keychain: deps.keychain, machineId: deps.machineId, clock, log };
  const opened = await openStore(access);

  const local = new LocalStore(log, opened.error);
  const channel = new ServerChannel(
    config,
    fetchFn,
    clock,
    log,
    { ...DEFAULT_REACHABILITY_TIMING, ...deps.reachabilityTiming },
    (serverTime, now) => local.recordContact(serverTime, now),
  );
  const enrollment = new Enrollment(config, channel, local, deps.keychain, log, machineIdHash, opened.keys);
  const wipe = new DeviceWipe(local, clock, log);
  let sync: SyncEngine | null = null;
  const online = new OnlineLogin(
    channel,
    enrollment,
    local,
    wipe,
    new BundleIntake(clock, log, deps.verifierScryptFloor ?? VERIFIER_SCRYPT_FLOOR),
    log,
    () => sync?.kick(),
  );
  const offline = new OfflineLogin(local, config, clock, log, channel.client, (delayMs) => sync?.kick(delayMs));
  const useStore = (store: AgentStore): SyncEngine =>
    (sync = new SyncEngine(
      { config, clock, channel, enrollment, wipe },
      local.use(store),
      deps.autoSync ?? true,
      deps.syncTiming,
    ));
  const recovery = new StoreRecovery(access, local, enrollment, (store) => useStore(store).kick());
  if (opened.store) {
    const engine = useStore(opened.store);
    if (pendingCounts(opened.store).total > 0) engine.kick(RETRY_AFTER_OFFLINE_MS);
  }
  channel.reachability.start();

  return {
    config,
    clock,
    client: channel.client,
    reachability: channel.reachability,
    status: new StatusView(() => ({ config, clock, reachability: channel.reachability, local, sync })),
    get store() {
      return local.open?.store ?? null;
    },
    get sync() {
      return sync;
    },
    get offlineError() {
      return local.error;
    },
    device: () => local.device(),
    ensureEnrolled: (timeoutMs) => enrollment.ensureEnrolled(timeoutMs),
    login: (req) => signIn({ config, enrollment, online, offline, local }, req),
    emergencyRequest: (username) => offline.emergencyRequest(username),
    emergencySubmit: (req) => offline.emergencySubmit(req),
    runSync: () =>
      sync?.runNow() ??
      Promise.resolve({
        ok: false,
        error: local.error?.code ?? 'offline_unavailable',
        message: local.error?.message ?? 'No store.',
      }),
    resetStore: () => recovery.resetStore(),
    async whenIdle() {
      await local.open?.builder.whenIdle();
      await sync?.whenIdle();
    },
    async close() {
      local.open?.builder.stop();
      sync?.stop();
      await channel.reachability.stop();
      await sync?.whenIdle().catch(() => undefined);
      local.open?.store.close();
    },
  };
}
