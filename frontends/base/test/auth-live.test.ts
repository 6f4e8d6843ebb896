// Live tests of createAuth against the Go fixture (docs/spec.md §7, §8),
// served for this file alone with access tokens that live 2 s
// (JWT_ACCESS_TOKEN_EXPIRES_IN=2, read by mizan.ConfigFromEnv only when
// JWT_PRIVATE_KEY is set, so a key is set too). The fixture is started by
// test/fixture-server.ts's setup, called here with a project of our own.
// Without Go they fail when CI=true and are skipped elsewhere.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { TestProject } from 'vitest/node';
import { createAuth, type AuthOptions } from '../src/auth.js';
import { MizanClient, MizanError } from '../src/index.js';
import setupFixture from './fixture-server.js';

const skipReason = inject('fixtureSkip');
const haveGo = Boolean(inject('fixtureUrl'));
if (!haveGo) console.warn(`auth live tests skipped: ${skipReason}`);

let origin = '';
let stop: (() => Promise<void>) | undefined;

beforeAll(async () => {
  if (!haveGo) return;
  const env = { JWT_PRIVATE_KEY: randomBytes(32).toString('hex'), JWT_ACCESS_TOKEN_EXPIRES_IN: '2' };
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    const provided: Record<string, string> = {};
    const project = { provide: (k: string, v: string) => void (provided[k] = v) } as unknown as TestProject;
    stop = await setupFixture(project);
    origin = provided.fixtureUrl ?? '';
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}, 120_000);

afterAll(async () => {
  await stop?.();
});

/** A request the auth client or its transport sent: the path under the prefix, its Bearer token and status. */
interface Sent {
  path: string;
  bearer: string | undefined;
  status: number;
}

/** live returns a sign-in client to the fixture, its transport, the client it invalidates, and the requests sent. */
function live(o: Partial<AuthOptions> = {}) {
  const sent: Sent[] = [];
  const root = origin + '/api/mizan/';
  const f = (async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const res = await fetch(input, init);
    const auth = (init?.headers as Record<string, string> | undefined)?.Authorization;
    sent.push({ path: String(input).slice(root.length).split('?')[0]!, bearer: auth?.replace(/^Bearer /, ''), status: res.status });
    return res;
  }) as typeof fetch;
  const client = new MizanClient({ retry: { attempts: 0 } });
  const auth = createAuth({ baseUrl: origin, fetch: f, client, ...o });
  const transport = auth.transport();
  const count = (path: string): number => sent.filter((s) => s.path === path).length;
  return { auth, transport, client, sent, count };
}

/** raw posts to an auth/ endpoint of the fixture directly, or GETs ctx/global/ with a token. */
async function raw(path: string, body?: unknown, bearer?: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(origin + '/api/mizan/' + path, {
    method: path.startsWith('ctx/') ? 'GET' : 'POST',
    headers: { 'Content-Type': 'application/json', ...(bearer ? { Authorization: 'Bearer ' + bearer } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

const errorOf = (json: Record<string, unknown>) => json.error as { code: string; message: string };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Tokens carry whole seconds: 3 s after it was issued, a 2 s access token has expired. */
const expiry = 3_000;

describe.skipIf(!haveGo)('live: createAuth against the Go fixture (2 s access tokens)', () => {
  it('signs in; requests carry the access token; wrong credentials are refused', async () => {
    const { auth, transport, sent } = live();
    const e = await auth.signIn('ada', 'wrong').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(e).toBeInstanceOf(MizanError);
    expect([(e as MizanError).status, (e as MizanError).message]).toStrictEqual([401, 'wrong username or password']);
    expect(await transport.fetchContext('global', {})).toStrictEqual({ current_user: null });

    expect(await auth.signIn('ada', 'ada-pw')).toStrictEqual({ id: '1', staff: true, superuser: false });
    expect(await transport.fetchContext('global', {})).toStrictEqual({ current_user: { id: 1 } });
    expect((await transport.call('secret', {})).result).toStrictEqual({ secret: 42 });
    expect((await transport.call('admin_action', {})).result).toStrictEqual({ ok: true });
    expect(sent.at(-1)).toMatchObject({ path: 'call/', bearer: auth.accessToken(), status: 200 });
    await auth.signOut();
  });

  it('after expiry, concurrent requests share one refresh and are each retried once', async () => {
    const { auth, transport, sent, count } = live();
    await auth.signIn('grace', 'grace-pw');
    await transport.call('secret', {}); // gets the CSRF token now, so that the calls below go out at once
    const first = auth.accessToken()!;
    await sleep(expiry);
    expect(errorOf((await raw('ctx/global/', undefined, first)).json).message).toMatch(/^token expired/);

    const mark = sent.length;
    const results = await Promise.all([
      transport.fetchContext('global', {}),
      transport.fetchContext('user', { user_id: 2 }),
      transport.call('secret', {}),
      transport.call('secret', {}),
    ]);
    expect(results[0]).toStrictEqual({ current_user: { id: 2 } });
    expect((results[2] as { result: unknown }).result).toStrictEqual({ secret: 42 });
    const since = sent.slice(mark);
    expect(since.filter((s) => s.path === 'auth/refresh/')).toHaveLength(1);
    // Four refused with the expired token, and four retried with the new
    // one (in whatever order the responses came).
    const requests = since.filter((s) => s.path !== 'auth/refresh/');
    expect(requests.map((s) => `${s.bearer === first ? 'expired' : 'new'} ${s.status}`).sort()).toStrictEqual([
      'expired 401',
      'expired 401',
      'expired 401',
      'expired 401',
      'new 200',
      'new 200',
      'new 200',
      'new 200',
    ]);
    expect(new Set(requests.filter((s) => s.status === 200).map((s) => s.bearer))).toStrictEqual(new Set([auth.accessToken()]));
    expect(auth.getState().user?.id).toBe('2');

    // Once more, for a single request: one refresh again.
    await sleep(expiry);
    await transport.fetchContext('global', {});
    expect(count('auth/refresh/')).toBe(2);
    await auth.signOut();
  }, 15_000);

  it('reusing a spent refresh token is refused and revokes the session: the client signs out locally', async () => {
    const storage = { value: null as string | null, get: () => storage.value, set: (t: string) => void (storage.value = t), remove: () => void (storage.value = null) };
    const { auth, transport, client, count } = live({ storage });
    await auth.signIn('lin', 'lin-pw');
    const spent = storage.value!;
    expect(await auth.refresh()).toBe(true);
    const live2 = auth.accessToken()!;
    expect(storage.value).not.toBe(spent);
    expect((await raw('ctx/global/', undefined, live2)).json).toStrictEqual({ current_user: { id: 3 } });

    // Someone replays the spent token (stolen, or a second tab).
    const reused = await raw('auth/refresh/', { refresh: spent });
    expect(reused.status).toBe(401);
    expect(errorOf(reused.json).message).toMatch(/refresh token already used/);
    // The whole session is gone: the newer access token too...
    const refused = await raw('ctx/global/', undefined, live2);
    expect(refused.status).toBe(401);
    expect(errorOf(refused.json).message).toMatch(/session revoked/);
    // ...so the client's next request is refused, its refresh too, and it
    // signs out, fetching the context again anonymously.
    const inst = client.instance('global');
    expect(await transport.fetchContext('global', {})).toStrictEqual({ current_user: null });
    expect(count('auth/refresh/')).toBe(2);
    expect(auth.getState()).toStrictEqual({ status: 'signed-out', user: null });
    expect(auth.accessToken()).toBeNull();
    expect(storage.value).toBeNull();
    expect(inst.getSnapshot().status).toBe('idle'); // never fetched: nothing to invalidate
  });

  it('signing out revokes at once: the old access token is refused on the next request, the refresh token too', async () => {
    const { auth, transport, sent } = live();
    await auth.signIn('ada', 'ada-pw');
    await transport.fetchContext('global', {});
    const access = auth.accessToken()!;
    // A second access token of the same session, by refreshing once; the
    // first one still works while the session lives.
    expect(await auth.refresh()).toBe(true);
    const current = auth.accessToken()!;
    expect((await raw('ctx/global/', undefined, access)).status).toBe(200);
    await auth.signOut();
    expect(sent.at(-1)).toMatchObject({ path: 'auth/logout/', bearer: current, status: 200 });
    for (const t of [access, current]) {
      const r = await raw('ctx/global/', undefined, t);
      expect(r.status).toBe(401);
      expect(errorOf(r.json).message).toMatch(/session revoked/);
    }
    // Requests now go anonymous, and no refresh is tried.
    expect(await transport.fetchContext('global', {})).toStrictEqual({ current_user: null });
    expect(sent.at(-1)).toMatchObject({ path: 'ctx/global/', bearer: undefined });
  });

  it('signing out after the access token expired still ends the session (refresh, then logout)', async () => {
    const storage = { value: null as string | null, get: () => storage.value, set: (t: string) => void (storage.value = t), remove: () => void (storage.value = null) };
    const { auth, sent } = live({ storage });
    await auth.signIn('grace', 'grace-pw');
    await sleep(expiry);
    const refresh = storage.value!;
    const mark = sent.length;
    await auth.signOut();
    expect(sent.slice(mark).map((s) => `${s.path} ${s.status}`)).toStrictEqual(['auth/logout/ 401', 'auth/refresh/ 200', 'auth/logout/ 200']);
    // The refresh token it held was spent by that refresh, and the
    // session is gone: replaying it is refused.
    expect((await raw('auth/refresh/', { refresh })).status).toBe(401);
  }, 10_000);

  it('a reload restores the session from the stored refresh token before the first request', async () => {
    const storage = { value: null as string | null, get: () => storage.value, set: (t: string) => void (storage.value = t), remove: () => void (storage.value = null) };
    const first = live({ storage });
    await first.auth.signIn('ada', 'ada-pw');
    // A new page: a new client over the same storage.
    const again = live({ storage });
    expect(again.auth.getState().status).toBe('restoring');
    expect(await again.transport.fetchContext('global', {})).toStrictEqual({ current_user: { id: 1 } });
    expect(again.sent.map((s) => `${s.path} ${s.status} ${Boolean(s.bearer)}`)).toStrictEqual(['auth/refresh/ 200 false', 'ctx/global/ 200 true']);
    expect(await again.auth.token()).toBe(again.auth.accessToken());
    await again.auth.signOut();
  });

  it('signOut({ everywhere: true }) ends every session of the user, in every client; another user is untouched', async () => {
    const one = live();
    const two = live();
    const other = live();
    await one.auth.signIn('grace', 'grace-pw');
    await two.auth.signIn('grace', 'grace-pw');
    await other.auth.signIn('ada', 'ada-pw');
    const tokens = [one.auth.accessToken()!, two.auth.accessToken()!];
    await one.auth.signOut({ everywhere: true });
    for (const t of tokens) expect((await raw('ctx/global/', undefined, t)).status).toBe(401);
    // The second client finds out on its next request: its refresh is refused, and it signs out.
    expect(await two.transport.fetchContext('global', {})).toStrictEqual({ current_user: null });
    expect(two.auth.getState().status).toBe('signed-out');
    expect((await raw('ctx/global/', undefined, other.auth.accessToken()!)).status).toBe(200);
    await other.auth.signOut();
  });

  it('signInWith adopts a pair from another sign-in; signInWithRefresh spends a handed-over refresh token at once', async () => {
    const pair = (await raw('auth/token/', { username: 'lin', password: 'lin-pw' })).json as { access: string; refresh: string };
    const a = live();
    expect(await a.auth.signInWith(pair)).toStrictEqual({ id: '3', staff: false, superuser: false });
    expect(await a.transport.fetchContext('global', {})).toStrictEqual({ current_user: { id: 3 } });
    await expect(a.auth.signInWith({ access: 1 } as unknown as { access: string; refresh: string })).rejects.toThrow(MizanError);
    await a.auth.signOut();

    // A redirect's refresh token (an identity provider's callback).
    const handed = ((await raw('auth/token/', { username: 'grace', password: 'grace-pw' })).json as { refresh: string }).refresh;
    const b = live();
    expect(await b.auth.signInWithRefresh(handed)).toStrictEqual({ id: '2', staff: false, superuser: false });
    expect(b.sent.map((s) => `${s.path} ${s.status}`)).toContain('auth/refresh/ 200');
    // The handed-over token is spent: a copy (the browser's history) is refused.
    expect((await raw('auth/refresh/', { refresh: handed })).status).toBe(401);
    // ...and replaying it revoked the session (reuse detection).
    expect((await raw('ctx/global/', undefined, b.auth.accessToken()!)).status).toBe(401);
    // A refused token resolves null, signed out.
    const c = live();
    expect(await c.auth.signInWithRefresh('not-a-token')).toBeNull();
    expect(c.auth.getState().status).toBe('signed-out');
  });
});
