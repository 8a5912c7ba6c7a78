import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // Handlers log JSON lines; warnings and errors stay visible when a test fails.
    env: { POWERTOOLS_LOG_LEVEL: 'WARN' },
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
