import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/property/**/*.test.ts'],
    // Real SQLite files, real servers on loopback and scrypt: give slow machines room.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    passWithNoTests: true,
    // Two cores: more workers only thrash the scrypt-heavy tests.
    maxWorkers: 2,
  },
});
