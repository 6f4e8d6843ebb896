import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Node 20 has a WebSocket global only behind this flag (Node 22 has it by
// default); the live tests push invalidations over the fixture's ws/.
const major = Number(process.versions.node.split('.')[0]);
const execArgv = major < 22 ? ['--experimental-websocket'] : [];
const base = fileURLToPath(new URL('../base/dist/', import.meta.url));

export default defineConfig({
  // The generated client of the fixture (codegen/testdata/fixture/ts),
  // which the tests import as an app would, lives outside this workspace:
  // its imports of @mizan/base resolve to the built kernel, the same
  // modules this package imports.
  resolve: {
    alias: [
      { find: /^@mizan\/base$/, replacement: base + 'index.js' },
      { find: /^@mizan\/base\/(.+)$/, replacement: base + '$1.js' },
    ],
  },
  test: {
    include: ['test/**/*.test.{ts,tsx}'],
    environment: 'happy-dom',
    // Builds and serves the Go fixture (docs/spec.md §7) for the live tests,
    // as for @mizan/base; test files read its origin with inject('fixtureUrl').
    globalSetup: ['../base/test/fixture-server.ts'],
    // The files share that one fixture and reset its data: one at a time.
    fileParallelism: false,
    poolOptions: { forks: { execArgv }, threads: { execArgv } },
  },
});
