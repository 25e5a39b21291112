import { z } from 'zod';

/**
 * What the agent needs to run. H-deploy extends it (src-main/core/config/) with managed settings from installer
 * arguments or a policy file; managed settings override user settings there, not here.
 */
export const AgentConfigSchema = z.strictObject({
  /** The Lifeline server, e.g. https://lifeline.example.com */
  serverUrl: z.url(),
  /** Lets this device ask to enroll; an admin still approves it before it gets offline data. */
  enrollmentSecret: z.string().min(16).max(256),
  /** SHA-256 fingerprints (hex) of the server signing keys this agent trusts; two during a key rotation. */
  serverKeyFingerprints: z.array(z.string().regex(/^[0-9a-f]{64}$/)).min(1).max(8),
  /** Folder for the store (the user's app-data folder in production). */
  dataDir: z.string().min(1),
  /** Keychain service name the agent's entries live under. */
  keychainService: z.string().min(1).max(200).default('lifeline-agent'),
  /** Shown to admins when they approve the device. */
  deviceName: z.string().min(1).max(200).default('workstation'),
  /** How long the agent waits for the server before it decides offline. */
  reachabilityBudgetMs: z.number().int().min(100).max(30_000).default(2_000),
  /** Show the prompt full screen (a deterrent inside the session, not an OS boundary: docs/threat-model.md). */
  kiosk: z.boolean().default(false),
  /** Tolerance before a clock that went back counts as set back (NTP corrections are small). */
  clockBackToleranceMs: z.number().int().min(0).max(3_600_000).default(5 * 60_000),
});
export type AgentConfig = z.infer<typeof AgentConfigSchema>;
export type AgentConfigInput = z.input<typeof AgentConfigSchema>;
