import { defineConfig } from 'vitest/config';

// The tests run in happy-dom with the real htmx.org loaded into its
// document (test/extension.test.ts serves its fragments from a local HTTP
// server, so that htmx's own requests and HX-Trigger handling are the ones
// that run).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'happy-dom',
    // happy-dom lacks XPathEvaluator, which htmx needs at load time.
    setupFiles: ['test/setup.ts'],
  },
});
