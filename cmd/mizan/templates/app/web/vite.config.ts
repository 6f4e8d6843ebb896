import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import mizan from '@mizan/vite';

// mizan(): one copy of React and of the Mizan kernel on the page, and in
// vite dev the API (/api/mizan/, HTTP and WebSocket) proxied to the Go
// server: $MIZAN_TARGET, which mizan dev sets, else http://127.0.0.1:8080
// (mizan({ target: 'http://127.0.0.1:9000' }) to choose).
export default defineConfig({
  plugins: [react(), mizan()],
});
