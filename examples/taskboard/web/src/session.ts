// Signing in with JWTs (docs/auth.md). The sign-in form posts the username
// and password to auth/token/, which answers an access token (5 minutes) and
// a refresh token (7 days) of a new session on the server. From then on:
//
//   - the access token is kept in this module's memory only (a script that
//     is not the page's cannot read it from storage), and every request of
//     the client carries it as Authorization: Bearer (authHeaders, given to
//     the HTTP transport), as does the WebSocket's first message (wsToken).
//     A Bearer caller needs no CSRF token and no cookie is set at all;
//   - the refresh token is kept in sessionStorage, so that a reload of the
//     tab stays signed in: on load (restore) it is exchanged at
//     auth/refresh/ for a new pair before the first request that needs it.
//     sessionStorage rather than localStorage because refresh rotates: each
//     refresh token can be spent once, and presenting a spent one revokes
//     the whole session (reuse detection). Tabs sharing one refresh token in
//     localStorage would race to spend it and sign each other out; each
//     tab's sessionStorage is its own. It also ends with the tab;
//   - when a request fails with 401 while it carried a token (the access
//     token expired: "token expired: get a new access token from
//     auth/refresh/"), withRefresh refreshes once, stores the new pair and
//     retries the request. Concurrent failures share one refresh. If the
//     refresh fails too (the session was revoked or has expired), the tab
//     signs out locally;
//   - signing out posts auth/logout/ with the access token, which deletes
//     the session on the server: every token of it is refused from the next
//     request on, wherever it was copied to.
//
// Whenever who is signed in changes, the global context (current_user) is
// invalidated, so the header refetches it with the new credential.
import { getClient, MizanError, type Transport } from '@mizan/base';

const prefix = '/api/mizan/';
const refreshKey = 'taskboard.refresh';

/** The access token, in memory only; null when signed out. */
let access: string | null = null;
/** The initial refresh (restore), once started. */
let restoring: Promise<void> | undefined;
/** The refresh in flight, shared by every request that needs it. */
let refreshing: Promise<boolean> | undefined;

const storage = (): Storage | undefined => (typeof sessionStorage === 'undefined' ? undefined : sessionStorage);

interface Pair {
  access: string;
  refresh: string;
}

/** post posts body to an auth/ endpoint and returns its JSON, or throws the server's error as a MizanError. */
async function post(path: string, body: unknown, token?: string): Promise<Record<string, unknown>> {
  let res: Response;
  let json: Record<string, unknown> = {};
  try {
    res = await fetch(prefix + path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    json = ((await res.json().catch(() => ({}))) ?? {}) as Record<string, unknown>;
  } catch (e) {
    throw new MizanError('network', e instanceof Error ? e.message : String(e), 0);
  }
  if (!res.ok) {
    const err = (json.error ?? {}) as { code?: string; message?: string; fields?: Record<string, string> };
    throw new MizanError(err.code ?? 'unauthorized', err.message ?? `HTTP ${res.status}`, res.status, err.fields);
  }
  return json;
}

function store(pair: Pair): void {
  access = pair.access;
  storage()?.setItem(refreshKey, pair.refresh);
}

function forget(): void {
  access = null;
  storage()?.removeItem(refreshKey);
}

/** refetchUser refetches the global context (current_user) with the current credential. */
function refetchUser(): void {
  getClient().invalidate(['global']);
}

/** signedIn says whether this tab holds an access token. */
export function signedIn(): boolean {
  return access !== null;
}

/**
 * refresh exchanges the stored refresh token for a new pair (rotation) and
 * says whether it worked. One refresh at a time: a second one with the same
 * token would count as reuse and revoke the session. A refused refresh
 * signs the tab out locally.
 */
function refresh(): Promise<boolean> {
  refreshing ??= (async () => {
    const token = storage()?.getItem(refreshKey);
    if (!token) {
      access = null;
      return false;
    }
    try {
      const pair = (await post('auth/refresh/', { refresh: token })) as unknown as Pair;
      store(pair);
      return true;
    } catch (e) {
      // 401: spent, expired or revoked; sign out here too. A network
      // failure keeps the refresh token for the next try.
      if (e instanceof MizanError && e.status === 401) forget();
      else access = null;
      return false;
    }
  })().finally(() => {
    refreshing = undefined;
  });
  return refreshing;
}

/**
 * restore gets an access token from the refresh token this tab stored, if
 * any (a reload). It runs once; every request waits for it, so that none
 * goes out anonymous while the tab is still signing back in.
 */
export function restore(): Promise<void> {
  restoring ??= storage()?.getItem(refreshKey) ? refresh().then(() => undefined) : Promise.resolve();
  return restoring;
}

/** signIn checks username and password at auth/token/ and keeps the pair; it throws a MizanError (401 for a wrong password). */
export async function signIn(username: string, password: string): Promise<void> {
  await restore();
  const pair = (await post('auth/token/', { username, password })) as unknown as Pair;
  // Signing in as someone else: end the previous session first.
  if (access) await post('auth/logout/', undefined, access).catch(() => undefined);
  store(pair);
  refetchUser();
}

/** signOut revokes the session at auth/logout/ and forgets the tokens, even if the server could not be reached. */
export async function signOut(): Promise<void> {
  const token = access;
  forget();
  try {
    if (token) await post('auth/logout/', undefined, token);
  } finally {
    refetchUser();
  }
}

/** authHeaders is the HTTP transport's headers option: the access token, when signed in. */
export function authHeaders(): Record<string, string> {
  return access ? { Authorization: `Bearer ${access}` } : {};
}

/** wsToken is the WebSocket transport's token option: sent as its first message, once restore is done. */
export async function wsToken(): Promise<string | null> {
  await restore();
  return access;
}

const unauthorized = (e: unknown): boolean => e instanceof MizanError && e.status === 401;

/**
 * withRefresh wraps a transport: each request waits for restore, and one
 * that fails with 401 while it carried an access token is retried once
 * after a refresh. If the refresh fails the tab is signed out locally: a
 * context fetch is retried anonymously (every context of the taskboard is
 * public but directory, whose retry fails with the 401 until the refetched
 * current_user, now null, unmounts the team page's Directory), a call fails
 * with the 401.
 */
export function withRefresh(inner: Transport): Transport {
  async function send<T>(run: () => Promise<T>, anonymousRetry: boolean): Promise<T> {
    await restore();
    const sent = access;
    try {
      return await run();
    } catch (e) {
      if (!sent || !unauthorized(e)) throw e;
      // Another request may have refreshed meanwhile: use its token.
      if (access === sent && !(await refresh())) {
        refetchUser();
        if (!anonymousRetry) throw e;
      }
      return run();
    }
  }
  return {
    connect(push) {
      inner.connect?.(push);
    },
    watch(context, params, on) {
      inner.watch?.(context, params, on);
    },
    fetchContext: (context, params, signal) => send(() => inner.fetchContext(context, params, signal), true),
    call: (fn, args, signal) => send(() => inner.call(fn, args, signal), false),
  };
}
