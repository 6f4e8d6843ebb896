import { configure, readInitialData } from '@mizan/base';
import { useEffect } from 'react';
import { createRoot, hydrateRoot } from 'react-dom/client';
import { transport } from './live';
import { Root } from './root';
import { restore, signedIn, withRefresh } from './session';
import { wireLog } from './wire';
import './styles.css';

// If this tab signed in before (a reload), exchange its refresh token for
// an access token now, in parallel with the first render; every request
// waits for it (session.ts).
void restore();

// The default client, so that the generated hooks and call functions share
// it; its transport is the live one (HTTP, and a WebSocket for pushed
// invalidations), wrapped to feed the wire log. A server-rendered page
// (pages.go) embeds the context bundles it was rendered from: the client
// starts with them (initialData), so those instances are not fetched again
// until a mutation invalidates them.
// withRefresh adds the access token's life cycle: requests wait for the
// restore above, and one refused because its token expired is retried
// after a refresh.
const client = configure({ transport: wireLog(withRefresh(transport)), initialData: readInitialData() });

/** AfterHydration runs once the first render is committed (effects do not run on the server). */
function AfterHydration({ run }: { run: () => void }) {
  useEffect(run, [run]);
  return null;
}

const root = document.getElementById('root');
if (!root) throw new Error('taskboard: no #root element');
const ui = <Root client={client} path={window.location.pathname} />;
if (document.getElementById('mizan-data')) {
  // Rendered on the server: attach to its markup, rendering the same tree.
  // A page request carries no credential (the tokens are the script's), so
  // the server's page is the anonymous one, and so is the first render
  // here: hydration matches. Once hydrated, and once restore has an access
  // token, refetch the signed-in user with it.
  const signedInAfterHydration = () => {
    void restore().then(() => {
      if (signedIn()) client.invalidate(['global']);
    });
  };
  hydrateRoot(
    root,
    <>
      {ui}
      <AfterHydration run={signedInAfterHydration} />
    </>,
  );
} else {
  // index.html (a page the server does not render, or SSR is off). The
  // first fetch of global waits for restore, so it carries the token.
  createRoot(root).render(ui);
}
