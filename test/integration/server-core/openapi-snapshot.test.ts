import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/server.js';

/**
 * The published API document (docs/openapi.json) is what clients and integrators build against, so a refactor must
 * leave it byte-identical. After an intended API change, refresh the file with
 * `LIFELINE_UPDATE_OPENAPI=1 npx vitest run test/integration/server-core/openapi-snapshot.test.ts` and review the diff.
 */
const SNAPSHOT = new URL('../../../docs/openapi.json', import.meta.url);

describe('the OpenAPI document', () => {
  let h: TestServer;
  beforeAll(async () => {
    h = await startTestServer({ engine: 'sqlite' });
  });
  afterAll(async () => h?.close());

  it('is byte-identical to docs/openapi.json', async () => {
    const res = await fetch(`${h.url}/api/v1/openapi.json`);
    expect(res.status).toBe(200);
    const served = `${JSON.stringify(JSON.parse(await res.text()), null, 2)}\n`;
    if (process.env.LIFELINE_UPDATE_OPENAPI === '1') writeFileSync(SNAPSHOT, served);
    expect(served).toBe(readFileSync(SNAPSHOT, 'utf8'));
  });
});
