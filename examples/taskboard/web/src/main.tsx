import { configure, readInitialData } from '@mizan/base';
import { createRoot, hydrateRoot } from 'react-dom/client';
import { transport } from './live';
import { Root } from './root';
import { wireLog } from './wire';
import './styles.css';

// The default client, so that the generated hooks and call functions share
// it; its transport is the live one (HTTP, and a WebSocket for pushed
// invalidations), wrapped to feed the wire log. A server-rendered page
// (pages.go) embeds the context bundles it was rendered from: the client
// starts with them (initialData), so those instances are not fetched again
// until a mutation invalidates them.
const client = configure({ transport: wireLog(transport), initialData: readInitialData() });

const root = document.getElementById('root');
if (!root) throw new Error('taskboard: no #root element');
const ui = <Root client={client} path={window.location.pathname} />;
if (document.getElementById('mizan-data')) {
  // Rendered on the server: attach to its markup, rendering the same tree.
  hydrateRoot(root, ui);
} else {
  // index.html (a page the server does not render, or SSR is off).
  createRoot(root).render(ui);
}
