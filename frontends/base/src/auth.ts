// Signing in: the client half of the auth/ endpoints (docs/spec.md §8,
// docs/auth.md, docs/client.md "Signing in").
import { getClient, type MizanClient } from './client.js';
import { MizanError, codeForStatus, fromEnvelope } from './errors.js';
import type { TargetInput } from './targets.js';
import { httpTransport, type Transport } from './transport.js';

/** A place for the refresh token: get returns it (null or undefined when there is none), set replaces it, remove forgets it. */
export interface TokenStorage {
  get(): string | null | undefined;
  set(token: string): void;
  remove(): void;
}

/**
 * The signed-in user as the access token names it (claims `sub`, `staff`,
 * `super`). Read from the token without verifying it: for the UI only,
 * the server decides what the caller may do.
 */
export interface AuthUser {
  id: string;
  staff: boolean;
  superuser: boolean;
}

/**
 * `restoring` while a stored refresh token is being exchanged for an
 * access token (a reload), then `signed-in` or `signed-out`.
 */
export type AuthStatus = 'restoring' | 'signed-in' | 'signed-out';

/** What onAuthChange reports; a new object each time the status or the user changes, the same one otherwise. */
export interface AuthState {
  status: AuthStatus;
  user: AuthUser | null;
}

/** Options of createAuth; every field has a useful zero value. */
export interface AuthOptions {
  /** Origin (and path) in front of prefix. Default "": same origin. */
  baseUrl?: string;
  /** Where the Mizan endpoints are mounted. Default "/api/mizan/". */
  prefix?: string;
  /** The fetch to use. Default globalThis.fetch, looked up at each request. */
  fetch?: typeof fetch;
  /**
   * Where the refresh token is kept. `memory` (the default): nowhere
   * else, so a reload signs out. `session`: the tab's sessionStorage
   * under storageKey, so a reload stays signed in (memory where there is
   * no sessionStorage, as on a server). Or any TokenStorage. The access
   * token is always kept in memory only.
   */
  storage?: 'memory' | 'session' | TokenStorage;
  /** The sessionStorage key of storage `session`. Default "mizan.refresh". */
  storageKey?: string;
  /**
   * The client whose instances are invalidated when the user changes.
   * Default: every client whose transport is (or wraps) transport() of
   * this Auth, or else getClient(), looked up at each change.
   */
  client?: MizanClient;
  /**
   * The targets invalidated when the signed-in user changes (signing in,
   * out, as someone else, a restored or a lost session), so that what
   * was fetched with the previous credential is fetched again. Default
   * `["global"]`; `[]` for none.
   */
  invalidate?: TargetInput[];
}

/** A sign-in client made by createAuth. */
export interface Auth {
  /** getState returns the current state (stable until it changes: a useSyncExternalStore snapshot). */
  getState(): AuthState;
  /** onAuthChange adds a listener of state changes; it returns the function that removes it. */
  onAuthChange(listener: (state: AuthState) => void): () => void;
  /**
   * signIn checks username and password at auth/token/ and keeps the pair
   * it answers; a previous session of this client is then ended. It
   * rejects with a MizanError: 401 `unauthorized` for wrong credentials.
   */
  signIn(username: string, password: string): Promise<AuthUser>;
  /**
   * signInWith keeps a pair another sign-in answered (a passkey's
   * auth/passkey/login/finish/, an endpoint of the app), as signIn keeps
   * the pair of auth/token/. It rejects with a MizanError when pair is not
   * a token pair.
   */
  signInWith(pair: { access: string; refresh: string }): Promise<AuthUser>;
  /**
   * signInWithRefresh signs in with a refresh token handed over by a
   * redirect (an identity provider's callback puts one in the URL fragment,
   * `#mizan_refresh=...`, docs/auth.md): it spends it at auth/refresh/ at
   * once, so that the copy left in the browser's history is worthless. It
   * resolves the user, or null when the server refused the token.
   */
  signInWithRefresh(refresh: string): Promise<AuthUser | null>;
  /**
   * signOut forgets the tokens at once, then ends the session on the
   * server (auth/logout/ with the access token, after a refresh if it has
   * expired), after which every token of it is refused; with
   * `{ everywhere: true }` every session of the user ends, in every
   * browser and device. It rejects when the server could not be told;
   * this client is signed out all the same.
   */
  signOut(opts?: { everywhere?: boolean }): Promise<void>;
  /**
   * refresh exchanges the refresh token for a new pair at auth/refresh/
   * (it rotates: the old one is spent). Concurrent calls share one
   * request. It resolves true with a new pair, false when the server
   * refused (spent, expired or revoked: this client is then signed out),
   * and rejects with a MizanError when the server could not answer (the
   * tokens are kept for another try).
   */
  refresh(): Promise<boolean>;
  /**
   * restore resolves once a refresh token kept by the storage (a reload)
   * has been tried. It starts when createAuth runs; requests made through
   * transport() and token() wait for it. It never rejects.
   */
  restore(): Promise<void>;
  /** accessToken returns the access token, or null when signed out. */
  accessToken(): string | null;
  /** headers is the HTTP transport's headers option: `Authorization: Bearer <access>` when signed in. */
  headers(): Record<string, string>;
  /** token is the WebSocket transport's token option: the access token once restore is done. */
  token(): Promise<string | null>;
  /**
   * transport wraps inner (default: httpTransport with these options'
   * baseUrl, prefix and fetch, and headers) so that each request waits
   * for restore, and one refused with 401 while it carried an access token
   * (it expired) is retried once after a refresh, which concurrent
   * failures share. When the refresh is refused, a context fetch is
   * retried anonymously and a call fails with the 401. An inner transport
   * of your own must send headers() (and, over a WebSocket, token()). A
   * client over the returned transport is the one invalidated when the
   * user changes (unless the client option names another).
   */
  transport(inner?: Transport): Transport;
}

interface Pair {
  access: string;
  refresh: string;
}

/** tokenStorage keeps the token in sessionStorage under key, or in memory when there is none. */
function tokenStorage(opt: AuthOptions['storage'], key: string): TokenStorage {
  if (typeof opt === 'object') return opt;
  let held: string | null = null;
  const ss = (): Storage | undefined => (opt === 'session' && typeof sessionStorage !== 'undefined' ? sessionStorage : undefined);
  return {
    get: () => (ss() ? ss()!.getItem(key) : held),
    set: (t) => (ss() ? ss()!.setItem(key, t) : (held = t)),
    remove: () => (ss() ? ss()!.removeItem(key) : (held = null)),
  };
}

/** userOf reads the user from an access token's claims (base64url JSON), without verifying it. */
function userOf(token: string): AuthUser {
  let c: { sub?: unknown; staff?: unknown; super?: unknown } = {};
  try {
    const b = atob((token.split('.')[1] ?? '').replace(/-/g, '+').replace(/_/g, '/'));
    c = JSON.parse(new TextDecoder().decode(Uint8Array.from(b, (ch) => ch.charCodeAt(0)))) as typeof c;
  } catch {
    // Not a JWT: an unnamed user.
  }
  return { id: String(c.sub ?? ''), staff: c.staff === true, superuser: c.super === true };
}

const is401 = (e: unknown): boolean => e instanceof MizanError && e.status === 401;

/**
 * createAuth returns a sign-in client for the auth/ endpoints of a Mizan
 * server: it keeps the access token in memory and the refresh token in
 * opts.storage, gives transports the access token (headers, token, or a
 * whole transport), refreshes it when it has expired, and invalidates
 * opts.invalidate (the global context) on the client whenever the user
 * changes. If the storage holds a refresh token, it starts exchanging it
 * at once (restore).
 */
export function createAuth(opts: AuthOptions = {}): Auth {
  const root = (opts.baseUrl ?? '') + (opts.prefix ?? '/api/mizan/');
  const store = tokenStorage(opts.storage, opts.storageKey ?? 'mizan.refresh');
  const listeners = new Set<(s: AuthState) => void>();
  let access: string | null = null;
  let state: AuthState = { status: store.get() ? 'restoring' : 'signed-out', user: null };
  // Bumped by signIn and signOut: a refresh started before them does not apply.
  let gen = 0;
  let refreshing: Promise<boolean> | undefined;
  let restoring: Promise<void> | undefined;
  // The clients connected to transport(): each one's invalidate.
  const clients = new Set<(targets: TargetInput[]) => void>();

  /** post posts body to an auth/ endpoint and returns its JSON, or throws the server's error as a MizanError. */
  async function post(path: string, body: unknown, bearer?: string): Promise<unknown> {
    let res: Response;
    let json: unknown;
    try {
      res = await (opts.fetch ?? globalThis.fetch)(root + path, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...(bearer ? { Authorization: 'Bearer ' + bearer } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      json = await res.json().catch(() => undefined);
    } catch (e) {
      throw new MizanError('network', e instanceof Error ? e.message : String(e), 0);
    }
    if (!res.ok) throw fromEnvelope(json, res.status, codeForStatus(res.status))!;
    return json;
  }

  /** pairOf posts to auth/token/ or auth/refresh/ and checks that the answer is a pair. */
  async function pairOf(path: string, body: unknown): Promise<Pair> {
    const p = (await post(path, body)) as Partial<Pair> | null | undefined;
    if (typeof p?.access !== 'string' || typeof p.refresh !== 'string') throw new MizanError('bad_response', path + ': not a token pair', 200);
    return p as Pair;
  }

  /**
   * set makes token the access token and refresh the stored refresh token
   * (null: remove it; undefined: keep it), then reports a changed state
   * and invalidates after a change of user.
   */
  function set(token: string | null, refresh?: string | null): void {
    access = token;
    if (refresh) store.set(refresh);
    else if (refresh === null) store.remove();
    const prev = state;
    const next: AuthState = { status: token ? 'signed-in' : 'signed-out', user: token ? userOf(token) : null };
    if (JSON.stringify(next) === JSON.stringify(prev)) return;
    state = next;
    if (next.user?.id !== prev.user?.id) {
      const targets = opts.invalidate ?? ['global'];
      if (opts.client) opts.client.invalidate(targets);
      else if (clients.size) for (const c of clients) c(targets);
      else getClient().invalidate(targets);
    }
    for (const l of [...listeners]) l(next);
  }

  function refresh(): Promise<boolean> {
    return (refreshing ??= (async () => {
      const g = gen;
      try {
        const token = store.get();
        if (!token) throw new MizanError('unauthorized', 'no refresh token', 401);
        const p = await pairOf('auth/refresh/', { refresh: token });
        if (g === gen) set(p.access, p.refresh);
        return true;
      } catch (e) {
        // Refused (4xx): the session is over. Otherwise keep the tokens.
        if (!(e instanceof MizanError) || e.status < 400 || e.status >= 500) throw e;
        if (g === gen) set(null, null);
        return false;
      }
    })().finally(() => (refreshing = undefined)));
  }

  function restore(): Promise<void> {
    return (restoring ??= store.get()
      ? refresh().then(
          () => {},
          () => {
            // The server could not answer: signed out for now, the
            // refresh token kept, and the next restore tries again.
            restoring = undefined;
            if (state.status === 'restoring') set(null);
          },
        )
      : Promise.resolve());
  }

  /** revoke ends the session of a pair at auth/logout/, refreshing first when the access token is refused (expired). */
  async function revoke(a: string | null, r: string | null | undefined, everywhere = false): Promise<void> {
    const body = everywhere ? { everywhere: true } : undefined;
    try {
      if (a) return void (await post('auth/logout/', body, a));
    } catch (e) {
      if (!is401(e)) throw e;
    }
    if (!r) return;
    let p: Pair;
    try {
      p = await pairOf('auth/refresh/', { refresh: r });
    } catch (e) {
      if (is401(e)) return; // spent, expired or revoked: the session is over already
      throw e;
    }
    await post('auth/logout/', body, p.access);
  }

  /** adopt makes p this client's pair, ending the previous session of this client. */
  function adopt(p: Pair): AuthUser {
    gen++;
    const [a, r] = [access, store.get()];
    set(p.access, p.refresh);
    // Signed in anew (as someone else, or again): end the previous session.
    if ((a || r) && r !== p.refresh) void revoke(a, r).catch(() => {});
    return state.user!;
  }

  const headers = (): Record<string, string> => (access ? { Authorization: 'Bearer ' + access } : {});

  const auth: Auth = {
    getState: () => state,
    onAuthChange(l) {
      listeners.add(l);
      return () => void listeners.delete(l);
    },
    async signIn(username, password) {
      await restore();
      return adopt(await pairOf('auth/token/', { username, password }));
    },
    async signInWith(pair) {
      await restore();
      if (typeof pair?.access !== 'string' || typeof pair.refresh !== 'string') throw new MizanError('bad_response', 'signInWith: not a token pair', 0);
      return adopt(pair);
    },
    async signInWithRefresh(token) {
      await restore();
      let p: Pair;
      try {
        p = await pairOf('auth/refresh/', { refresh: token });
      } catch (e) {
        if (e instanceof MizanError && e.status >= 400 && e.status < 500) return null;
        throw e;
      }
      return adopt(p);
    },
    async signOut(o) {
      gen++;
      const [a, r] = [access, store.get()];
      set(null, null);
      await revoke(a, r, o?.everywhere === true);
    },
    refresh,
    restore,
    accessToken: () => access,
    headers,
    token: () => restore().then(() => access),
    transport(inner = httpTransport({ baseUrl: opts.baseUrl, prefix: opts.prefix, fetch: opts.fetch, headers })) {
      async function send<T>(run: () => Promise<T>, signal: AbortSignal | undefined, anonymous: boolean): Promise<T> {
        await restore();
        if (signal?.aborted) throw signal.reason;
        const sent = access;
        try {
          return await run();
        } catch (e) {
          if (!sent || !is401(e) || signal?.aborted) throw e;
          // Another request may have refreshed meanwhile: then use its token.
          if (access === sent) await refresh();
          if (!access && !anonymous) throw e;
          return run();
        }
      }
      return {
        connect(push) {
          clients.add(push);
          inner.connect?.(push);
        },
        watch: inner.watch?.bind(inner),
        fetchContext: (c, p, s) => send(() => inner.fetchContext(c, p, s), s, true),
        call: (fn, a, s, h) => send(() => inner.call(fn, a, s, h), s, false),
      };
    },
  };
  void restore();
  return auth;
}
