// Unit tests of createAuth (src/auth.ts) against a fake server of the auth/
// endpoints (docs/spec.md §8): sign-in, the Bearer header, refresh once and
// retry, shared refreshes, sign-out, restore and the change events.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createAuth, type AuthOptions, type AuthState, type TokenStorage } from '../src/auth.js';
import { MizanClient, MizanError, type Transport } from '../src/index.js';

const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');

interface Req {
  path: string;
  method: string;
  auth: string | undefined;
  body: Record<string, unknown> | undefined;
}

/**
 * FakeAuthServer answers auth/token/, auth/refresh/, auth/logout/, ctx/ and
 * call/ like a Mizan server with sessions: refresh rotates, a spent
 * refresh token revokes its session, logout deletes it. expire() makes
 * every access token issued so far expired.
 */
class FakeAuthServer {
  reqs: Req[] = [];
  /** Session id → the refresh id it expects next. */
  sessions = new Map<string, number>();
  /** Access token → [session id, user id]. */
  access = new Map<string, [string, string]>();
  expired = new Set<string>();
  /** Makes every request fail as a network failure when set. */
  down = false;
  /** Holds auth/refresh/ until release() when set. */
  holdRefresh = false;
  held: (() => void)[] = [];
  private n = 0;

  issue(sid: string, user: string): { access: string; refresh: string } {
    const rid = ++this.n;
    this.sessions.set(sid, rid);
    const access = `h.${b64({ sub: user, sid, staff: user === '1', super: false, type: 'access', n: this.n })}.s`;
    this.access.set(access, [sid, user]);
    return { access, refresh: `h.${b64({ sid, jti: rid, type: 'refresh' })}.s` };
  }

  expire(): void {
    for (const t of this.access.keys()) this.expired.add(t);
  }

  release(): void {
    for (const r of this.held.splice(0)) r();
  }

  /** caller returns the user id of a Bearer header, or a 401 message. */
  private caller(auth: string | undefined): string | { error: string } | undefined {
    if (!auth) return undefined;
    const t = auth.replace(/^Bearer /, '');
    const a = this.access.get(t);
    if (!a) return { error: 'invalid token' };
    if (!this.sessions.has(a[0])) return { error: 'session revoked: sign in again' };
    if (this.expired.has(t)) return { error: 'token expired: get a new access token from auth/refresh/' };
    return a[1];
  }

  count(path: string): number {
    return this.reqs.filter((r) => r.path === path).length;
  }

  fetch = (async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = String(input);
    const path = url.slice(url.indexOf('/api/mizan/') + '/api/mizan/'.length).split('?')[0]!;
    const headers = (init?.headers ?? {}) as Record<string, string>;
    const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as Record<string, unknown>) : undefined;
    this.reqs.push({ path, method: init?.method ?? 'GET', auth: headers.Authorization, body });
    if (init?.signal?.aborted) throw init.signal.reason;
    if (this.down) throw new TypeError('fetch failed');
    await new Promise((r) => setTimeout(r, 1));
    const unauthorized = (message: string): Response =>
      Response.json({ error: { code: 'unauthorized', message } }, { status: 401 });
    if (path === 'auth/token/') {
      const { username, password } = body as { username: string; password: string };
      const id = { ada: '1', grace: '2' }[username];
      if (!id || password !== username + '-pw') return unauthorized('wrong username or password');
      return Response.json(this.issue('s' + ++this.n, id));
    }
    if (path === 'auth/refresh/') {
      if (this.holdRefresh) await new Promise<void>((r) => this.held.push(r));
      const claims = JSON.parse(Buffer.from(String(body?.refresh).split('.')[1] ?? '', 'base64url').toString() || '{}') as {
        sid?: string;
        jti?: number;
      };
      const want = this.sessions.get(claims.sid ?? '');
      if (want === undefined) return unauthorized('session revoked: sign in again');
      if (want !== claims.jti) {
        this.sessions.delete(claims.sid!);
        return unauthorized('refresh token already used: the session is revoked; sign in again');
      }
      const user = [...this.access.values()].find(([s]) => s === claims.sid)![1];
      return Response.json(this.issue(claims.sid!, user));
    }
    const who = this.caller(headers.Authorization);
    if (typeof who === 'object') return unauthorized(who.error);
    if (path === 'auth/logout/') {
      if (!who) return unauthorized('no session to end');
      this.sessions.delete(this.access.get(headers.Authorization!.slice(7))![0]);
      return Response.json({ ok: true });
    }
    if (path === 'session/') return Response.json({ csrf_token: 'x'.repeat(64) });
    if (path.startsWith('ctx/')) return Response.json({ current_user: who ? { id: who } : null });
    if (path === 'call/') {
      if (!who) return unauthorized('authentication required');
      return Response.json({ result: { by: who }, invalidate: [] });
    }
    return Response.json({ error: { code: 'not_found', message: 'no' } }, { status: 404 });
  }) as typeof fetch;
}

/** memoryStorage is a TokenStorage that the test can read. */
function memoryStorage(initial?: string): TokenStorage & { value: string | null } {
  const s = {
    value: initial ?? null,
    get: () => s.value,
    set: (t: string) => void (s.value = t),
    remove: () => void (s.value = null),
  };
  return s;
}

function setup(o: Partial<AuthOptions> & { storedRefresh?: string } = {}) {
  const server = new FakeAuthServer();
  const storage = memoryStorage(o.storedRefresh);
  const client = new MizanClient({ retry: { attempts: 0 } });
  const invalidate = vi.spyOn(client, 'invalidate');
  const auth = createAuth({ fetch: server.fetch, storage, client, ...o });
  const transport = auth.transport();
  const states: AuthState[] = [];
  auth.onAuthChange((s) => states.push(s));
  return { server, storage, client, invalidate, auth, transport, states };
}

async function rejection(p: Promise<unknown>): Promise<MizanError> {
  const e = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(e).toBeInstanceOf(MizanError);
  return e as MizanError;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('createAuth: signing in and out', () => {
  it('signs in at auth/token/: access token in memory, refresh token in the storage, user from the claims', async () => {
    const { server, storage, auth, invalidate, states } = setup();
    expect(auth.getState()).toStrictEqual({ status: 'signed-out', user: null });
    expect(auth.accessToken()).toBeNull();
    expect(auth.headers()).toStrictEqual({});
    const user = await auth.signIn('ada', 'ada-pw');
    expect(user).toStrictEqual({ id: '1', staff: true, superuser: false });
    expect(server.reqs[0]).toMatchObject({ path: 'auth/token/', method: 'POST', body: { username: 'ada', password: 'ada-pw' } });
    const access = auth.accessToken()!;
    expect(server.access.has(access)).toBe(true);
    expect(storage.value).toMatch(/^h\./);
    expect(storage.value).not.toBe(access);
    expect(auth.headers()).toStrictEqual({ Authorization: 'Bearer ' + access });
    expect(await auth.token()).toBe(access);
    expect(states).toStrictEqual([{ status: 'signed-in', user }]);
    expect(auth.getState()).toBe(states[0]);
    expect(invalidate).toHaveBeenCalledTimes(1);
    expect(invalidate).toHaveBeenCalledWith(['global']);
  });

  it('refuses wrong credentials with the 401 and stays signed out', async () => {
    const { auth, storage, states, invalidate } = setup();
    const e = await rejection(auth.signIn('ada', 'nope'));
    expect([e.status, e.code, e.message]).toStrictEqual([401, 'unauthorized', 'wrong username or password']);
    expect(auth.getState().status).toBe('signed-out');
    expect(storage.value).toBeNull();
    expect(states).toStrictEqual([]);
    expect(invalidate).not.toHaveBeenCalled();
  });

  it('signs out: forgets the tokens at once, posts auth/logout/ with the access token, invalidates global', async () => {
    const { server, storage, auth, invalidate, states } = setup();
    await auth.signIn('ada', 'ada-pw');
    const access = auth.accessToken()!;
    const out = auth.signOut();
    expect(auth.accessToken()).toBeNull();
    expect(auth.getState()).toStrictEqual({ status: 'signed-out', user: null });
    await out;
    const logout = server.reqs.filter((r) => r.path === 'auth/logout/');
    expect(logout).toHaveLength(1);
    expect(logout[0]!.auth).toBe('Bearer ' + access);
    expect(server.sessions.size).toBe(0);
    expect(storage.value).toBeNull();
    expect(states.map((s) => s.status)).toStrictEqual(['signed-in', 'signed-out']);
    expect(invalidate).toHaveBeenCalledTimes(2);
  });

  it('signing out with an expired access token refreshes first, so the session still ends', async () => {
    const { server, auth } = setup();
    await auth.signIn('ada', 'ada-pw');
    server.expire();
    await auth.signOut();
    expect(server.reqs.map((r) => r.path)).toStrictEqual(['auth/token/', 'auth/logout/', 'auth/refresh/', 'auth/logout/']);
    expect(server.sessions.size).toBe(0);
  });

  it('signing out rejects when the server cannot be reached, signed out locally all the same', async () => {
    const { server, auth, storage } = setup();
    await auth.signIn('ada', 'ada-pw');
    server.down = true;
    const e = await rejection(auth.signOut());
    expect(e.code).toBe('network');
    expect(auth.getState().status).toBe('signed-out');
    expect(storage.value).toBeNull();
  });

  it('signing in as someone else ends the previous session and invalidates again', async () => {
    const { server, auth, invalidate, states } = setup();
    await auth.signIn('ada', 'ada-pw');
    const first = [...server.sessions.keys()];
    await auth.signIn('grace', 'grace-pw');
    await vi.waitFor(() => expect(server.sessions.size).toBe(1));
    expect(server.count('auth/logout/')).toBe(1);
    expect(first.some((s) => server.sessions.has(s))).toBe(false);
    expect(server.sessions.size).toBe(1);
    expect(states.map((s) => s.user?.id)).toStrictEqual(['1', '2']);
    expect(invalidate).toHaveBeenCalledTimes(2);
  });

  it('onAuthChange returns its unsubscribe; other invalidate targets, or none', async () => {
    const { auth, invalidate } = setup({ invalidate: ['global', { context: 'user', params: { user_id: 1 } }] });
    const seen: string[] = [];
    const off = auth.onAuthChange((s) => seen.push(s.status));
    await auth.signIn('ada', 'ada-pw');
    off();
    await auth.signOut();
    expect(seen).toStrictEqual(['signed-in']);
    expect(invalidate).toHaveBeenCalledWith(['global', { context: 'user', params: { user_id: 1 } }]);
    const quiet = setup({ invalidate: [] });
    await quiet.auth.signIn('ada', 'ada-pw');
    expect(quiet.invalidate).toHaveBeenCalledWith([]);
  });
});

describe('createAuth: the transport', () => {
  it('sends the access token as Authorization: Bearer, nothing when signed out', async () => {
    const { server, auth, transport } = setup();
    expect(await transport.fetchContext('global', {})).toStrictEqual({ current_user: null });
    expect(server.reqs.at(-1)!.auth).toBeUndefined();
    await auth.signIn('grace', 'grace-pw');
    expect(await transport.fetchContext('global', {})).toStrictEqual({ current_user: { id: '2' } });
    expect(server.reqs.at(-1)!.auth).toBe('Bearer ' + auth.accessToken());
    expect((await transport.call('secret', {})).result).toStrictEqual({ by: '2' });
  });

  it("passes a call's own headers (the offline queue's Idempotency-Key) on to the inner transport", async () => {
    const { auth } = setup();
    const seen: (Record<string, string> | undefined)[] = [];
    const t = auth.transport({
      fetchContext: () => Promise.resolve({}),
      call: (_fn, _args, _signal, headers) => {
        seen.push(headers);
        return Promise.resolve({ result: null, invalidate: [] });
      },
    });
    await t.call('f', {}, undefined, { 'Idempotency-Key': 'k-1' });
    expect(seen).toStrictEqual([{ 'Idempotency-Key': 'k-1' }]);
  });

  it('refreshes once on an expired token and retries; concurrent failures share the one refresh', async () => {
    const { server, auth, transport, storage, states, invalidate } = setup();
    await auth.signIn('ada', 'ada-pw');
    await transport.call('secret', {}); // the CSRF token, once
    const [oldAccess, oldRefresh] = [auth.accessToken(), storage.value];
    server.expire();
    server.reqs.length = 0;
    const results = await Promise.all([
      transport.fetchContext('global', {}),
      transport.fetchContext('user', { user_id: 1 }),
      transport.call('secret', {}),
    ]);
    expect(results[0]).toStrictEqual({ current_user: { id: '1' } });
    expect(results[2]).toStrictEqual({ result: { by: '1' }, invalidate: [] });
    expect(server.count('auth/refresh/')).toBe(1);
    expect(server.reqs.filter((r) => r.path !== 'auth/refresh/' && r.path !== 'session/').map((r) => r.auth === 'Bearer ' + oldAccess)).toStrictEqual([
      true,
      true,
      true,
      false,
      false,
      false,
    ]);
    expect(auth.accessToken()).not.toBe(oldAccess);
    expect(storage.value).not.toBe(oldRefresh);
    // Same user: no state change, no invalidation.
    expect(states).toHaveLength(1);
    expect(invalidate).toHaveBeenCalledTimes(1);
  });

  it('a failure after another request refreshed uses the new token without refreshing again', async () => {
    const { server, auth, transport } = setup();
    await auth.signIn('ada', 'ada-pw');
    server.expire();
    await transport.fetchContext('global', {});
    expect(server.count('auth/refresh/')).toBe(1);
    await transport.call('secret', {});
    expect(server.count('auth/refresh/')).toBe(1);
  });

  it('does not refresh a 401 of a request that carried no token', async () => {
    const { server, transport } = setup();
    const e = await rejection(transport.call('secret', {}));
    expect(e.status).toBe(401);
    expect(server.count('auth/refresh/')).toBe(0);
  });

  it('signs out locally when the refresh is refused: a context is retried anonymously, a call fails with the 401', async () => {
    const { server, auth, transport, storage, states, invalidate } = setup();
    await auth.signIn('ada', 'ada-pw');
    server.expire();
    server.sessions.clear(); // revoked elsewhere
    expect(await transport.fetchContext('global', {})).toStrictEqual({ current_user: null });
    expect(auth.getState()).toStrictEqual({ status: 'signed-out', user: null });
    expect(storage.value).toBeNull();
    expect(states.map((s) => s.status)).toStrictEqual(['signed-in', 'signed-out']);
    expect(invalidate).toHaveBeenCalledTimes(2);

    await auth.signIn('ada', 'ada-pw');
    await transport.call('secret', {}); // the CSRF token, once
    server.expire();
    server.sessions.clear();
    const calls = server.count('call/');
    const e = await rejection(transport.call('secret', {}));
    expect(e.status).toBe(401);
    expect(server.count('call/')).toBe(calls + 1); // not retried
    expect(auth.getState().status).toBe('signed-out');
  });

  it('a refresh the server cannot answer rejects, and keeps the tokens for another try', async () => {
    const { server, auth, storage } = setup();
    await auth.signIn('ada', 'ada-pw');
    const kept = storage.value;
    server.down = true;
    expect((await rejection(auth.refresh())).code).toBe('network');
    expect(storage.value).toBe(kept);
    expect(auth.getState().status).toBe('signed-in');
    server.down = false;
    expect(await auth.refresh()).toBe(true);
    expect(storage.value).not.toBe(kept);
  });

  it('reusing a spent refresh token is refused and ends the session', async () => {
    const { server, auth, storage } = setup();
    await auth.signIn('ada', 'ada-pw');
    const spent = storage.value!;
    expect(await auth.refresh()).toBe(true);
    storage.value = spent;
    expect(await auth.refresh()).toBe(false);
    expect(server.sessions.size).toBe(0);
    expect(auth.getState().status).toBe('signed-out');
    expect(storage.value).toBeNull();
  });

  it('concurrent refresh() calls share one request', async () => {
    const { server, auth } = setup();
    await auth.signIn('ada', 'ada-pw');
    server.holdRefresh = true;
    const all = Promise.all([auth.refresh(), auth.refresh(), auth.refresh()]);
    await vi.waitFor(() => expect(server.held).toHaveLength(1));
    server.release();
    expect(await all).toStrictEqual([true, true, true]);
    expect(server.count('auth/refresh/')).toBe(1);
  });

  it('a refresh that lands after signing out does not sign back in', async () => {
    const { server, auth } = setup();
    await auth.signIn('ada', 'ada-pw');
    server.holdRefresh = true;
    const r = auth.refresh();
    await vi.waitFor(() => expect(server.held).toHaveLength(1));
    const out = auth.signOut().catch(() => undefined);
    server.release();
    await r;
    await out;
    expect(auth.getState().status).toBe('signed-out');
    expect(auth.accessToken()).toBeNull();
  });

  it('invalidates the clients over its transport when the user changes, without a client option', async () => {
    const server = new FakeAuthServer();
    const auth = createAuth({ fetch: server.fetch });
    const a = new MizanClient({ transport: auth.transport() });
    const b = new MizanClient({ transport: auth.transport() });
    const [ia, ib] = [vi.spyOn(a, 'invalidate'), vi.spyOn(b, 'invalidate')];
    await auth.signIn('ada', 'ada-pw');
    expect(ia).toHaveBeenCalledWith(['global']);
    expect(ib).toHaveBeenCalledWith(['global']);
    expect(await auth.refresh()).toBe(true);
    await auth.signOut();
    expect([ia.mock.calls.length, ib.mock.calls.length]).toStrictEqual([2, 2]);
  });

  it('keeps connect and watch of the inner transport, and watch only if it has one', () => {
    const { auth } = setup();
    const calls: string[] = [];
    const inner: Transport = {
      fetchContext: () => Promise.resolve({}),
      call: () => Promise.resolve({ result: null, invalidate: [] }),
      connect: () => void calls.push('connect'),
      watch: (c, _p, on) => void calls.push(`watch ${c} ${on}`),
    };
    const t = auth.transport(inner);
    t.connect!(() => {});
    t.watch!('user', { user_id: '1' }, true);
    expect(calls).toStrictEqual(['connect', 'watch user true']);
    const bare = auth.transport({ fetchContext: inner.fetchContext, call: inner.call });
    expect(() => bare.connect!(() => {})).not.toThrow();
    expect(bare.watch).toBeUndefined();
  });
});

describe('createAuth: restore', () => {
  async function storedPair() {
    const s = setup();
    await s.auth.signIn('ada', 'ada-pw');
    return s;
  }

  it('exchanges a stored refresh token at once; requests and token() wait for it', async () => {
    const prev = await storedPair();
    const stored = prev.storage.value!;
    const server = prev.server;
    server.reqs.length = 0;
    const storage = memoryStorage(stored);
    const client = new MizanClient();
    const invalidate = vi.spyOn(client, 'invalidate');
    const auth = createAuth({ fetch: server.fetch, storage, client });
    expect(auth.getState()).toStrictEqual({ status: 'restoring', user: null });
    const t = auth.transport();
    const bundle = t.fetchContext('global', {});
    const token = auth.token();
    expect(await bundle).toStrictEqual({ current_user: { id: '1' } });
    expect(await token).toBe(auth.accessToken());
    expect(server.reqs.map((r) => [r.path, Boolean(r.auth)])).toStrictEqual([
      ['auth/refresh/', false],
      ['ctx/global/', true],
    ]);
    expect(storage.value).not.toBe(stored);
    expect(auth.getState()).toStrictEqual({ status: 'signed-in', user: { id: '1', staff: true, superuser: false } });
    expect(invalidate).toHaveBeenCalledWith(['global']);
  });

  it('a request aborted while waiting for restore is never sent', async () => {
    const prev = await storedPair();
    prev.server.reqs.length = 0;
    const auth = createAuth({ fetch: prev.server.fetch, storage: memoryStorage(prev.storage.value!), client: new MizanClient() });
    const ctl = new AbortController();
    const p = auth.transport().fetchContext('global', {}, ctl.signal);
    ctl.abort(new Error('gone'));
    await expect(p).rejects.toThrow('gone');
    expect(prev.server.reqs.map((r) => r.path)).toStrictEqual(['auth/refresh/']);
  });

  it('a refused stored token signs out and is forgotten; without one nothing is sent', async () => {
    const server = new FakeAuthServer();
    const storage = memoryStorage('h.e30.s');
    const auth = createAuth({ fetch: server.fetch, storage, client: new MizanClient() });
    await auth.restore();
    expect(auth.getState()).toStrictEqual({ status: 'signed-out', user: null });
    expect(storage.value).toBeNull();
    const quiet = new FakeAuthServer();
    const a2 = createAuth({ fetch: quiet.fetch, client: new MizanClient() });
    await a2.restore();
    expect(await a2.token()).toBeNull();
    expect(quiet.reqs).toStrictEqual([]);
  });

  it('when the server cannot answer, restore signs out for now, keeps the token and tries again later', async () => {
    const prev = await storedPair();
    const server = prev.server;
    server.down = true;
    const storage = memoryStorage(prev.storage.value!);
    const auth = createAuth({ fetch: server.fetch, storage, client: new MizanClient() });
    await auth.restore();
    expect(auth.getState().status).toBe('signed-out');
    expect(storage.value).toBe(prev.storage.value);
    server.down = false;
    await auth.restore();
    expect(auth.getState().status).toBe('signed-in');
  });
});

describe('createAuth: storage', () => {
  it("'session' keeps the refresh token in sessionStorage under storageKey", async () => {
    const items = new Map<string, string>();
    vi.stubGlobal('sessionStorage', {
      getItem: (k: string) => items.get(k) ?? null,
      setItem: (k: string, v: string) => void items.set(k, v),
      removeItem: (k: string) => void items.delete(k),
    });
    const server = new FakeAuthServer();
    const auth = createAuth({ fetch: server.fetch, storage: 'session', storageKey: 'app.refresh', client: new MizanClient() });
    await auth.signIn('ada', 'ada-pw');
    expect([...items.keys()]).toStrictEqual(['app.refresh']);
    expect(items.get('app.refresh')).not.toBe(auth.accessToken());
    // A reload: a new client from the same sessionStorage.
    const again = createAuth({ fetch: server.fetch, storage: 'session', storageKey: 'app.refresh', client: new MizanClient() });
    await again.restore();
    expect(again.getState().user?.id).toBe('1');
    await again.signOut();
    expect(items.size).toBe(0);
  });

  it("'session' and 'memory' keep it in memory where there is no sessionStorage", async () => {
    const server = new FakeAuthServer();
    for (const storage of ['session', 'memory'] as const) {
      const auth = createAuth({ fetch: server.fetch, storage, client: new MizanClient() });
      await auth.signIn('ada', 'ada-pw');
      expect(await auth.refresh()).toBe(true);
      expect(auth.getState().status).toBe('signed-in');
    }
  });

  it('uses baseUrl and prefix for the auth/ endpoints and the default transport', async () => {
    const urls: string[] = [];
    const server = new FakeAuthServer();
    const f = ((input: RequestInfo | URL, init?: RequestInit) => {
      urls.push(String(input));
      return server.fetch(String(input).replace('https://api.example/m/', '/api/mizan/'), init);
    }) as typeof fetch;
    const auth = createAuth({ fetch: f, baseUrl: 'https://api.example', prefix: '/m/', client: new MizanClient() });
    await auth.signIn('ada', 'ada-pw');
    await auth.transport().fetchContext('global', {});
    expect(urls).toStrictEqual(['https://api.example/m/auth/token/', 'https://api.example/m/ctx/global/']);
  });
});
