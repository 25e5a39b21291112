import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import type { TestServer } from './server.js';

/**
 * The set-up API test files share: `start` makes a harness before the file's tests ('all') or before each test
 * ('each'), `use` hands it to the file's own variables, and its server is closed after them. Kept apart from
 * admin.ts because Playwright specs and benchmarks import that file, and they must not load vitest.
 */
export function useHarness<H extends { server: TestServer }>(
  scope: 'all' | 'each',
  start: () => Promise<H>,
  use: (harness: H) => void,
): void {
  let current: H | undefined;
  (scope === 'all' ? beforeAll : beforeEach)(async () => {
    current = await start();
    use(current);
  });
  (scope === 'all' ? afterAll : afterEach)(async () => {
    await current?.server.close();
    current = undefined;
  });
}
