import { configure, httpTransport } from '@mizan/base';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { MizanContext } from './gen/hooks';
import { wireLog } from './wire';
import './styles.css';

// The default client, so that the generated hooks and call functions share
// it; its transport is the HTTP one, wrapped to feed the wire log.
const client = configure({ transport: wireLog(httpTransport()) });

const root = document.getElementById('root');
if (!root) throw new Error('taskboard: no #root element');
createRoot(root).render(
  <StrictMode>
    <MizanContext client={client}>
      <App />
    </MizanContext>
  </StrictMode>,
);
