// Sign-in with identity providers (docs/auth.md, "Identity providers";
// the server side is oidc.go and package auth/oidc).
//
// The sign-in page shows a button per provider the server lists at
// GET /api/mizan/auth/oidc/. A button is a plain link to the provider's
// start URL: the server sets a short-lived state cookie and redirects to
// the provider; the provider's callback comes back to the server, which
// redirects to the return path (/) with the session's refresh token in the
// URL fragment (#mizan_refresh=..., which the browser sends to no server).
// At startup, completeOIDCRedirect takes it out of the URL and spends it at
// once at auth/refresh/ for the tab's own pair: the copy left in the
// browser's history is then worthless (a spent refresh token is refused).
//
// Login CSRF: a link to this page with a fragment of someone else's
// making (an attacker's own refresh token) would sign the visitor in as
// the attacker. So a button does not link to the start URL as it is: on a
// click it draws a random handoff value, keeps it in this tab's
// sessionStorage and sends it to start/ (&handoff=), the server seals it
// with the sign-in's state and echoes it in the fragment
// (&mizan_handoff=), and completeOIDCRedirect accepts a token only with
// the value this tab kept, once.
import { useEffect, useState } from 'react';
import { auth } from './session';

/** OIDCProvider is one provider of GET /api/mizan/auth/oidc/. */
interface OIDCProvider {
  name: string;
  display_name: string;
  start: string;
}

/** providersURL lists the identity providers. */
const providersURL = '/api/mizan/auth/oidc/';

/** fragmentKey is the fragment parameter of the callback's refresh token. */
const fragmentKey = 'mizan_refresh';

/** handoffKey is the fragment parameter, and the sessionStorage key, of the handoff value. */
const handoffKey = 'mizan_handoff';

/** newHandoff draws a random handoff value (24 bytes, base64url) and keeps it in sessionStorage. */
function newHandoff(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  const v = btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  sessionStorage.setItem(handoffKey, v);
  return v;
}

/** startSignIn sends the tab to a provider's start URL with a new handoff value. */
function startSignIn(p: OIDCProvider): void {
  window.location.assign(`${p.start}?return=${encodeURIComponent('/')}&handoff=${newHandoff()}`);
}

/** isProvider checks one entry of the server's answer. */
function isProvider(v: unknown): v is OIDCProvider {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as Record<string, unknown>;
  // The start URL must be a path of this site: never a link elsewhere.
  return typeof p.name === 'string' && typeof p.display_name === 'string' && typeof p.start === 'string' && /^\/(?![/\\])/.test(p.start);
}

/** fetchProviders returns the providers (none when the server has none, or no auth/oidc/ endpoint: 404). */
async function fetchProviders(signal: AbortSignal): Promise<OIDCProvider[]> {
  const res = await fetch(providersURL, { signal, headers: { Accept: 'application/json' } });
  // The body is always read: the request is then finished, not left open.
  const text = await res.text();
  if (res.status === 404) return [];
  if (!res.ok) throw new Error(`${providersURL} answered ${res.status}`);
  const body: unknown = JSON.parse(text);
  const list = (body as { providers?: unknown } | null)?.providers;
  return Array.isArray(list) ? list.filter(isProvider) : [];
}

/**
 * OIDCSignIn shows a button per identity provider on the sign-in page. It
 * renders nothing on the server and until the list has come (the list is
 * fetched after mount, so the server-rendered page and the first render in
 * the browser match), and nothing when there are no providers.
 */
export function OIDCSignIn() {
  const [providers, setProviders] = useState<OIDCProvider[]>([]);
  useEffect(() => {
    const ctl = new AbortController();
    fetchProviders(ctl.signal)
      .then(setProviders)
      .catch((err: unknown) => {
        if (!ctl.signal.aborted) console.error('taskboard: listing the identity providers:', err);
      });
    return () => ctl.abort();
  }, []);
  if (providers.length === 0) return null;
  return (
    <div className="oidc-signin" data-testid="oidc-signin">
      <p className="muted small">Or sign in with an identity provider:</p>
      {providers.map((p) => (
        <button key={p.name} type="button" className="button" onClick={() => startSignIn(p)} data-testid={`oidc-${p.name}`}>
          Sign in with {p.display_name}
        </button>
      ))}
    </div>
  );
}

/**
 * completeOIDCRedirect signs the tab in with the refresh token an identity
 * provider's callback put in the URL fragment, if any. Call it once at
 * startup: it removes the token from the URL (history.replaceState) before
 * anything else, then, if the fragment's handoff is the one this tab kept
 * when it started the sign-in (login CSRF, above), spends it
 * (auth.signInWithRefresh). A token without the right handoff is left
 * unspent and ignored; a refused token (spent, or its session revoked) or
 * a failure is logged; the tab stays signed out.
 */
export function completeOIDCRedirect(): void {
  if (typeof window === 'undefined') return;
  const hash = window.location.hash;
  if (!hash.includes(`${fragmentKey}=`)) return;
  const params = new URLSearchParams(hash.slice(1));
  const token = params.get(fragmentKey);
  const handoff = params.get(handoffKey);
  params.delete(fragmentKey);
  params.delete(handoffKey);
  const kept = sessionStorage.getItem(handoffKey);
  sessionStorage.removeItem(handoffKey);
  const rest = params.toString();
  const { pathname, search } = window.location;
  window.history.replaceState(window.history.state, '', pathname + search + (rest ? `#${rest}` : ''));
  if (!token) return;
  if (!kept || handoff !== kept) {
    console.warn('taskboard: ignored a sign-in token this tab did not ask for (no matching handoff): sign in from the sign-in page');
    return;
  }
  auth
    .signInWithRefresh(token)
    .then((user) => {
      if (user === null) console.warn('taskboard: the identity provider sign-in was refused: its token was already spent or its session revoked; sign in again');
    })
    .catch((err: unknown) => console.error('taskboard: completing the identity provider sign-in:', err));
}
