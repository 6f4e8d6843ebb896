import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
// src/gen is written by mizan generate (make generate; mizan dev rewrites it
// whenever a Go file changes): typed hooks for the server's functions, over
// @mizan/react. MizanContext provides the client they share.
import { MizanContext } from './gen/hooks';
import './styles.css';

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <MizanContext>
      <App />
    </MizanContext>
  </StrictMode>,
);
