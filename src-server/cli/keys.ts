import path from 'node:path';
import { KEY_FILE } from '../bootstrap.js';
import { activateNextSigningKey, listSigningKeys, retireSigningKey, stageNextSigningKey } from '../keyfile.js';

/**
 * `keys list|stage|activate|retire <fingerprint>`: rotating the server's signing key without stranding agents
 * (docs/deployment.md). Every instance of a deployment reads the same key file, so after a change the file is
 * copied to each instance and each is restarted.
 */
export type KeysAction =
  { action: 'list' } | { action: 'stage' } | { action: 'activate' } | { action: 'retire'; fingerprint: string };

export function keysCommand(
  dataDir: string,
  keyFile: string | undefined,
  command: KeysAction,
  now: number,
  out: (s: string) => void,
): number {
  const file = keyFile ?? path.join(dataDir, KEY_FILE);
  try {
    switch (command.action) {
      case 'list':
        for (const k of listSigningKeys(file))
          out(`${k.state.padEnd(8)} ${k.fingerprint}  created ${new Date(k.createdAt).toISOString()}\n`);
        return 0;
      case 'stage': {
        const fp = stageNextSigningKey(file, now);
        out(
          `Staged next signing key ${fp}.\nRestart the server(s): agents learn it at their next sync. IT may also add it to SERVER_KEY.\nWhen every device has synced, run: keys activate\n`,
        );
        return 0;
      }
      case 'activate': {
        const fp = activateNextSigningKey(file);
        out(
          `Signing key ${fp} is now current; the previous key stays accepted. Restart the server(s).\nLater, revoke the old key with: keys retire <fingerprint>\n`,
        );
        return 0;
      }
      case 'retire': {
        const fp = retireSigningKey(file, command.fingerprint);
        out(`Retired signing key ${fp}: agents are no longer told to accept it. Restart the server(s).\n`);
        return 0;
      }
    }
  } catch (err) {
    out(`keys ${command.action}: ${(err as Error).message}\n`);
    return 1;
  }
}
