import type { ConfigKey } from './schema.js';

/**
 * The installer command-line properties IT passes (`msiexec /i Lifeline.msi SERVER_URL=… /qn`,
 * `Lifeline-Setup.exe /S /SERVER_URL=…`) and the configuration key each one sets. build/installer.nsh and
 * build/msi-project-created.cjs use exactly these names; a test keeps them in step.
 */
export const INSTALLER_PROPERTIES = {
  SERVER_URL: 'serverUrl',
  ENROLLMENT_SECRET: 'enrollmentSecret',
  SERVER_KEY: 'serverKeyFingerprints',
  SERVER_CA_FILE: 'serverCaFile',
  KIOSK: 'kiosk',
  ALWAYS_ON_TOP: 'alwaysOnTop',
  REACHABILITY_BUDGET_MS: 'reachabilityBudgetMs',
} as const satisfies Record<string, ConfigKey>;

export type InstallerProperty = keyof typeof INSTALLER_PROPERTIES;

/** The agent's own flag for each property, used by the installers' custom actions: SERVER_URL → --server-url. */
export function propertyFlag(property: InstallerProperty): string {
  return `--${property.toLowerCase().replace(/_/g, '-')}`;
}

/** Converts installer strings to typed values; the schema then checks them. */
export function propertyValue(property: InstallerProperty, raw: string): unknown {
  switch (INSTALLER_PROPERTIES[property]) {
    case 'serverKeyFingerprints':
      return raw
        .split(/[,;\s]+/)
        .filter(Boolean)
        .map((s) => s.toLowerCase());
    case 'kiosk':
    case 'alwaysOnTop':
      return /^(1|true|yes|on)$/i.test(raw.trim()) ? true : /^(0|false|no|off|)$/i.test(raw.trim()) ? false : raw;
    case 'reachabilityBudgetMs':
      return /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw;
    default:
      return raw.trim();
  }
}
