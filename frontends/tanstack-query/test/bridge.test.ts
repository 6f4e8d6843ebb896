// Unit tests of @mizan/tanstack-query over a fake transport (test/fake.ts)
// and @tanstack/query-core's QueryClient, QueryObserver and
// MutationObserver: the query keys, the query functions, the mutation
// options' invalidation by the matching rule, and connectInvalidations.
import { MizanClient, MizanError, instanceKey, type TargetInput } from '@mizan/base';
import { MutationObserver, QueryClient, QueryObserver, hashKey } from '@tanstack/query-core';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import {
  connectInvalidations,
  contextQuery,
  contextQueryOptions,
  invalidateTargets,
  mizanMutationOptions,
  mizanQueries,
  mizanQueryKey,
  setInitialData,
  type ContextQueryOptions,
} from '../src/index.js';
import { FakeTransport, tick } from './fake.js';

interface UserBundle {
  user_profile: { name: string };
  user_orders: unknown[];
}
type UserParams = { user_id: number };
type OrdersParams = { user_id: number; status: string; page: number };

// Fetches with the signatures `mizan generate --target ts` writes.
const fetchUser = (params: UserParams, client: MizanClient = new MizanClient()): Promise<UserBundle> =>
  client.fetchContext<UserBundle>('user', params);
const fetchOrders = (params: OrdersParams, client: MizanClient = new MizanClient()): Promise<{ orders_data: unknown }> =>
  client.fetchContext('orders', params);
const fetchGlobal = (params: Record<string, never> = {}, client: MizanClient = new MizanClient()): Promise<{ global_data: unknown }> =>
  client.fetchContext('global', params);

let cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.reverse()) f();
  cleanup = [];
});

function setup(pushing = false) {
  const transport = new FakeTransport(pushing);
  const client = new MizanClient({ transport, retry: { attempts: 0 } });
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false, staleTime: Infinity } } });
  cleanup.push(() => queryClient.clear());
  const q = mizanQueries({ user: fetchUser, orders: fetchOrders, global: fetchGlobal }, { client });
  /** observe mounts an observer of opts, as a rendered useQuery does; it returns its unsubscribe. */
  const observe = (opts: ContextQueryOptions<unknown>): (() => void) => {
    const obs = new QueryObserver(queryClient, opts);
    const off = obs.subscribe(() => {});
    cleanup.push(off);
    return off;
  };
  return { transport, client, queryClient, q, observe };
}

describe('query keys and options', () => {
  it('keys an instance by context and its params stringified as the protocol says', () => {
    expect(mizanQueryKey('user', { user_id: 1 })).toEqual(['mizan', 'user', { user_id: '1' }]);
    expect(mizanQueryKey('tasks', { state: undefined, project_id: 2, done: false })).toEqual([
      'mizan',
      'tasks',
      { done: 'false', project_id: '2' },
    ]);
    expect(mizanQueryKey('global')).toEqual(['mizan', 'global', {}]);
    // The same instance whatever the types and order: the same query.
    expect(hashKey(mizanQueryKey('orders', { user_id: 1, status: 'open' }))).toBe(
      hashKey(mizanQueryKey('orders', { status: 'open', user_id: '1' })),
    );
    expect(contextQueryOptions('user', { user_id: 7 }).queryKey).toEqual(['mizan', 'user', { user_id: '7' }]);
  });

  it('fetches the bundle through the client, with the params and the abort signal', async () => {
    const { transport, client, queryClient } = setup();
    const data = await queryClient.fetchQuery(contextQueryOptions<UserBundle>('user', { user_id: 2 }, { client }));
    expect(data.user_profile.name).toBe('Grace');
    expect(transport.count('user', { user_id: 2 })).toBe(1);
    expect(transport.signals[0]).toBeInstanceOf(AbortSignal);
  });

  it('types and fetches the contexts of a generated client', async () => {
    const { transport, queryClient, q } = setup();
    const opts = q.user({ user_id: 1 });
    expectTypeOf(opts.queryFn).returns.resolves.toEqualTypeOf<UserBundle>();
    expect(opts.queryKey).toEqual(['mizan', 'user', { user_id: '1' }]);
    const data = await queryClient.fetchQuery(opts);
    expect(data.user_profile.name).toBe('Ada');
    // getQueryData is typed by the tagged key.
    const cached = queryClient.getQueryData(opts.queryKey);
    expectTypeOf(cached).toEqualTypeOf<UserBundle | undefined>();
    expect(cached).toBe(data);
    // A context whose params are all optional takes none.
    await queryClient.fetchQuery(q.global());
    expect(transport.count('global')).toBe(1);
    expect(transport.signals.every((s) => s instanceof AbortSignal)).toBe(true);
  });

  it('refuses a fetch given under another context name', async () => {
    const { client, queryClient } = setup();
    const wrong = contextQuery('users', fetchUser, { client });
    await expect(queryClient.fetchQuery(wrong({ user_id: 1 }))).rejects.toThrow(
      'the fetch given for context "users" fetched context "user"',
    );
  });

  it('rejects with the MizanError of a failed fetch', async () => {
    const { transport, client, queryClient } = setup();
    transport.fetchContext = async () => {
      throw new MizanError('not_found', 'no such user', 404);
    };
    const err: unknown = await queryClient.fetchQuery(contextQueryOptions('user', { user_id: 9 }, { client })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MizanError);
    expect(err).toMatchObject({ code: 'not_found', status: 404 });
  });
});

describe('setInitialData', () => {
  it('seeds the queries of the instances rendered on the server, by their instance keys', async () => {
    const { transport, queryClient, q, observe } = setup();
    const user = { user_profile: { name: 'Server Ada' }, user_orders: [] };
    const orders = { orders_data: { n: 1 } };
    setInitialData(queryClient, {
      [instanceKey('user', { user_id: 1 })]: user,
      [instanceKey('orders', { user_id: 1, status: 'a b&c=d', page: 2 })]: orders,
      [instanceKey('global')]: { global_data: null },
    });
    expect(queryClient.getQueryData(q.user({ user_id: 1 }).queryKey)).toBe(user);
    expect(queryClient.getQueryData(q.orders({ user_id: 1, status: 'a b&c=d', page: 2 }).queryKey)).toBe(orders);
    expect(queryClient.getQueryData(q.global().queryKey)).toEqual({ global_data: null });
    // Fresh data: observing it does not fetch (staleTime: Infinity here).
    observe(q.user({ user_id: 1 }) as ContextQueryOptions<unknown>);
    await tick();
    expect(transport.fetches.size).toBe(0);
  });
});

describe('mutation options', () => {
  /** mount observes user 1, user 2, orders of user 1 (open, paid) and global, and waits for their first fetch. */
  async function mounted(pushing = false) {
    const s = setup(pushing);
    for (const o of [
      s.q.user({ user_id: 1 }),
      s.q.user({ user_id: 2 }),
      s.q.orders({ user_id: 1, status: 'open', page: 1 }),
      s.q.orders({ user_id: 1, status: 'paid', page: 1 }),
      s.q.global(),
    ])
      s.observe(o as ContextQueryOptions<unknown>);
    await tick();
    s.transport.fetches.clear();
    const run = async (fn: string, targets: TargetInput[], args: unknown = {}): Promise<void> => {
      s.transport.targets[fn] = targets;
      const m = new MutationObserver(s.queryClient, mizanMutationOptions(fn, { client: s.client }));
      await m.mutate(args);
    };
    /** counts returns the fetches since the last clear, by instance key. */
    const counts = (): Record<string, number> => Object.fromEntries(s.transport.fetches);
    return { ...s, run, counts };
  }

  it('refetches exactly the queries a scoped target matches', async () => {
    const { run, counts } = await mounted();
    await run('update_profile', [{ context: 'user', params: { user_id: 1 } }], { user_id: 1, name: 'Ada L' });
    expect(counts()).toEqual({ 'user?user_id=1': 1 });
  });

  it('refetches every query of the context for a broad target', async () => {
    const { run, counts } = await mounted();
    await run('reset', ['user']);
    expect(counts()).toEqual({ 'user?user_id=1': 1, 'user?user_id=2': 1 });
  });

  it('matches instances that omit a target param, and not those that disagree', async () => {
    const { run, counts } = await mounted();
    await run('archive', [{ context: 'orders', params: { user_id: 1, status: 'open', extra: true } }]);
    expect(counts()).toEqual({ 'orders?page=1&status=open&user_id=1': 1 });
  });

  it('refetches the queries of the context of a function-level target', async () => {
    const { run, counts, queryClient, q } = await mounted();
    await run('update_name', [{ context: 'user', function: 'user_profile', params: { user_id: 2 } }], { user_id: 2, name: 'G' });
    expect(counts()).toEqual({ 'user?user_id=2': 1 });
    expect(queryClient.getQueryData(q.user({ user_id: 2 }).queryKey)?.user_profile.name).toBe('G');
  });

  it('resolves once the invalidated queries have refetched', async () => {
    const { transport, client, queryClient, q } = await mounted();
    transport.targets.update_profile = [{ context: 'user', params: { user_id: 1 } }];
    const m = new MutationObserver(queryClient, mizanMutationOptions('update_profile', { client }));
    await m.mutate({ user_id: 1, name: 'Countess' });
    expect(queryClient.getQueryData(q.user({ user_id: 1 }).queryKey)?.user_profile.name).toBe('Countess');
  });

  it('skips entries of no known form, and a call without targets', async () => {
    const { run, counts } = await mounted();
    await run('odd', [42, null, { params: {} }, 'global'] as unknown as TargetInput[]);
    expect(counts()).toEqual({ global: 1 });
    await run('nothing', []);
    expect(counts()).toEqual({ global: 1 });
  });

  it('marks an unobserved matching query invalidated without fetching it', async () => {
    const { run, counts, queryClient, q } = await mounted();
    await queryClient.fetchQuery(q.user({ user_id: 3 }));
    const key = q.user({ user_id: 3 }).queryKey;
    expect(queryClient.getQueryState(key)?.isInvalidated).toBe(false);
    await run('reset', ['user']);
    expect(queryClient.getQueryState(key)?.isInvalidated).toBe(true);
    expect(counts()['user?user_id=3']).toBe(1); // the fetchQuery, not the invalidation
  });

  it('calls a generated call with the client, and runs an onSuccess of its own', async () => {
    const { transport, client, queryClient, counts } = await mounted();
    transport.targets.update_profile = [{ context: 'user', params: { user_id: 2 } }];
    const callUpdateProfile = (args: { user_id: number; name: string }, c: MizanClient = new MizanClient()) =>
      c.call<{ ok: boolean }>('update_profile', args);
    const seen: unknown[] = [];
    const opts = mizanMutationOptions(callUpdateProfile, {
      client,
      onSuccess: (data, args) => {
        seen.push(data.result.ok, args.name);
      },
    });
    expectTypeOf(opts.mutationFn).parameter(0).toEqualTypeOf<{ user_id: number; name: string }>();
    const m = new MutationObserver(queryClient, opts);
    const res = await m.mutate({ user_id: 2, name: 'Grace H' });
    expect(res.result).toEqual({ ok: true });
    expect(seen).toEqual([true, 'Grace H']);
    expect(transport.calls).toEqual([{ fn: 'update_profile', args: { user_id: 2, name: 'Grace H' } }]);
    expect(counts()).toEqual({ 'user?user_id=2': 1 });
  });

  it('rejects with the MizanError of a failed call and invalidates nothing', async () => {
    const { transport, client, queryClient, counts } = await mounted();
    transport.call = async () => {
      throw new MizanError('conflict', 'conflict', 409);
    };
    const m = new MutationObserver(queryClient, mizanMutationOptions('fail', { client }));
    const err: MizanError = await m.mutate({}).then(
      () => {
        throw new Error('resolved');
      },
      (e: MizanError) => e,
    );
    expect(err.code).toBe('conflict');
    await tick();
    expect(counts()).toEqual({});
  });

  it('invalidateTargets applies targets by hand', async () => {
    const { queryClient, counts } = await mounted();
    await invalidateTargets(queryClient, [{ context: 'orders', params: { status: 'paid' } }]);
    expect(counts()).toEqual({ 'orders?page=1&status=paid&user_id=1': 1 });
  });

  it('leaves queries that are not Mizan queries alone', async () => {
    const { queryClient, run } = await mounted();
    let n = 0;
    const other = new QueryObserver(queryClient, { queryKey: ['user', { user_id: '1' }], queryFn: async () => ++n });
    cleanup.push(other.subscribe(() => {}));
    await tick();
    await run('reset', ['user']);
    expect(n).toBe(1);
  });

  it('with connectInvalidations, invalidates once per call', async () => {
    const { run, counts, queryClient, client } = await mounted();
    cleanup.push(connectInvalidations(queryClient, client));
    await run('update_profile', [{ context: 'user', params: { user_id: 1 } }], { user_id: 1, name: 'A' });
    await tick();
    expect(counts()).toEqual({ 'user?user_id=1': 1 });
  });
});

describe('connectInvalidations', () => {
  it("applies the client's own calls and the pushed invalidations", async () => {
    const { transport, client, queryClient, q, observe } = setup(true);
    observe(q.user({ user_id: 1 }) as ContextQueryOptions<unknown>);
    observe(q.user({ user_id: 2 }) as ContextQueryOptions<unknown>);
    await tick();
    transport.fetches.clear();
    const off = connectInvalidations(queryClient, client);

    transport.targets.update_profile = [{ context: 'user', params: { user_id: 1 } }];
    await client.call('update_profile', { user_id: 1, name: 'Ada B' });
    await tick();
    expect(Object.fromEntries(transport.fetches)).toEqual({ 'user?user_id=1': 1 });
    expect(queryClient.getQueryData(q.user({ user_id: 1 }).queryKey)?.user_profile.name).toBe('Ada B');

    transport.push!([{ context: 'user', function: 'user_profile', params: { user_id: 2 } }]);
    await tick();
    expect(Object.fromEntries(transport.fetches)).toEqual({ 'user?user_id=1': 1, 'user?user_id=2': 1 });

    off();
    off(); // idempotent
    transport.push!(['user']);
    await client.call('update_profile', { user_id: 1, name: 'Ada C' });
    await tick();
    expect(Object.fromEntries(transport.fetches)).toEqual({ 'user?user_id=1': 1, 'user?user_id=2': 1 });
    // The client is as it was.
    expect(Object.hasOwn(client, 'invalidate')).toBe(false);
  });

  it('serves several query clients, and keeps the others when one disconnects', async () => {
    const transport = new FakeTransport(true);
    const client = new MizanClient({ transport, retry: { attempts: 0 } });
    const a = new QueryClient({ defaultOptions: { queries: { staleTime: Infinity } } });
    const b = new QueryClient({ defaultOptions: { queries: { staleTime: Infinity } } });
    const q = mizanQueries({ user: fetchUser }, { client });
    for (const qc of [a, b]) cleanup.push(new QueryObserver(qc, q.user({ user_id: 1 })).subscribe(() => {}));
    await tick();
    transport.fetches.clear();
    const offA = connectInvalidations(a, client);
    const offB = connectInvalidations(b, client);
    transport.push!(['user']);
    await tick();
    expect(transport.count('user', { user_id: 1 })).toBe(2);
    offA();
    transport.push!(['user']);
    await tick();
    expect(transport.count('user', { user_id: 1 })).toBe(3);
    offB();
    expect(Object.hasOwn(client, 'invalidate')).toBe(false);
  });

  it('subscribes the transport to observed queries, as the kernel does to watched instances', async () => {
    const { transport, client, queryClient, q, observe } = setup(true);
    const offA = observe(q.user({ user_id: 1 }) as ContextQueryOptions<unknown>);
    const off = connectInvalidations(queryClient, client);
    // A query observed before connecting is subscribed at once.
    expect(transport.watches).toEqual(['on user?user_id=1']);
    const offB = observe(q.orders({ status: 'open', user_id: 1, page: 2 }) as ContextQueryOptions<unknown>);
    const offB2 = observe(q.orders({ status: 'open', user_id: 1, page: 2 }) as ContextQueryOptions<unknown>);
    expect(transport.watches).toEqual(['on user?user_id=1', 'on orders?page=2&status=open&user_id=1']);
    await tick();

    // Unobserved and observed again at once (React StrictMode): kept.
    offA();
    observe(q.user({ user_id: 1 }) as ContextQueryOptions<unknown>);
    await tick();
    expect(transport.watches).toHaveLength(2);

    // The last observer gone: unsubscribed, and invalidated since no push tells it about changes any more.
    offB();
    await tick();
    expect(transport.watches).toHaveLength(2);
    offB2();
    await tick();
    expect(transport.watches.at(-1)).toBe('off orders?page=2&status=open&user_id=1');
    const key = q.orders({ status: 'open', user_id: 1, page: 2 }).queryKey;
    expect(queryClient.getQueryState(key)?.isInvalidated).toBe(true);

    // Disconnecting unsubscribes the rest.
    off();
    expect(transport.watches.at(-1)).toBe('off user?user_id=1');
    expect(transport.watches).toHaveLength(4);
  });

  it('unsubscribes a query removed from the cache', async () => {
    const { transport, client, queryClient, q, observe } = setup(true);
    cleanup.push(connectInvalidations(queryClient, client));
    observe(q.user({ user_id: 2 }) as ContextQueryOptions<unknown>);
    await tick();
    queryClient.removeQueries({ queryKey: q.user({ user_id: 2 }).queryKey });
    await tick();
    expect(transport.watches).toEqual(['on user?user_id=2', 'off user?user_id=2']);
  });

  it('subscribes nothing over a transport that does not push', async () => {
    const { client, queryClient, q, observe, transport } = setup(false);
    cleanup.push(connectInvalidations(queryClient, client));
    observe(q.user({ user_id: 1 }) as ContextQueryOptions<unknown>);
    await tick();
    expect(transport.watches).toEqual([]);
  });
});
