import { defineConfig } from 'vite';

// @mizan/base and @mizan/react are file: dependencies, symlinked into
// node_modules from frontends/. preserveSymlinks makes their imports
// (react, @mizan/base) resolve from this project's node_modules, and dedupe
// makes sure of it: the page must run exactly one React.
export default defineConfig({
  resolve: {
    preserveSymlinks: true,
    dedupe: ['react', 'react-dom', '@mizan/base'],
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // .vite/manifest.json names the hashed entry script and stylesheet:
    // the Go server reads it to link them from the pages it renders.
    manifest: true,
  },
  server: {
    // npm run dev: the Go server (bash examples/taskboard/run.sh, or
    // go -C examples run ./taskboard) answers the API and the print pages.
    proxy: {
      '/api/': { target: 'http://127.0.0.1:8080', ws: true }, // ws: the live WebSocket
      '^/projects/\\d+/print/': 'http://127.0.0.1:8080',
    },
  },
});
