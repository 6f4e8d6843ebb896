// The whole UI for one client and one path: what the browser's entry
// (main.tsx) renders or hydrates, and what the page components of pages/
// render on the server.
import type { MizanClient } from '@mizan/base';
import { StrictMode } from 'react';
import { App } from './App';
import { ServerFormContext, type ServerForm } from './forms';
import { MizanContext } from './gen/hooks';
import { canonicalPath, PathContext } from './router';

/**
 * Root renders the UI at path. form is the state of the form the server
 * rendered the page with (a form's GET or an invalid post, forms.go), the
 * same on the server and in the hydration that follows.
 */
export function Root({ client, path, form }: { client: MizanClient; path: string; form?: ServerForm }) {
  const canonical = canonicalPath(path);
  return (
    <StrictMode>
      <PathContext.Provider value={canonical}>
        <ServerFormContext.Provider value={{ path: canonical, form }}>
          <MizanContext client={client}>
            <App />
          </MizanContext>
        </ServerFormContext.Provider>
      </PathContext.Provider>
    </StrictMode>
  );
}
