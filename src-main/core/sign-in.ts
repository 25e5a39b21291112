import { foldUsername } from '../../src-shared/usernames.js';
import type { AgentConfig } from './agent-config.js';
import type { DeviceState } from './device.js';
import type { Enrollment } from './enrollment.js';
import type { LocalStore } from './local-store.js';
import { failure, type LoginOutcome, type LoginRequest } from './login-outcome.js';
import type { OfflineLogin } from './offline-login.js';
import type { OnlineLogin } from './online-login.js';

/**
 * Online first, within the reachability budget; offline when the server cannot be reached in time. A server
 * that answered decides: its refusal is never retried offline. A 5xx is no answer (server-client.ts): above all
 * the 503 `unavailable` of an instance shedding load, which checked nothing and counted nothing, so the agent
 * verifies offline as if the server were unreachable (test/integration/agent/server-busy.test.ts).
 */
export async function signIn(
  parts: { config: AgentConfig; enrollment: Enrollment; online: OnlineLogin; offline: OfflineLogin; local: LocalStore },
  req: LoginRequest,
): Promise<LoginOutcome> {
  const { config, enrollment, local } = parts;
  // The server's folding of usernames, so offline lookups find what online stored.
  const username = foldUsername(req.username);
  const deadline = Date.now() + config.reachabilityBudgetMs;
  let device: DeviceState | null;
  try {
    device = await enrollment.ensureEnrolled(config.reachabilityBudgetMs);
  } catch (err) {
    return failure(err);
  }
  if (device) {
    const remaining = Math.max(100, deadline - Date.now());
    const online = await parts.online.attempt(device, { ...req, username }, remaining);
    if (online) return online;
  }
  if (!local.open) return { ...local.unavailable(), mode: 'offline' };
  return parts.offline.login({ ...req, username });
}
