import { describe, expect, it } from 'vitest';
import { parseCli, UsageError } from '../../src-server/cli/args.js';
import { DEFAULT_HTTP_TIMEOUTS } from '../../src-server/http/timeouts.js';

describe('--headers-timeout, --request-timeout, --idle-timeout, --keep-alive-timeout', () => {
  it("default to the server's timeouts; each flag overrides its own", () => {
    expect(parseCli([]).timeouts).toEqual(DEFAULT_HTTP_TIMEOUTS);
    expect(parseCli(['--request-timeout', '20000', '--keep-alive-timeout', '5000']).timeouts).toEqual({
      ...DEFAULT_HTTP_TIMEOUTS,
      requestMs: 20_000,
      keepAliveMs: 5_000,
    });
  });

  it('refuses values that are not whole milliseconds in range, and a header timeout past the request timeout', () => {
    for (const argv of [
      ['--headers-timeout', '0'],
      ['--idle-timeout', 'soon'],
      ['--request-timeout', '1.5'],
      ['--keep-alive-timeout', '9999999'],
    ]) {
      expect(() => parseCli(argv)).toThrow(UsageError);
    }
    expect(() => parseCli(['--headers-timeout', '20000', '--request-timeout', '15000'])).toThrow(/cannot be longer/);
  });
});
