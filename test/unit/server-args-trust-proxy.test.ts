import { describe, expect, it } from 'vitest';
import { parseCli, UsageError } from '../../src-server/cli/args.js';

describe('--trust-proxy', () => {
  it('takes proxy addresses and CIDRs, comma-separated', () => {
    expect(parseCli(['--trust-proxy', '127.0.0.1, 10.0.0.0/8']).trustProxy).toEqual(['127.0.0.1', '10.0.0.0/8']);
    expect(parseCli(['--trust-proxy', 'loopback']).trustProxy).toEqual(['loopback']);
    expect(parseCli([]).trustProxy).toBeUndefined();
  });
  it('refuses anything else with one clear message', () => {
    expect(() => parseCli(['--trust-proxy', 'true; rm -rf /'])).toThrow(UsageError);
    expect(() => parseCli(['--trust-proxy', 'everyone'])).toThrow(/proxy addresses/);
  });
});
