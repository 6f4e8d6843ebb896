import { configure } from '@mizan/base';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { MizanContext } from './gen/hooks';
import { transport } from './live';
import { wireLog } from './wire';
import './styles.css';

// The default client, so that the generated hooks and call functions share
// it; its transport is the live one (HTTP, and a WebSocket for pushed
// invalidations), wrapped to feed the wire log.
const client = configure({ transport: wireLog(transport) });

const root = document.getElementById('root');
if (!root) throw new Error('taskboard: no #root element');
createRoot(root).render(
  <StrictMode>
    <MizanContext client={client}>
      <App />
    </MizanContext>
  </StrictMode>,
);
