import type { Purpose } from '../../src-shared/codes.js';
import { normalizeCode } from '../../src-shared/codes.js';
import { openBundle, verifyBundle } from '../../src-shared/crypto/bundle.js';
import { verifyServerMessage } from '../../src-shared/crypto/device-messages.js';
import { LifelineError, type ErrorCode } from '../../src-shared/errors.js';
import {
  DeviceLoginResponseSchema,
  DeviceRevokedResponseSchema,
  encodeEmergencyRequest,
  formatEmergencyRequest,
  PROTOCOL_VERSION,
  SIGNATURE_DOMAINS,
  type BundleContent,
  type BundleDelta,
  type HeldState,
  type LoginResult,
  type Signed,
  type WipeOrder,
} from '../../src-shared/protocol/index.js';
import { AgentConfigSchema, type AgentConfig, type AgentConfigInput } from './agent-config.js';
import { deviceState, enroll, loadDeviceKeys, serverRefused, signedHeaders, type DeviceKeys, type DeviceState } from './device.js';
import { verifyOffline, type ClockState, type OfflineResult, type SealedVerifier } from './offline-verify.js';
import { appendEvent, pendingCounts } from './outbox.js';
import { silentLogger, systemClock, type AgentLogger, type Clock, type HttpFetch, type Keychain, type MachineId } from './ports.js';
import { fetchTrustingCas, readCaBundle } from './http-tls.js';
import { DEFAULT_REACHABILITY_TIMING, Reachability, type ReachabilityTiming } from './reachability.js';
import { ServerClient, type ServerAnswer } from './server-client.js';
import { AgentStore, KEYCHAIN, storeDamaged, storeTampered, StoreUnavailable } from './store/store.js';
import { SyncEngine, type SyncOutcome, type SyncTiming } from './sync.js';
import { newUserRecord, UserRecordSchema, type UserRecord } from './user-record.js';
import { VerifierBuilder } from './verifier-builder.js';
import { computeVerifier } from './verifier-hash.js';
import { foldUsername } from '../../src-shared/usernames.js';
import { meetsVerifierFloor, VERIFIER_SCRYPT_FLOOR, type VerifierCost } from '../../src-shared/verifier-floor.js';

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

export type LoginOutcome =
  | { ok: true; mode: 'online' | 'offline'; method: LoginResult['method']; username: string; preparing: boolean }
  | { ok: false; mode?: 'online' | 'offline'; error: ErrorCode; message: string; retryAfterSeconds?: number; lockedUntil?: number; triesLeft?: number };

/** Offline events are offered to the server this soon after they happen (then with backoff). */
const RETRY_AFTER_OFFLINE_MS = 5_000;

/** The server's folding of usernames, so offline lookups find what online stored. */
export const normalizeUsername = foldUsername;

/**
 * The agent in plain Node: online login through the server with a bounded wait, offline verification from the
 * encrypted store otherwise, the background verifier builder and the sync engine. The shells wrap it in
 * AgentService; nothing here returns a key, a code, a PIN or a verifier.
 */
export class AgentCore {
  readonly config: AgentConfig;
  readonly clock: Clock;
  readonly log: AgentLogger;
  readonly client: ServerClient;
  private syncEngine: SyncEngine | null = null;
  private builder: VerifierBuilder | null = null;
  private storeRef: AgentStore | null = null;
  private offlineErr: LifelineError | null;
  /** The device as the server named it when there is no store to keep it in (online-only, in memory). */
  private onlineDevice: DeviceState | null = null;
  private readonly keychainPort: Keychain;
  private readonly verifierFloor: VerifierCost;
  /** Difference between the server's clock and ours at the last answer, for signing request timestamps. */
  private serverOffsetMs = 0;
  /** The server's time at the last answer and the monotonic clock then (wall-clock changes do not move it). */
  private contact: { serverTime: number; mono: number } | null = null;
  /** Whether the server answers, decided within the budget; what the status reports. */
  readonly reachability: Reachability;

  private constructor(
    private readonly deps: AgentDeps,
    store: AgentStore | null,
    offlineError: LifelineError | null,
    private keys: DeviceKeys | null,
    private readonly machineIdHash: string,
  ) {
    this.config = AgentConfigSchema.parse(deps.config);
    this.keychainPort = deps.keychain;
    this.verifierFloor = deps.verifierScryptFloor ?? VERIFIER_SCRYPT_FLOOR;
    this.clock = deps.clock ?? systemClock;
    this.log = deps.log ?? silentLogger;
    this.client = new ServerClient(this.config.serverUrl, deps.fetch ?? ((url, init) => fetch(url, init)), this.log);
    this.reachability = new Reachability(this.client, this.clock, this.config.reachabilityBudgetMs, { ...DEFAULT_REACHABILITY_TIMING, ...deps.reachabilityTiming });
    this.offlineErr = offlineError;
    if (store) this.useStore(store);
  }

  /** The open store; null while offline mode is unavailable (online sign-in works without it). */
  get store(): AgentStore | null {
    return this.storeRef;
  }

  get sync(): SyncEngine | null {
    return this.syncEngine;
  }

  /** Why offline mode is unavailable, when it is: a stable code and a message that says what to do. */
  get offlineError(): LifelineError | null {
    return this.offlineErr;
  }

  private useStore(store: AgentStore): void {
    this.storeRef = store;
    this.offlineErr = null;
    this.onlineDevice = null;
    this.builder = new VerifierBuilder(store, this.log);
    this.syncEngine = new SyncEngine(this, store, this.deps.autoSync ?? true, this.deps.syncTiming);
  }

  static async start(depsIn: AgentDeps): Promise<AgentCore> {
    const config = AgentConfigSchema.parse(depsIn.config);
    // A private CA (serverCaFile) needs node:https (http-tls.ts), else the global fetch; a bad CA file stops the start.
    const deps = !depsIn.fetch && config.serverCaFile ? { ...depsIn, fetch: fetchTrustingCas(readCaBundle(config.serverCaFile)) } : depsIn;
    const log = deps.log ?? silentLogger;
    const machineIdHash = await deps.machineId.hash();
    let store: AgentStore | null = null;
    try {
      store = await AgentStore.open({ dataDir: config.dataDir, keychain: deps.keychain, machineId: deps.machineId, log });
      const keys = await loadDeviceKeys(deps.keychain, false);
      checkDeviceKeys(deviceState(store), keys);
      const core = new AgentCore(deps, store, null, keys, machineIdHash);
      if (store.rolledBack) await core.recordTampering('store-rollback');
      if (pendingCounts(store).total > 0) core.sync?.kick(RETRY_AFTER_OFFLINE_MS);
      core.reachability.start();
      return core;
    } catch (err) {
      // A store that cannot be used turns offline mode off, never online sign-in: the device keys are in the
      // keychain and the server names the device again for them (docs/agent.md, "When the offline store fails").
      store?.close();
      const reason = storeDamaged(err);
      log.warn('[agent] offline mode unavailable', { reason: reason.code });
      const keys = reason.code === 'keychain_unavailable' ? null : await loadDeviceKeys(deps.keychain, false).catch(() => null);
      const core = new AgentCore(deps, null, reason, keys, machineIdHash);
      core.reachability.start();
      return core;
    }
  }

  /**
   * Sets a store that cannot be used aside (moved to a timestamped folder beside it, kept for IT) and starts a new
   * one, which reports the loss to the server at the next sync. Only while offline mode is off because of the store.
   */
  async resetStore(): Promise<{ ok: true; setAsideTo: string | null } | { ok: false; error: ErrorCode; message: string }> {
    const why = this.offlineErr;
    if (!why || this.storeRef) return { ok: false, error: 'conflict', message: 'The offline store works; there is nothing to reset.' };
    if (why.code === 'keychain_unavailable') return { ok: false, error: why.code, message: why.message };
    const { config } = this;
    try {
      // A store bound to another machine came with that machine's device keys: this one enrolls as itself.
      if (why instanceof StoreUnavailable && why.foreign) for (const name of [KEYCHAIN.deviceSign, KEYCHAIN.deviceBox]) await this.keychainPort.delete(name);
      const { store, setAsideTo } = await AgentStore.reset({ dataDir: config.dataDir, keychain: this.keychainPort, machineId: this.deps.machineId, log: this.log, at: this.clock.now() });
      this.keys = await loadDeviceKeys(this.keychainPort, false);
      this.useStore(store);
      this.sync?.kick();
      return { ok: true, setAsideTo };
    } catch (err) {
      const reason = storeDamaged(err);
      this.offlineErr = reason;
      return { ok: false, error: reason.code, message: reason.message };
    }
  }

  /** The deviceKeys port for the sync engine; created with the first enrollment. */
  deviceKeys(): DeviceKeys | null {
    return this.keys;
  }

  device(): DeviceState {
    return this.store ? deviceState(this.store) : this.onlineDevice ?? { deviceId: null, status: 'unenrolled', serverKeys: [] };
  }

  /** The server's notion of now, for request timestamps (an agent clock that is off must not void its signatures). */
  serverNow(): number {
    return this.clock.now() + this.serverOffsetMs;
  }

  /** Records a successful exchange with the server: contact time, server time, and a trusted clock floor. */
  async noteContact(serverTime: number): Promise<void> {
    const now = this.clock.now();
    this.serverOffsetMs = serverTime - now;
    this.contact = { serverTime, mono: performance.now() };
    this.reachability.record(true);
    if (!this.store) return;
    // The server's time is the trusted floor: contact ends a clock-back refusal (DESIGN §5) and replaces a mark
    // pushed ahead by a clock set forward; a clock that is still wrong is caught again at the next offline login.
    const next: ClockState = { highWater: serverTime, lastContactAt: now, backReported: false };
    await this.store.commit(() => this.store!.putState('clock', next), { bump: false });
  }

  noteUnreachable(): void {
    this.reachability.record(false);
  }

  // ---- enrollment ----------------------------------------------------------------------------------------------

  /** Enrolls on first use. Returns the device state, or null when the server could not be reached in time. */
  async ensureEnrolled(timeoutMs: number): Promise<DeviceState | null> {
    const store = this.store;
    if (!store) return this.enrollOnlineOnly(timeoutMs);
    const current = deviceState(store);
    this.keys ??= await loadDeviceKeys(this.keychainPort, !current.deviceId);
    if (!this.keys) throw new LifelineError('store_tampered', 'The device keys are missing from the keychain beside an enrolled store.', 409);
    if (current.deviceId) return current;
    const result = await enroll({ config: this.config, client: this.client, keys: this.keys, machineIdHash: this.machineIdHash, timeoutMs });
    if (!result.reachable) {
      this.noteUnreachable();
      return null;
    }
    await store.commit(() => store.putState('device', { ...result.state, signingKey: this.keys!.signing.publicKey } satisfies DeviceState));
    await this.noteContact(result.serverTime);
    this.log.info('[device] enrolled', { status: result.state.status });
    return result.state;
  }

  /**
   * Without a store, the device is the one the keychain's keys belong to: enrolling the same signing key again
   * returns the same device (devices.ts), so the server names it, in memory, for online sign-in only. Keys missing
   * from the keychain are created (a new device, pending approval); a store copied from another machine, or no
   * keychain at all, leaves nothing to act as.
   */
  private async enrollOnlineOnly(timeoutMs: number): Promise<DeviceState | null> {
    if (this.onlineDevice) return this.onlineDevice;
    const why = this.offlineErr;
    if (why && (why.code === 'keychain_unavailable' || (why instanceof StoreUnavailable && why.foreign))) throw why;
    this.keys ??= await loadDeviceKeys(this.keychainPort, true);
    const result = await enroll({ config: this.config, client: this.client, keys: this.keys!, machineIdHash: this.machineIdHash, timeoutMs });
    if (!result.reachable) {
      this.noteUnreachable();
      return null;
    }
    this.onlineDevice = result.state;
    await this.noteContact(result.serverTime);
    return result.state;
  }

  // ---- login ---------------------------------------------------------------------------------------------------

  /**
   * Online first, within the reachability budget; offline when the server cannot be reached in time. A server
   * that answered decides: its refusal is never retried offline. A 5xx is no answer (server-client.ts): above all
   * the 503 `unavailable` of an instance shedding load, which checked nothing and counted nothing, so the agent
   * verifies offline as if the server were unreachable (test/integration/agent/server-busy.test.ts).
   */
  async login(req: { username: string; pin: string; code: string; purpose: Purpose }): Promise<LoginOutcome> {
    const username = normalizeUsername(req.username);
    const deadline = Date.now() + this.config.reachabilityBudgetMs;
    let device: DeviceState | null;
    try {
      device = await this.ensureEnrolled(this.config.reachabilityBudgetMs);
    } catch (err) {
      return failure(err);
    }
    if (device) {
      const remaining = Math.max(100, deadline - Date.now());
      const online = await this.loginOnline(device, { ...req, username }, remaining);
      if (online) return online;
    }
    if (!this.store) return { ...this.unavailable(), mode: 'offline' };
    return this.loginOffline({ ...req, username });
  }

  private async loginOnline(device: DeviceState, req: { username: string; pin: string; code: string; purpose: Purpose }, timeoutMs: number): Promise<LoginOutcome | null> {
    // Without a store (offline mode off) the server still decides; nothing is cached from its answer.
    const store = this.store;
    const keys = this.keys!;
    const deviceId = device.deviceId!;
    const ref = store?.userRef(req.username);
    const record = store && ref ? store.getUser(ref, UserRecordSchema) : undefined;
    const held = store && ref && record ? heldState(store, ref, record) : undefined;
    const body = { v: PROTOCOL_VERSION, username: req.username, pin: req.pin, code: req.code, purpose: req.purpose, ...(held ? { held } : {}) };
    const path = '/api/v1/devices/login';
    const { answer, nonce } = await this.signedPost(keys, deviceId, path, body, timeoutMs);
    if (!answer.reachable) {
      this.noteUnreachable();
      return null;
    }
    if (answer.status === 403 && (answer.body as { error?: unknown } | null)?.error === 'device_revoked') {
      await this.handleRevoked(answer.body);
      return { ok: false, mode: 'online', error: 'device_revoked', message: 'This computer was removed from Lifeline by an administrator; its offline data was wiped.' };
    }
    if (answer.status !== 200) {
      this.reachability.record(true);
      return { mode: 'online', ...failure(serverRefused(answer.body, 'The server refused the sign-in.')) };
    }
    const parsed = DeviceLoginResponseSchema.safeParse(answer.body);
    const result = parsed.success ? parsed.data.result : undefined;
    // An unsigned or misdirected 'yes' unlocks nothing: only a pinned server key, for this device and this request.
    if (!result || !verifyServerMessage(device.serverKeys, SIGNATURE_DOMAINS.loginResult, result) || result.payload.deviceId !== deviceId || result.payload.requestNonce !== nonce) {
      this.log.warn('[login] the server answer was not signed by a trusted key for this request');
      return { ok: false, mode: 'online', error: 'bad_signature', message: 'The server\'s answer could not be verified; the sign-in was refused.' };
    }
    const r = result.payload;
    await this.noteContact(r.serverTime);
    if (!store) {
      this.onlineDevice = { ...device, status: r.deviceStatus };
      return { ok: true, mode: 'online', method: r.method, username: r.username, preparing: false };
    }
    if (device.status !== r.deviceStatus) await store.commit(() => store.putState('device', { ...deviceState(store), status: r.deviceStatus }), { bump: false });

    const known = store.getUser(store.userRef(r.username), UserRecordSchema);
    if (known && (known.failures > 0 || known.lockedUntil !== null)) {
      // The server just confirmed the user: offline failures before this are no longer consecutive.
      await store.commit(() => store.putUser(store.userRef(r.username), { ...known, failures: 0, lockedUntil: null }));
    }
    let preparing = false;
    if (r.deviceStatus === 'approved') {
      if (r.method === 'temporary') await this.cacheTemporary(r, req.pin, req.code);
      if (parsed.success && parsed.data.bundle) preparing = await this.acceptBundle(parsed.data.bundle, r, req.pin);
    }
    this.sync?.kick();
    return { ok: true, mode: 'online', method: r.method, username: r.username, preparing };
  }

  /**
   * A device-signed POST. The signature covers a timestamp the server accepts within ±5 minutes of its own clock,
   * and the workstation clock may be wrong (set forward or back: part of the threat model). So the agent signs with
   * its best guess of the server's time and, if the server refuses the signature, re-signs (fresh nonce) with the
   * next guess that differs: wall clock plus the offset seen at the last answer; the last answer's server time plus
   * the time elapsed on the monotonic clock (right even if the wall clock was changed since); the Date header of
   * the refusal (right after a sleep, which the monotonic clock may not count).
   */
  async signedPost(keys: DeviceKeys, deviceId: string, path: string, body: unknown, timeoutMs: number): Promise<{ answer: ServerAnswer; nonce: string }> {
    const started = Date.now();
    let refusalDate: number | null = null;
    const estimates: (() => number | null)[] = [
      () => this.serverNow(),
      () => (this.contact ? this.contact.serverTime + (performance.now() - this.contact.mono) : null),
      () => refusalDate,
    ];
    const tried: number[] = [];
    let last: { answer: ServerAnswer; nonce: string } | undefined;
    for (const estimate of estimates) {
      const at = estimate();
      if (at === null || tried.some((t) => Math.abs(t - at) < 60_000)) continue;
      tried.push(at);
      const headers = signedHeaders(keys, deviceId, path, body, Math.round(at));
      const answer = await this.client.post(path, body, { headers, timeoutMs: Math.max(100, timeoutMs - (Date.now() - started)) });
      last = { answer, nonce: headers['x-lifeline-nonce']! };
      const refused = answer.reachable && answer.status === 401 && (answer.body as { error?: unknown } | null)?.error === 'bad_signature';
      if (!refused) return last;
      refusalDate = answer.date;
      this.log.warn('[http] the server refused the request time; signing again with another estimate of its clock');
    }
    return last!; // the first estimate always exists
  }

  private async loginOffline(req: { username: string; pin: string; code: string; purpose: Purpose }): Promise<LoginOutcome> {
    const deviceId = this.device().deviceId;
    if (!deviceId) {
      const tls = this.client.lastFailure?.reason === 'tls' ? this.client.lastFailure.detail : undefined;
      const message = tls
        ? `This computer does not trust the server's TLS certificate (${tls}), so it could not enroll; ask IT to check the serverCaFile setting.`
        : 'The server cannot be reached and this computer has no offline data yet.';
      return { ok: false, mode: 'offline', error: 'server_unreachable', message };
    }
    const result = await verifyOffline({ store: this.requireStore(), clock: this.clock, config: this.config, log: this.log, deviceId }, req);
    this.sync?.kick(RETRY_AFTER_OFFLINE_MS); // what just happened waits in the outbox for the network
    return offlineOutcome(result);
  }

  /**
   * A multi-use temporary code typed at an online login becomes a PIN-bound verifier until it expires; a single-use
   * one was used up by that very login, and it replaced any earlier code, so the cached one goes.
   */
  private async cacheTemporary(r: LoginResult, pin: string, code: string): Promise<void> {
    const store = this.requireStore();
    const ref = store.userRef(r.username);
    const existing = store.getUser(ref, UserRecordSchema);
    const record = existing ?? newUserRecord(r.username, {});
    if (!record.offline.allowed) return;
    const multiUse = r.temporary?.multiUse === true && r.temporary.expiresAt > this.clock.now();
    let hash: Buffer | undefined;
    if (multiUse) {
      const pinBuf = Buffer.from(pin, 'utf8');
      const codeBuf = Buffer.from(normalizeCode(code), 'utf8');
      hash = await computeVerifier({ kind: 'temporary', position: 0, username: r.username, deviceId: r.deviceId, pin: pinBuf, code: codeBuf }, record.offline.verifierScrypt);
      pinBuf.fill(0);
      codeBuf.fill(0);
    }
    await store.commit(() => {
      store.deleteVerifiers(ref, 'temporary');
      if (hash) store.putVerifier(ref, 'temporary', 0, { hash: hash.toString('base64url'), expiresAt: r.temporary!.expiresAt, scrypt: record.offline.verifierScrypt } satisfies SealedVerifier);
      // The verifier is bound to the PIN of this generation; a user known here only by temporary codes learns it now,
      // so a later PIN change arrives as a reset. (A user with offline data has it from the bundle already.)
      const pinGeneration = record.pinGeneration ?? r.pinGeneration ?? null;
      store.putUser(ref, { ...record, pinGeneration, temporaryExpiresAt: hash ? r.temporary!.expiresAt : null });
    });
    hash?.fill(0);
  }

  /** Checks a bundle delta (pinned key, this device, this user, a newer sequence, not expired), applies it, and queues the hashing. */
  private async acceptBundle(bundle: BundleDelta, r: LoginResult, pin: string): Promise<boolean> {
    const store = this.requireStore();
    const ref = store.userRef(r.username);
    const existing = store.getUser(ref, UserRecordSchema);
    const checked = verifyBundle(bundle, { pinned: this.device().serverKeys, deviceId: r.deviceId, username: r.username, lastSequence: existing?.lastSequence ?? 0, now: this.clock.now() });
    if (!checked.ok) {
      this.log.warn('[bundle] refused a bundle delta', { reason: checked.error });
      return false;
    }
    let content: BundleContent;
    try {
      content = openBundle(checked.delta, this.keys!.box);
    } catch {
      this.log.warn('[bundle] a signed bundle delta did not open with this device\'s key');
      return false;
    }
    // Whatever the server sent, verifiers are never made cheaper to attack than the floor this agent ships with.
    if (!meetsVerifierFloor(content.offline.verifierScrypt, this.verifierFloor)) {
      this.log.warn('[bundle] refused a bundle whose verifier parameters are below the floor', { N: content.offline.verifierScrypt.N, r: content.offline.verifierScrypt.r });
      content.slots.length = 0;
      if (content.tokenWindows) content.tokenWindows.codes = '';
      return false;
    }
    const { header } = checked.delta;
    const base = existing ?? newUserRecord(r.username, content.offline);
    const tokenChanged = base.tokenGeneration !== header.tokenGeneration;
    const pinChanged = base.pinGeneration !== header.pinGeneration;
    const record: UserRecord = {
      ...base,
      offline: content.offline,
      lastSequence: header.sequence,
      bundleExpiresAt: header.expiresAt,
      pinGeneration: header.pinGeneration,
      tokenGeneration: header.tokenGeneration,
      ...(content.tokenWindows ? { periodSeconds: content.tokenWindows.period, digits: content.tokenWindows.digits } : {}),
    };
    if (header.replaceWindows || tokenChanged || pinChanged) record.windowsUntil = null;
    if (content.tokenWindows && header.windowsTo >= header.windowsFrom) record.windowsUntil = Math.max(record.windowsUntil ?? -1, header.windowsTo);
    await store.commit(() => {
      if (header.replaceWindows || tokenChanged || pinChanged) store.deleteVerifiers(ref, 'token');
      // A PIN change voids the cached temporary code too (it is PIN-bound); slots are not.
      if (pinChanged && existing) store.deleteVerifiers(ref, 'temporary');
      const active = new Set(content.activeSlots);
      for (const row of store.verifiers(ref, 'slot')) if (!active.has(row.position)) store.deleteVerifier(ref, 'slot', row.position);
      store.putUser(ref, record);
    });
    const job = buildJob(r, ref, record, content, pin, this.clock.now());
    content.slots.length = 0;
    if (content.tokenWindows) content.tokenWindows.codes = '';
    if (!job) return false;
    this.builder!.enqueue(job);
    return true;
  }

  // ---- offline emergency access ------------------------------------------------------------------------------------

  /** The request to read to the helpdesk: device, user and the next unused slot, with a check symbol. */
  emergencyRequest(usernameInput: string): { ok: true; username: string; request: string; slotsLeft: number } | Extract<LoginOutcome, { ok: false }> {
    if (!this.store) return this.unavailable();
    const store = this.store;
    const deviceId = this.device().deviceId;
    const record = deviceId ? store.getUser(store.userRef(normalizeUsername(usernameInput)), UserRecordSchema) : undefined;
    const now = this.clock.now();
    const slots = record ? store.verifiers(store.userRef(record.username), 'slot').filter((row) => {
      const v = store.unseal<{ expiresAt?: number }>(store.verifierAad(store.userRef(record.username), 'slot', row.position), row.sealed);
      return !v.expiresAt || v.expiresAt > now;
    }) : [];
    if (!record || !deviceId || slots.length === 0) {
      return { ok: false, error: 'offline_unavailable', message: 'This computer holds no offline emergency code for this user; ask the helpdesk for a temporary code once connected.' };
    }
    const request = formatEmergencyRequest(encodeEmergencyRequest({ deviceId, username: record.username, slot: slots[0]!.position }));
    return { ok: true, username: record.username, request, slotsLeft: slots.length };
  }

  /** The code the helpdesk read back: checked against the unused slots only, offline, with or without the PIN. */
  async emergencySubmit(req: { username: string; pin?: string; code: string }): Promise<LoginOutcome> {
    if (!this.store) return this.unavailable();
    const deviceId = this.device().deviceId;
    if (!deviceId) return { ok: false, mode: 'offline', error: 'offline_unavailable', message: 'This computer holds no offline data.' };
    const username = normalizeUsername(req.username);
    const result = await verifyOffline(
      { store: this.store, clock: this.clock, config: this.config, log: this.log, deviceId },
      { username, code: req.code, purpose: 'logon', slotsOnly: true, ...(req.pin !== undefined ? { pin: req.pin } : {}) },
    );
    return offlineOutcome(result);
  }

  // ---- wipes, resets and tampering --------------------------------------------------------------------------------

  /** A revoked device wipes all its offline data, but only on a wipe order signed by a trusted server key. */
  async handleRevoked(body: unknown): Promise<boolean> {
    const store = this.store;
    if (!store) {
      if (this.onlineDevice) this.onlineDevice = { ...this.onlineDevice, status: 'revoked' };
      return false;
    }
    const parsed = DeviceRevokedResponseSchema.safeParse(body);
    const device = deviceState(store);
    const order: Signed<WipeOrder> | undefined = parsed.success ? parsed.data.wipe : undefined;
    if (!order || !verifyServerMessage(device.serverKeys, SIGNATURE_DOMAINS.wipe, order) || order.payload.deviceId !== device.deviceId) {
      this.log.warn('[device] ignored a wipe order that was not signed for this device');
      return false;
    }
    for (const ref of store.listUserRefs()) this.builder?.cancel(ref);
    const now = this.clock.now();
    await store.commit(() => {
      for (const ref of store.listUserRefs()) store.deleteUser(ref);
      store.putState('device', { ...device, status: 'revoked' });
      appendEvent(store, now, { type: 'offline-wipe', username: null, reason: 'device-revoked' });
    });
    this.log.warn('[device] this device was revoked: offline data wiped');
    return true;
  }

  /** Drops a user's background hashing (their data was reset or wiped). */
  cancelBuild(ref: string): void {
    this.builder?.cancel(ref);
  }

  isPreparing(ref: string): boolean {
    return this.builder?.busyWith(ref) ?? false;
  }

  private async recordTampering(reason: 'store-rollback'): Promise<void> {
    const store = this.requireStore();
    const now = this.clock.now();
    await store.commit(() => appendEvent(store, now, { type: 'store-tampering', reason }));
  }

  /** Resolves when background hashing and any running sync are done. */
  async whenIdle(): Promise<void> {
    await this.builder?.whenIdle();
    await this.sync?.whenIdle();
  }

  async close(): Promise<void> {
    this.builder?.stop();
    this.sync?.stop();
    await this.reachability.stop();
    await this.sync?.whenIdle().catch(() => undefined);
    this.store?.close();
  }

  requireStore(): AgentStore {
    if (!this.store) throw this.offlineErr ?? new LifelineError('offline_unavailable', 'The offline store is not open.', 503);
    return this.store;
  }

  private unavailable(): Extract<LoginOutcome, { ok: false }> {
    const err = this.offlineErr ?? new LifelineError('offline_unavailable', 'The offline store is not open.', 503);
    return { ok: false, error: err.code, message: err.message };
  }

  runSync(): Promise<SyncOutcome> {
    if (!this.sync) return Promise.resolve({ ok: false, error: this.offlineError?.code ?? 'offline_unavailable', message: this.offlineError?.message ?? 'No store.' });
    return this.sync.runNow();
  }
}

/** What the agent holds for a user, so the server sends only what is new (ignored when generations moved on). */
function heldState(store: AgentStore, ref: string, record: UserRecord): HeldState | undefined {
  if (record.tokenGeneration === null || record.pinGeneration === null) return undefined;
  return {
    throughStep: Math.max(store.maxVerifierPosition(ref, 'token') ?? 0, record.burnedThrough ?? 0),
    tokenGeneration: record.tokenGeneration,
    pinGeneration: record.pinGeneration,
    slots: store.verifiers(ref, 'slot').map((row) => row.position),
  };
}

function buildJob(r: LoginResult, ref: string, record: UserRecord, content: BundleContent, pin: string, now: number) {
  const slots = content.slots.map((s) => ({ index: s.index, code: Buffer.from(normalizeCode(s.code), 'utf8'), expiresAt: s.expiresAt }));
  let windows: { firstStep: number; digits: number; codes: Buffer } | undefined;
  const t = content.tokenWindows;
  if (t && t.codes.length > 0) {
    // Windows already in the past are useless offline: start from the one before the current (drift −1).
    const current = Math.floor(now / 1000 / t.period);
    const from = Math.max(t.firstStep, current - 1, (record.burnedThrough ?? -1) + 1);
    const skip = (from - t.firstStep) * t.digits;
    if (skip < t.codes.length) windows = { firstStep: from, digits: t.digits, codes: Buffer.from(t.codes.slice(skip), 'utf8') };
  }
  if (slots.length === 0 && !windows) return undefined;
  return { ref, username: r.username, deviceId: r.deviceId, sequence: record.lastSequence, pin: Buffer.from(pin, 'utf8'), scrypt: record.offline.verifierScrypt, slots, ...(windows ? { windows } : {}) };
}

function offlineOutcome(result: OfflineResult): LoginOutcome {
  if (result.ok) return { ok: true, mode: 'offline', method: result.method, username: result.record.username, preparing: false };
  const { ok: _ok, ...rest } = result;
  return { ok: false, mode: 'offline', ...rest };
}

function failure(err: unknown): Extract<LoginOutcome, { ok: false }> {
  if (err instanceof LifelineError) {
    const retry = err.extra.retryAfterSeconds;
    return { ok: false, error: err.code, message: err.message, ...(retry !== undefined ? { retryAfterSeconds: retry } : {}) };
  }
  return { ok: false, error: 'internal', message: 'The agent failed unexpectedly; try again.' };
}

/** An enrolled store whose device keys are gone from the keychain, or are not the ones it enrolled with, is unusable. */
function checkDeviceKeys(device: DeviceState, keys: DeviceKeys | null): void {
  if (!device.deviceId) return;
  if (!keys) throw storeTampered('the device keys are missing from the keychain beside an enrolled store');
  if (device.signingKey !== undefined && device.signingKey !== keys.signing.publicKey) throw storeTampered('the device keys in the keychain are not the ones this store enrolled with');
}
