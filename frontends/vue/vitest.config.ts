import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'happy-dom',
    // Builds and serves the Go fixture (docs/spec.md §7) for the live tests,
    // as for @mizan/base; test files read its origin with inject('fixtureUrl').
    globalSetup: ['../base/test/fixture-server.ts'],
    // The files share that one fixture and reset its data: one at a time.
    fileParallelism: false,
  },
});
