import { execFileSync } from 'node:child_process';

/**
 * Token codes from oathtool, an independent TOTP implementation, so our TOTP is checked against code we did not
 * write. `at` is epoch milliseconds (tests drive the server's clock to the same instant).
 */
export function oathtool(
  secretBase32: string,
  at: number,
  options: { digits?: 6 | 8; algorithm?: 'SHA1' | 'SHA256'; step?: number } = {},
): string {
  const args = [
    '--totp' + (options.algorithm && options.algorithm !== 'SHA1' ? `=${options.algorithm}` : ''),
    '--base32',
    `--digits=${options.digits ?? 6}`,
    `--time-step-size=${options.step ?? 30}s`,
    `--now=${new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z')}`,
    secretBase32,
  ];
  return execFileSync('oathtool', args, { encoding: 'utf8' }).trim();
}
