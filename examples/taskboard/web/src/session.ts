// Signing in with JWTs (docs/auth.md), through the kernel's sign-in client
// (createAuth of @mizan/base; docs/client.md, "Signing in"). The sign-in
// form posts the username and password to auth/token/, which answers an
// access token (5 minutes) and a refresh token (7 days) of a new session on
// the server. From then on:
//
//   - the access token is kept in memory only (a script that is not the
//     page's cannot read it from storage), and every request of the client
//     carries it as Authorization: Bearer (auth.headers, given to the HTTP
//     transport in live.ts), as does the WebSocket's first message
//     (auth.token). A Bearer caller needs no CSRF token and no cookie is
//     set at all;
//   - the refresh token is kept in sessionStorage (storage 'session', key
//     taskboard.refresh), so that a reload of the tab stays signed in: on
//     load it is exchanged at auth/refresh/ for a new pair, and every
//     request made through auth.transport (main.tsx) waits for that.
//     sessionStorage rather than localStorage because refresh rotates: each
//     refresh token can be spent once, and presenting a spent one revokes
//     the whole session (reuse detection). Tabs sharing one refresh token in
//     localStorage would race to spend it and sign each other out; each
//     tab's sessionStorage is its own. It also ends with the tab;
//   - when a request fails with 401 while it carried a token (the access
//     token expired: "token expired: get a new access token from
//     auth/refresh/"), auth.transport refreshes once, stores the new pair
//     and retries the request. Concurrent failures share one refresh. If
//     the refresh fails too (the session was revoked or has expired), the
//     tab signs out locally: a context fetch is retried anonymously (every
//     context of the taskboard is public but directory, whose retry fails
//     with the 401 until the refetched current_user, now null, unmounts
//     the team page's Directory), a call fails with the 401;
//   - signing out posts auth/logout/ with the access token, which deletes
//     the session on the server: every token of it is refused from the next
//     request on, wherever it was copied to.
//
// Whenever who is signed in changes (signing in or out, a reload that
// signs back in, a refused refresh), the client over auth.transport
// invalidates the global context (current_user), so the header refetches
// it with the new credential. That also covers a server-rendered page:
// it is the anonymous render, hydrated as it is, and global is refetched
// once the stored refresh token has given the tab an access token.
import { createAuth } from '@mizan/base/auth';

/** The tab's sign-in client. */
export const auth = createAuth({ storage: 'session', storageKey: 'taskboard.refresh' });

/** signIn checks username and password at auth/token/ and keeps the pair; it throws a MizanError (401 for a wrong password). */
export const signIn = auth.signIn;

/** signOut revokes the session at auth/logout/ and forgets the tokens, even if the server could not be reached. */
export const signOut = auth.signOut;
