// The whole UI for one client and one path: what the browser's entry
// (main.tsx) renders or hydrates, and what the page components of pages/
// render on the server.
import type { MizanClient } from '@mizan/base';
import { StrictMode } from 'react';
import { App } from './App';
import { MizanContext } from './gen/hooks';
import { canonicalPath, PathContext } from './router';

export function Root({ client, path }: { client: MizanClient; path: string }) {
  return (
    <StrictMode>
      <PathContext.Provider value={canonicalPath(path)}>
        <MizanContext client={client}>
          <App />
        </MizanContext>
      </PathContext.Provider>
    </StrictMode>
  );
}
