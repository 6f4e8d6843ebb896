import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    // The dev-server and build tests start Vite (and a backend) each; they
    // are quick, but one at a time keeps them clear of each other's ports.
    fileParallelism: false,
    testTimeout: 60_000,
  },
});
