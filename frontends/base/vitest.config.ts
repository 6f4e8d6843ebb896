import { defineConfig } from 'vitest/config';

// Node 20 has a WebSocket global only behind this flag (Node 22 has it by
// default); test/ws-live.test.ts needs one.
const major = Number(process.versions.node.split('.')[0]);
const execArgv = major < 22 ? ['--experimental-websocket'] : [];

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    // Builds and serves the Go fixture for test/live.test.ts and
    // test/ws-live.test.ts.
    globalSetup: ['test/fixture-server.ts'],
    // The live test files share that one fixture, and push invalidations
    // to each other's WebSockets: run the files one after another.
    fileParallelism: false,
    poolOptions: { forks: { execArgv }, threads: { execArgv } },
  },
});
