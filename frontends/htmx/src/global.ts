// The <script> build of @mizan/htmx (dist/mizan-htmx.js, an IIFE): loaded
// after htmx, it defines the "mizan" extension on window.htmx, exposes the
// API as window.mizanHtmx, and with data-connect="/api/mizan/ws/" on its
// <script> element connects to that WebSocket endpoint (docs/htmx.md).
import { connect, install, instanceOf, matching, refresh } from './index.js';
import type { Htmx } from './index.js';

const g = globalThis as { htmx?: Htmx; mizanHtmx?: object };
if (g.htmx) install(g.htmx);
g.mizanHtmx = { connect, install, instanceOf, matching, refresh };
const ws = (document.currentScript as HTMLScriptElement | null)?.dataset.connect;
if (ws) connect(ws);
