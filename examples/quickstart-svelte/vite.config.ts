import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

// @mizan/base and @mizan/svelte are file: dependencies, symlinked into
// node_modules from frontends/. preserveSymlinks makes their imports
// (svelte, @mizan/base) resolve from this project's node_modules, and dedupe
// makes sure of it: the page must run exactly one Svelte runtime and one
// kernel.
export default defineConfig({
  // The quickstart serves the build under /ui/ (-ui dist).
  base: '/ui/',
  plugins: [svelte()],
  resolve: {
    preserveSymlinks: true,
    dedupe: ['svelte', '@mizan/base'],
  },
  build: { outDir: 'dist', emptyOutDir: true },
  server: {
    // npm run dev: the quickstart (go -C examples run ./quickstart) answers the API.
    proxy: { '/api/': 'http://127.0.0.1:8080' },
  },
});
