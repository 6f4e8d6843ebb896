import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vite';

// @mizan/base and @mizan/vue are file: dependencies, symlinked into
// node_modules from frontends/. preserveSymlinks makes their imports (vue,
// @mizan/base) resolve from this project's node_modules, and dedupe makes
// sure of it: the page must run exactly one Vue and one kernel.
export default defineConfig({
  // The quickstart serves the build under /ui/ (go -C examples run ./quickstart -ui dist).
  base: '/ui/',
  plugins: [vue()],
  resolve: {
    preserveSymlinks: true,
    dedupe: ['vue', '@mizan/base'],
  },
  build: { outDir: 'dist', emptyOutDir: true },
  server: {
    // npm run dev: the quickstart (go -C examples run ./quickstart) answers the API.
    proxy: { '/api/': 'http://127.0.0.1:8080' },
  },
});
