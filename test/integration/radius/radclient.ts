import { execFile, spawn } from 'node:child_process';

/**
 * FreeRADIUS's own client tools (Debian freeradius-utils), so the server is checked against a RADIUS implementation
 * we did not write. Always asynchronous: the server under test runs in this same process and must keep answering.
 */
export interface RadReply {
  /** 'Access-Accept' | 'Access-Reject' | 'Access-Challenge', or undefined when radclient got no (valid) reply. */
  code: string | undefined;
  attributes: Record<string, string>;
  output: string;
}

function parseReply(output: string): RadReply {
  const lines = output.split('\n');
  const start = lines.findIndex((l) => l.startsWith('Received '));
  if (start < 0) return { code: undefined, attributes: {}, output };
  const code = /^Received (\S+)/.exec(lines[start]!)?.[1];
  const attributes: Record<string, string> = {};
  for (const line of lines.slice(start + 1)) {
    const m = /^\s+([\w-]+) = (.*)$/.exec(line);
    if (!m) break;
    attributes[m[1]!] = m[2]!.replace(/^"(.*)"$/, '$1');
  }
  return { code, attributes, output };
}

/**
 * One Access-Request through `radclient -x`. `attributes` are written as radclient's input lines; with
 * `messageAuthenticator` (the default) "Message-Authenticator = 0x00" asks radclient to sign the request.
 */
export function radclient(
  port: number,
  secret: string,
  attributes: Record<string, string>,
  options: { messageAuthenticator?: boolean; timeoutSeconds?: number } = {},
): Promise<RadReply> {
  const lines = Object.entries(attributes).map(([k, v]) => `${k} = ${v.startsWith('0x') ? v : JSON.stringify(v)}`);
  if (options.messageAuthenticator ?? true) lines.push('Message-Authenticator = 0x00');
  return new Promise((resolve, reject) => {
    const child = spawn(
      'radclient',
      ['-x', '-r', '1', '-t', String(options.timeoutSeconds ?? 1), `127.0.0.1:${port}`, 'auth', secret],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', () => resolve(parseReply(output)));
    child.stdin.end(lines.join('\n') + '\n');
  });
}

/** radtest (PAP, signs with Message-Authenticator): `radtest user password server:port 0 secret`. */
export function radtest(port: number, secret: string, username: string, password: string): Promise<RadReply> {
  return new Promise((resolve) => {
    execFile('radtest', ['-t', 'pap', username, password, `127.0.0.1:${port}`, '0', secret], (_err, stdout, stderr) =>
      resolve(parseReply(String(stdout) + String(stderr))),
    );
  });
}
