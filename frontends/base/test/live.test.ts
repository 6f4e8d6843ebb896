// Live tests: the real httpTransport and MizanClient against the Go fixture
// application of docs/spec.md §7, built and served for the run by
// test/fixture-server.ts (Vitest globalSetup). Without Go they fail when
// CI=true and are skipped elsewhere.
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { beforeEach, describe, expect, inject, it } from 'vitest';
import {
  MizanClient,
  MizanError,
  httpTransport,
  instanceKey,
  parseInvalidateHeader,
  settled,
  type ContextInstance,
  type RetryOptions,
  type TargetInput,
} from '../src/index.js';
import { toTarget } from '../src/targets.js';

const origin = inject('fixtureUrl');
const skipReason = inject('fixtureSkip');
if (!origin) console.warn(`live tests skipped: ${skipReason}`);

interface Profile {
  id: number;
  name: string;
  email: string;
}
interface UserBundle {
  user_profile: Profile;
  user_orders: { id: number; total: number }[];
}
interface OrdersBundle {
  order_page: { items: { id: number; total: number; status: string }[]; page: number };
}

/** A request the transport sent: path relative to the prefix. */
interface Sent {
  method: string;
  path: string;
  headers: Record<string, string>;
  signal: AbortSignal | undefined;
}

interface LiveOptions {
  /** X-Test-User: the caller's id (the fixture's test-only authenticator). */
  user?: string;
  /** Origin of the server; default the fixture's. */
  origin?: string;
  retry?: RetryOptions;
  initialData?: Record<string, unknown>;
  /** reply may replace the server's response before the transport reads it. */
  reply?: (path: string, res: Response) => Promise<Response>;
}

/**
 * live returns a MizanClient over a real httpTransport to the fixture, and
 * the requests it sends.
 *
 * Node's fetch keeps no cookies, so the transport is given a one-cookie jar
 * as any non-browser client would be: the fetch wrapper keeps the
 * `csrftoken` cookie that `GET session/` sets, and the `headers` option
 * sends it back as `Cookie` on every request, beside the `X-CSRFToken`
 * header the transport itself adds to `call/` with the token from
 * session/'s body. That pair is what the server compares for a caller
 * authenticated by cookie. (The fixture's X-Test-User caller is a header
 * credential, exempt from the check like a Bearer token, so the pair is
 * checked by the tests below rather than by the server.)
 */
function live(o: LiveOptions = {}) {
  const base = o.origin ?? origin;
  const root = base + '/api/mizan/';
  const sent: Sent[] = [];
  const jar = { cookie: '' };
  const f = (async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    sent.push({
      method: init?.method ?? 'GET',
      path: String(input).slice(root.length),
      headers: { ...(init?.headers as Record<string, string>) },
      signal: init?.signal ?? undefined,
    });
    const res = await fetch(input, init);
    for (const c of res.headers.getSetCookie()) {
      const pair = c.split(';')[0] ?? '';
      if (pair.startsWith('csrftoken=')) jar.cookie = pair;
    }
    return o.reply ? o.reply(String(input).slice(root.length), res) : res;
  }) as typeof fetch;
  const transport = httpTransport({
    baseUrl: base,
    fetch: f,
    headers: () => ({
      ...(jar.cookie ? { Cookie: jar.cookie } : {}),
      ...(o.user ? { 'X-Test-User': o.user } : {}),
    }),
  });
  const client = new MizanClient({
    transport,
    retry: o.retry ?? { attempts: 0 },
    ...(o.initialData ? { initialData: o.initialData } : {}),
  });
  /** reads lists the context requests sent since the last clear, sorted. */
  const reads = (): string[] =>
    sent
      .filter((s) => s.path.startsWith('ctx/'))
      .map((s) => s.path)
      .sort();
  const clear = (): void => {
    sent.length = 0;
  };
  return { client, sent, jar, reads, clear };
}

/** load subscribes to inst (to its function fn), counting notifications, and waits until it has settled. */
async function load<T>(inst: ContextInstance<T>, fn?: string) {
  const w = { n: 0, unsubscribe: (): void => {} };
  w.unsubscribe = inst.subscribe(() => w.n++, fn);
  await settled(inst as ContextInstance<unknown>);
  return w;
}

/** fails returns what p rejects with (and fails the test if it resolves). */
async function fails(p: Promise<unknown>): Promise<MizanError> {
  const e = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(e).toBeInstanceOf(MizanError);
  return e as MizanError;
}

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

describe.skipIf(!origin)('live: httpTransport and MizanClient against the Go fixture', () => {
  // Every test starts from the fixture's initial data.
  beforeEach(async () => {
    const res = await fetch(origin + '/api/mizan/call/', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"fn":"reset_all"}',
    });
    expect(res.status).toBe(200);
  });

  describe('session/ and CSRF', () => {
    it('asks session/ once, keeps its cookie and repeats the token in X-CSRFToken on every call', async () => {
      const { client, sent, jar } = live({ user: '2' });
      const a = await client.call<{ secret: number }>('secret');
      const b = await client.call<{ secret: number }>('secret');
      expect(a).toStrictEqual({ result: { secret: 42 }, invalidate: [] });
      expect(b.result.secret).toBe(42);
      expect(sent.map((s) => `${s.method} ${s.path}`)).toEqual(['GET session/', 'POST call/', 'POST call/']);
      expect(jar.cookie).toMatch(/^csrftoken=[0-9a-f]{64}$/);
      const token = jar.cookie.slice('csrftoken='.length);
      expect(sent[0]?.headers.Cookie).toBeUndefined();
      for (const s of sent.slice(1)) {
        expect(s.headers['X-CSRFToken']).toBe(token);
        expect(s.headers.Cookie).toBe(jar.cookie);
        expect(s.headers['X-Test-User']).toBe('2');
      }
      // The server keeps a valid cookie: session/ with it answers the same token.
      const again = await fetch(origin + '/api/mizan/session/', { headers: { Cookie: jar.cookie } });
      expect(((await again.json()) as { csrf_token: string }).csrf_token).toBe(token);
    });
  });

  describe('contexts', () => {
    it('fetches the user bundle of one user_id into its instance', async () => {
      const { client, sent } = live();
      const inst = client.instance<UserBundle>('user', { user_id: 1 });
      await load(inst);
      expect(inst.getSnapshot()).toStrictEqual({
        status: 'success',
        stale: false,
        error: undefined,
        data: {
          user_profile: { id: 1, name: 'Ada', email: 'ada@example.com' },
          user_orders: [
            { id: 101, total: 1200 },
            { id: 102, total: 4550 },
          ],
        },
      });
      expect(sent.map((s) => `${s.method} ${s.path}`)).toEqual(['GET ctx/user/?user_id=1']);
    });

    it('sends the caller through the headers option: current_user of global', async () => {
      expect(await live({ user: '3' }).client.fetchContext('global')).toStrictEqual({ current_user: { id: 3 } });
      expect(await live().client.fetchContext('global')).toStrictEqual({ current_user: null });
    });

    it('dedupes: subscribers and refetch callers of one instance share one request', async () => {
      const { client, reads } = live();
      const inst = client.instance<UserBundle>('user', { user_id: 2 });
      inst.subscribe(() => {});
      inst.subscribe(() => {}, 'user_profile');
      const p1 = inst.refetch();
      const p2 = client.instance('user', { user_id: '2' }).refetch();
      expect(p2).toBe(p1);
      await p1;
      expect(reads()).toEqual(['ctx/user/?user_id=2']);
      expect(inst.getSnapshot().data?.user_profile.name).toBe('Grace');
    });

    it('starts a hydrated instance from server data and fetches it only once a mutation hits it', async () => {
      const server = live();
      const bundle = await server.client.fetchContext<UserBundle>('user', { user_id: 3 });
      const { client, reads } = live({ initialData: { [instanceKey('user', { user_id: 3 })]: bundle } });
      const inst = client.instance<UserBundle>('user', { user_id: 3 });
      expect(inst.getSnapshot()).toMatchObject({ status: 'success', stale: false, data: bundle });
      await load(inst);
      await tick();
      expect(reads()).toEqual([]);
      await client.call('update_profile', { user_id: 3, name: 'Lin W.' });
      await inst.refetch(); // joins the refetch the call started
      expect(reads()).toEqual(['ctx/user/?user_id=3']);
      expect(inst.getSnapshot().data?.user_profile.name).toBe('Lin W.');
      // Unchanged functions keep their data by reference.
      expect(inst.getSnapshot().data?.user_orders).toBe(bundle.user_orders);
    });
  });

  describe('mutations and the targets they return', () => {
    it('update_profile (scoped target): refetches the instance of that user_id only', async () => {
      const { client, reads, clear } = live({ user: '2' });
      const u1 = client.instance<UserBundle>('user', { user_id: 1 });
      const u2 = client.instance<UserBundle>('user', { user_id: 2 });
      const o2 = client.instance<OrdersBundle>('orders', { user_id: 2, page: 1, status: 'open' });
      await Promise.all([load(u1), load(u2), load(o2)]);
      const u1Before = u1.getSnapshot();
      const o2Before = o2.getSnapshot();
      clear();
      const r = await client.call<{ ok: boolean }>('update_profile', { user_id: 2, name: 'Grace H.' });
      expect(r).toStrictEqual({ result: { ok: true }, invalidate: [{ context: 'user', params: { user_id: 2 } }] });
      expect(u2.getSnapshot().stale).toBe(true); // applied before call resolved
      await u2.refetch();
      expect(u2.getSnapshot()).toMatchObject({ status: 'success', stale: false, data: { user_profile: { name: 'Grace H.' } } });
      await tick();
      expect(reads()).toEqual(['ctx/user/?user_id=2']);
      expect(u1.getSnapshot()).toBe(u1Before);
      expect(o2.getSnapshot()).toBe(o2Before);
    });

    it('update_name (function-level target): readers of user_orders are not notified', async () => {
      const { client, reads, clear } = live();
      const inst = client.instance<UserBundle>('user', { user_id: 1 });
      const profile = await load(inst, 'user_profile');
      const orders = await load(inst, 'user_orders');
      const [p0, o0] = [profile.n, orders.n];
      const ordersBefore = inst.getSnapshot().data?.user_orders;
      clear();
      const r = await client.call('update_name', { user_id: 1, name: 'Ada L.' });
      expect(r.invalidate).toStrictEqual([{ context: 'user', function: 'user_profile', params: { user_id: 1 } }]);
      await inst.refetch();
      expect(reads()).toEqual(['ctx/user/?user_id=1']);
      expect(inst.getSnapshot().data?.user_profile.name).toBe('Ada L.');
      expect(profile.n).toBeGreaterThan(p0);
      expect(orders.n).toBe(o0);
      expect(inst.getSnapshot().data?.user_orders).toBe(ordersBefore);
    });

    it('archive_orders (scoped by two params): refetches only the orders instances agreeing with both', async () => {
      const { client, reads, clear } = live();
      const open2 = client.instance<OrdersBundle>('orders', { user_id: 2, page: 1, status: 'open' });
      const shipped2 = client.instance<OrdersBundle>('orders', { user_id: 2, page: 1, status: 'shipped' });
      const open1 = client.instance<OrdersBundle>('orders', { user_id: 1, page: 1, status: 'open' });
      await Promise.all([load(open2), load(shipped2), load(open1)]);
      expect(open2.getSnapshot().data?.order_page.items).toStrictEqual([{ id: 201, total: 1200, status: 'open' }]);
      clear();
      const r = await client.call('archive_orders', { user_id: 2, status: 'open' });
      expect(r.invalidate).toStrictEqual([{ context: 'orders', params: { status: 'open', user_id: 2 } }]);
      await open2.refetch();
      await tick();
      expect(reads()).toEqual(['ctx/orders/?page=1&status=open&user_id=2']);
      expect(open2.getSnapshot().data?.order_page).toStrictEqual({ items: [], page: 1 });
      expect(shipped2.getSnapshot().stale).toBe(false);
      expect(open1.getSnapshot().data?.order_page.items).toHaveLength(1);
    });

    it('reset_all (broad targets): refetches every user and orders instance, not global', async () => {
      const { client, reads, clear } = live({ user: '1' });
      const insts = [
        client.instance('user', { user_id: 1 }),
        client.instance('user', { user_id: 2 }),
        client.instance('orders', { user_id: 3, page: 1, status: 'open' }),
        client.instance('global'),
      ];
      await Promise.all(insts.map((i) => load(i)));
      clear();
      const r = await client.call('reset_all');
      expect(r.invalidate).toStrictEqual(['user', 'orders']);
      await Promise.all(insts.slice(0, 3).map((i) => i.refetch()));
      await tick();
      expect(reads()).toEqual(['ctx/orders/?page=1&status=open&user_id=3', 'ctx/user/?user_id=1', 'ctx/user/?user_id=2']);
      expect(insts[3]?.getSnapshot()).toMatchObject({ stale: false, data: { current_user: { id: 1 } } });
    });
  });

  describe('the header form (X-Mizan-Invalidate)', () => {
    it('a view-path mutation carries the header only; parsed and applied, it refetches that user', async () => {
      const { client, reads, clear } = live();
      const u1 = client.instance<UserBundle>('user', { user_id: 1 });
      const u2 = client.instance<UserBundle>('user', { user_id: 2 });
      await Promise.all([load(u1), load(u2)]);
      clear();
      const res = await fetch(origin + '/profile/1/update/', {
        method: 'POST',
        body: new URLSearchParams({ name: 'Ada B.' }),
        redirect: 'manual',
      });
      expect(res.status).toBe(302);
      expect(res.headers.get('Location')).toBe('/profile/1/');
      const header = res.headers.get('X-Mizan-Invalidate');
      expect(header).toBe('user;user_id=1');
      const targets = parseInvalidateHeader(header!);
      expect(targets).toStrictEqual([{ context: 'user', params: { user_id: '1' } }]);
      client.invalidate(targets);
      await u1.refetch();
      await tick();
      expect(reads()).toEqual(['ctx/user/?user_id=1']);
      expect(u1.getSnapshot().data?.user_profile.name).toBe('Ada B.');
    });

    it('call/ repeats the body targets in the header; the transport reads it when the body has none', async () => {
      const bodies: TargetInput[][] = [];
      const headers: string[] = [];
      // Strip invalidate from call/ bodies, keeping the server's headers.
      const { client, reads, clear } = live({
        reply: async (path, res) => {
          if (path !== 'call/') return res;
          const body = (await res.json()) as { result: unknown; invalidate: TargetInput[] };
          bodies.push(body.invalidate);
          headers.push(res.headers.get('X-Mizan-Invalidate') ?? '');
          const h = new Headers(res.headers);
          h.delete('Content-Length');
          return new Response(JSON.stringify({ result: body.result }), { status: res.status, headers: h });
        },
      });
      const u1 = client.instance<UserBundle>('user', { user_id: 1 });
      const u3 = client.instance<UserBundle>('user', { user_id: 3 });
      await Promise.all([load(u1), load(u3)]);
      clear();
      const r = await client.call('update_profile', { user_id: 3, name: 'Lin X.' });
      expect(headers).toEqual(['user;user_id=3']);
      expect(bodies).toStrictEqual([[{ context: 'user', params: { user_id: 3 } }]]);
      // From the header: the same target, params as strings.
      expect(r).toStrictEqual({ result: { ok: true }, invalidate: [{ context: 'user', params: { user_id: '3' } }] });
      expect(r.invalidate.map(toTarget)).toStrictEqual(bodies[0]!.map(toTarget));
      await u3.refetch();
      await tick();
      expect(reads()).toEqual(['ctx/user/?user_id=3']);
      expect(u3.getSnapshot().data?.user_profile.name).toBe('Lin X.');
    });
  });

  describe('errors from the envelope', () => {
    it('invalid_args with per-argument fields, from call/ and from a context', async () => {
      const { client } = live();
      const e = await fails(client.call('update_profile', { user_id: 'x' }));
      expect(e).toMatchObject({
        name: 'MizanError',
        code: 'invalid_args',
        status: 400,
        fields: { name: 'required', user_id: 'must be an integer' },
      });
      const inst = client.instance<OrdersBundle>('orders', { user_id: 1, page: 0, status: 'open' });
      await load(inst);
      expect(inst.getSnapshot()).toMatchObject({ status: 'error', data: undefined });
      expect(inst.getSnapshot().error).toMatchObject({ code: 'invalid_args', status: 400, fields: { page: 'must be 1 or more' } });
    });

    it('not_found for an unknown function, an unknown context and an unknown user', async () => {
      const { client } = live();
      const fn = await fails(client.call('no_such_function', {}));
      expect(fn).toMatchObject({ code: 'not_found', status: 404 });
      expect(fn.message).toContain('no_such_function');
      expect(fn.fields).toBeUndefined();
      expect(await fails(client.fetchContext('no_such_context'))).toMatchObject({ code: 'not_found', status: 404 });
      const inst = client.instance<UserBundle>('user', { user_id: 99 });
      await load(inst);
      expect(inst.getSnapshot().error).toMatchObject({ code: 'not_found', status: 404, message: 'no user with id 99' });
    });

    it('unauthorized, forbidden (then a new CSRF token) and a function\'s own conflict', async () => {
      expect(await fails(live().client.call('secret'))).toMatchObject({ code: 'unauthorized', status: 401 });
      const { client, sent } = live({ user: '2' });
      expect(await fails(client.call('admin_action'))).toMatchObject({ code: 'forbidden', status: 403 });
      // After a 403 the transport asks session/ again before its next call.
      expect(await fails(client.call('fail'))).toMatchObject({ code: 'conflict', status: 409, message: 'this action always conflicts' });
      expect(sent.map((s) => `${s.method} ${s.path}`)).toEqual(['GET session/', 'POST call/', 'GET session/', 'POST call/']);
      expect(await live({ user: '1' }).client.call('admin_action').catch((e: unknown) => e)).toMatchObject({
        code: 'forbidden', // X-Test-Staff is not sent: user 1 is staff only with it
      });
    });
  });

  describe('network failures and abort', () => {
    it('a refused connection is code network, status 0, retried with backoff', async () => {
      const srv = createServer();
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
      const { port } = srv.address() as AddressInfo;
      await new Promise<void>((r) => srv.close(() => r()));
      const { client, sent } = live({ origin: `http://127.0.0.1:${port}`, retry: { attempts: 2, delay: 20 } });
      const t0 = Date.now();
      const e = await fails(client.fetchContext('user', { user_id: 1 }));
      expect(e).toMatchObject({ code: 'network', status: 0 });
      expect(sent).toHaveLength(3);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(55); // 20 + 40 ms of backoff
    });

    it('the last unsubscribe aborts the request in flight; the next subscriber starts over', async () => {
      const { client, sent } = live();
      const inst = client.instance<UserBundle>('user', { user_id: 1 });
      const unsubscribe = inst.subscribe(() => {});
      expect(inst.getSnapshot().status).toBe('loading');
      const joined = inst.refetch();
      unsubscribe();
      await joined; // settles (without data) once aborted
      expect(sent).toHaveLength(1);
      expect(sent[0]?.signal?.aborted).toBe(true);
      expect(inst.getSnapshot()).toStrictEqual({ data: undefined, status: 'idle', error: undefined, stale: false });
      await load(inst);
      expect(sent).toHaveLength(2);
      expect(inst.getSnapshot().data?.user_profile.name).toBe('Ada');
    });
  });
});
