// The page's transport: HTTP for fetches and calls, and a WebSocket beside
// it on which the server pushes the invalidations of every mutation that
// hits what this page shows, whoever made it (docs/live.md). useLiveState
// drives the "live" badge in the header. Requests carry the access token
// of the signed-in user (session.ts: auth.headers), and so does the
// socket's first
// message. The server checks a signed-in socket's token again on every
// subscription and call, and closes the socket once the session has ended
// (docs/live.md); signing in later does not reopen it. That costs nothing
// here: every context but directory is public, and directory (members'
// email addresses and staff flags, guarded by RequireAuth) is changed by
// no mutation, so when a socket opened before signing in is refused its
// subscription to it (unauthorized, dropped: no onError), no push is lost.
import { wsTransport, type WsState } from '@mizan/base/ws';
import { useSyncExternalStore } from 'react';
import { auth } from './session';

export const transport = wsTransport({ headers: auth.headers, token: auth.token });

const subscribe = (listener: () => void): (() => void) => transport.onState(listener);
const snapshot = (): WsState => transport.state;

// A server render has no socket, and the hydration that follows must
// render the same: both see 'connecting'.
const serverSnapshot = (): WsState => 'connecting';

/** useLiveState returns the WebSocket's state: connecting, open or closed. */
export function useLiveState(): WsState {
  return useSyncExternalStore(subscribe, snapshot, serverSnapshot);
}
