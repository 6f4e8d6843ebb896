import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    // Builds and serves the Go fixture for test/live.test.ts.
    globalSetup: ['test/fixture-server.ts'],
  },
});
