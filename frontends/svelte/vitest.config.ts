import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  plugins: [svelte()],
  // Svelte's browser runtime in happy-dom (mount, effects); test/ssr.test.ts
  // runs in node, where the components are compiled for svelte/server.
  resolve: { conditions: ['browser'] },
  // @testing-library/svelte's .svelte.js modules go through the svelte
  // plugin too (as its svelteTesting() plugin would set).
  ssr: { noExternal: ['@testing-library/svelte', '@testing-library/svelte-core'] },
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'happy-dom',
    // Builds and serves the Go fixture (docs/spec.md §7) for the run;
    // inject('fixtureUrl') in the tests.
    globalSetup: ['../base/test/fixture-server.ts'],
    // The test files share that one fixture and reset it: one at a time.
    fileParallelism: false,
  },
});
