import { configure, readInitialData } from '@mizan/base';
import { enableOffline, indexedDBQueue } from '@mizan/base/offline';
import { createRoot, hydrateRoot } from 'react-dom/client';
import type { ServerForm } from './forms';
import { transport } from './live';
import { installController, onRefused } from './offline';
import { Root } from './root';
import { auth } from './session';
import { completeOIDCRedirect } from './signin-oidc';
import { wireLog } from './wire';
import './styles.css';

// The default client, so that the generated hooks and call functions share
// it; its transport is the live one (HTTP, and a WebSocket for pushed
// invalidations), wrapped to feed the wire log. A server-rendered page
// (pages.go) embeds the bundle of every context instance it read when it
// was rendered: the client starts with them (initialData), so no instance
// the first render shows is fetched until a mutation (or, for global, a
// change of user) invalidates it.
// auth.transport adds the access token's life cycle (session.ts): requests
// wait until a stored refresh token has been exchanged (a reload), one
// refused because its token expired is retried after a refresh, and the
// client's global context is invalidated whenever the signed-in user
// changes.
// Back from an identity provider (signin-oidc.tsx): the callback's refresh
// token in the URL fragment is spent at once.
completeOIDCRedirect();
const client = configure({ transport: auth.transport(wireLog(transport)), initialData: readInitialData() });
// The offline queue (offline.ts) goes in front of auth.transport: a change
// made while offline is shown at once, kept in IndexedDB and replayed on
// reconnect through auth, so a replay after a reload waits for the refresh
// exchange and carries the new access token. A replay the server refuses
// shows in the header.
installController(enableOffline(client, { store: indexedDBQueue('taskboard'), onError: onRefused }));

const root = document.getElementById('root');
if (!root) throw new Error('taskboard: no #root element');
// A page the server rendered for a form (its GET, or an invalid post)
// embeds the form's state in its props: the first render shows the same
// values and errors, so hydration matches.
const props = readInitialData('mizan-props') as { form?: ServerForm };
const ui = <Root client={client} path={window.location.pathname} form={props.form} />;
if (document.getElementById('mizan-data')) {
  // Rendered on the server: attach to its markup, rendering the same tree.
  // A page request carries no credential (the tokens are the script's), so
  // the server's page is the anonymous one, and so is the first render
  // here: hydration matches. Once the stored refresh token (if any) has
  // given the tab an access token, auth invalidates global, which is then
  // refetched as the signed-in user.
  hydrateRoot(root, ui);
} else {
  // index.html (a page the server does not render, or SSR is off). The
  // first fetch of global waits for the stored refresh token's exchange,
  // so it carries the access token.
  createRoot(root).render(ui);
}
