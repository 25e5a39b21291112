import { z } from 'zod';
import { AgentConfigFields, DEFAULTS } from './config/schema.js';

/**
 * The agent's configuration, the one type of it. Every managed key reuses the checks of
 * src-main/core/config/schema.ts, the one definition of each key that the machine policy, the user settings and the
 * installers go through too; the shells load and merge those sources (config/load.ts) and hand the result here as
 * it is, with the agent-internal fields below.
 */
export const AgentConfigSchema = z.strictObject({
  serverUrl: AgentConfigFields.serverUrl,
  enrollmentSecret: AgentConfigFields.enrollmentSecret,
  serverKeyFingerprints: AgentConfigFields.serverKeyFingerprints,
  serverCaFile: AgentConfigFields.serverCaFile.optional(),
  reachabilityBudgetMs: AgentConfigFields.reachabilityBudgetMs.default(DEFAULTS.reachabilityBudgetMs),
  kiosk: AgentConfigFields.kiosk.default(DEFAULTS.kiosk),
  // Read by the shells (the prompt window, the log file); the core itself does not use them.
  alwaysOnTop: AgentConfigFields.alwaysOnTop.default(DEFAULTS.alwaysOnTop),
  logLevel: AgentConfigFields.logLevel.default(DEFAULTS.logLevel),
  // ---- agent-internal: set by the shell, not by IT or the user ----
  /** Folder for the store (the user's app-data folder in production). */
  dataDir: z.string().min(1),
  /** Keychain service name the agent's entries live under. */
  keychainService: z.string().min(1).max(200).default('lifeline-agent'),
  /** Shown to admins when they approve the device. */
  deviceName: z.string().min(1).max(200).default('workstation'),
  /** Tolerance before a clock that went back counts as set back (NTP corrections are small). */
  clockBackToleranceMs: z
    .number()
    .int()
    .min(0)
    .max(3_600_000)
    .default(5 * 60_000),
});
export type AgentConfig = z.infer<typeof AgentConfigSchema>;
export type AgentConfigInput = z.input<typeof AgentConfigSchema>;
