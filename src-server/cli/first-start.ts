import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../logger.js';

export const INITIAL_ADMIN_FILE = 'initial-admin.txt';

export interface InitialAdmin {
  username: string;
  /** Only what was generated here; a value supplied through the environment is not echoed back. */
  password?: string;
  totpSecret?: string;
  otpauthUri?: string;
}

/**
 * Shows generated first-start credentials exactly once: on a terminal they are printed; otherwise (a service
 * manager, a container) they go to a 0600 file in the data folder, so they do not end up in a system journal.
 */
export function revealInitialAdmin(
  admin: InitialAdmin,
  o: { tty: boolean; dataDir: string; log: Logger; write: (s: string) => void },
): void {
  if (admin.password === undefined && admin.totpSecret === undefined) {
    o.log.info(
      { component: 'setup', admin: admin.username },
      'superadmin created from LIFELINE_ADMIN_PASSWORD and LIFELINE_ADMIN_TOTP_SECRET',
    );
    return;
  }
  const lines = [
    `Lifeline superadmin created: ${admin.username}`,
    ...(admin.password !== undefined
      ? [`  password:    ${admin.password}`]
      : ['  password:    (from LIFELINE_ADMIN_PASSWORD)']),
    ...(admin.totpSecret !== undefined
      ? [`  TOTP secret: ${admin.totpSecret}`, `  TOTP URI:    ${admin.otpauthUri}`]
      : ['  TOTP secret: (from LIFELINE_ADMIN_TOTP_SECRET)']),
    'Add the TOTP secret to an authenticator app now; this is shown only once.',
  ];
  if (o.tty) {
    o.write('\n' + lines.join('\n') + '\n\n');
    return;
  }
  const file = path.join(o.dataDir, INITIAL_ADMIN_FILE);
  writeFileSync(file, lines.join('\n') + '\nDelete this file once the credentials are stored safely.\n', {
    mode: 0o600,
  });
  chmodSync(file, 0o600);
  o.log.warn(
    { component: 'setup', admin: admin.username, file },
    'first-start superadmin credentials written to a 0600 file; read it once, then delete it',
  );
}
