import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  MizanClient,
  MizanError,
  configure,
  getClient,
  instanceKey,
  parseInvalidateHeader,
  type ContextInstance,
  type TargetInput,
} from '../src/index.js';
import { FakeTransport, fixtureServer, tick } from './fake.js';

function setup() {
  const server = fixtureServer();
  const transport = new FakeTransport(server.onContext, server.onCall);
  const client = new MizanClient({ transport, retry: { attempts: 0 } });
  return { server, transport, client };
}

/** watch subscribes to inst and counts notifications. */
function watch(inst: ContextInstance<unknown>, fn?: string) {
  const w = { n: 0, unsubscribe: () => {} };
  w.unsubscribe = inst.subscribe(() => w.n++, fn);
  return w;
}

type UserBundle = { user_profile: { name: string }; user_orders: { id: number }[] };

describe('instances', () => {
  it('returns one instance per context and params, whatever their order or type', () => {
    const { client } = setup();
    const a = client.instance('orders', { user_id: 1, page: 2 });
    expect(client.instance('orders', { page: '2', user_id: '1' })).toBe(a);
    expect(client.instance('orders', { page: 2, user_id: 1, status: undefined })).toBe(a);
    expect(client.instance('orders', { user_id: 1, page: 3 })).not.toBe(a);
    expect(a.params).toStrictEqual({ page: '2', user_id: '1' });
  });

  it('goes idle -> loading -> success on first subscribe, with stable snapshots', async () => {
    const { client, transport } = setup();
    const inst = client.instance<UserBundle>('user', { user_id: 1 });
    const s0 = inst.getSnapshot();
    expect(s0).toStrictEqual({ data: undefined, status: 'idle', error: undefined, stale: false });
    expect(inst.getSnapshot()).toBe(s0);
    expect(transport.count()).toBe(0); // reading alone does not fetch
    const seen: string[] = [];
    inst.subscribe(() => seen.push(inst.getSnapshot().status));
    expect(inst.getSnapshot().status).toBe('loading');
    await tick();
    const s = inst.getSnapshot();
    expect(s.status).toBe('success');
    expect(s.data?.user_profile.name).toBe('Ada');
    expect(inst.getSnapshot()).toBe(s);
    expect(seen).toEqual(['loading', 'success']);
    expect(transport.fetches[0]?.params).toStrictEqual({ user_id: '1' });
  });

  it('dedupes concurrent fetches of one instance', async () => {
    const { client, transport } = setup();
    const inst = client.instance('user', { user_id: 1 });
    watch(inst);
    watch(inst, 'user_profile');
    const p1 = inst.refetch();
    const p2 = client.instance('user', { user_id: '1' }).refetch();
    expect(p2).toBe(p1);
    await p1;
    expect(transport.count()).toBe(1);
    // A second subscriber to fresh data does not fetch either.
    watch(inst);
    await tick();
    expect(transport.count()).toBe(1);
    // Once settled, refetch fetches again.
    await inst.refetch();
    expect(transport.count()).toBe(2);
  });

  it('keeps unchanged data by reference across refetches (structural sharing)', async () => {
    const { client, server } = setup();
    const inst = client.instance<UserBundle>('user', { user_id: 1 });
    watch(inst);
    await tick();
    const before = inst.getSnapshot();
    await inst.refetch();
    expect(inst.getSnapshot()).toBe(before);
    server.users['1']!.name = 'Ada L.';
    await inst.refetch();
    const after = inst.getSnapshot();
    expect(after.data?.user_profile.name).toBe('Ada L.');
    expect(after.data?.user_profile).not.toBe(before.data?.user_profile);
    expect(after.data?.user_orders).toBe(before.data?.user_orders);
  });

  it('fetchContext goes straight to the transport, without caching', async () => {
    const { client, transport } = setup();
    const a = await client.fetchContext<UserBundle>('user', { user_id: 2 });
    await client.fetchContext('user', { user_id: 2 });
    expect(a.user_profile.name).toBe('Grace');
    expect(transport.count()).toBe(2);
    expect(client.instance('user', { user_id: 2 }).getSnapshot().status).toBe('idle');
  });
});

describe('invalidation targets', () => {
  async function three() {
    const s = setup();
    const u1 = s.client.instance('user', { user_id: 1 });
    const u2 = s.client.instance('user', { user_id: 2 });
    const o1 = s.client.instance('orders', { user_id: 1, page: 1 });
    const w = [watch(u1), watch(u2), watch(o1)];
    await tick();
    s.transport.fetches = [];
    return { ...s, u1, u2, o1, w };
  }
  const fetched = (t: FakeTransport) => t.fetches.map((f) => `${f.context}:${String(f.params.user_id)}`).sort();

  it('a broad string target refetches every instance of its context only', async () => {
    const { client, transport } = await three();
    client.invalidate(['user']);
    await tick();
    expect(fetched(transport)).toEqual(['user:1', 'user:2']);
  });

  it('a broad object target (no params) does the same', async () => {
    const { client, transport } = await three();
    client.invalidate([{ context: 'orders' }]);
    await tick();
    expect(fetched(transport)).toEqual(['orders:1']);
  });

  it('a scoped target refetches only the instances whose params agree', async () => {
    const { client, transport } = await three();
    client.invalidate([{ context: 'user', params: { user_id: 2 } }]);
    await tick();
    expect(fetched(transport)).toEqual(['user:2']);
  });

  it('a scoped target agreeing on some params but not all refetches nothing', async () => {
    const { client, transport } = await three();
    client.invalidate([{ context: 'orders', params: { user_id: 1, page: 2 } }]);
    await tick();
    expect(fetched(transport)).toEqual([]);
    client.invalidate([{ context: 'orders', params: { user_id: 1, page: 1 } }]);
    await tick();
    expect(fetched(transport)).toEqual(['orders:1']);
  });

  it('a function-level target refetches its instance and notifies only readers of that function', async () => {
    const { client, transport, server } = setup();
    const inst = client.instance<UserBundle>('user', { user_id: 1 });
    const profile = watch(inst, 'user_profile');
    const orders = watch(inst, 'user_orders');
    const whole = watch(inst);
    await tick();
    const [p0, o0, w0] = [profile.n, orders.n, whole.n];
    const ordersBefore = inst.getSnapshot().data?.user_orders;
    server.users['1']!.name = 'Ada L.';
    client.invalidate([{ context: 'user', function: 'user_profile', params: { user_id: 1 } }]);
    await tick();
    expect(transport.count()).toBe(2);
    expect(inst.getSnapshot().data?.user_profile.name).toBe('Ada L.');
    expect(profile.n).toBe(p0 + 1);
    expect(orders.n).toBe(o0);
    expect(whole.n).toBeGreaterThan(w0);
    expect(inst.getSnapshot().data?.user_orders).toBe(ordersBefore);
  });

  it('a function-level target of other params leaves the instance alone', async () => {
    const { client, transport, u1 } = await three();
    const before = u1.getSnapshot();
    client.invalidate([{ context: 'user', function: 'user_profile', params: { user_id: 2 } }]);
    await tick();
    expect(fetched(transport)).toEqual(['user:2']);
    expect(u1.getSnapshot()).toBe(before);
  });

  it('several targets hitting one instance refetch it once', async () => {
    const { client, transport } = await three();
    client.invalidate(['user', { context: 'user', params: { user_id: 1 } }, { context: 'user', function: 'user_orders' }]);
    await tick();
    expect(fetched(transport)).toEqual(['user:1', 'user:2']);
  });

  it('skips target entries of no known form', async () => {
    const { client, transport } = await three();
    client.invalidate([null, 5, { params: {} }, 'orders'] as unknown as TargetInput[]);
    await tick();
    expect(fetched(transport)).toEqual(['orders:1']);
  });

  it('accepts the header form once parsed', async () => {
    const { client, transport } = await three();
    client.invalidate(parseInvalidateHeader('user;user_id=1, orders'));
    await tick();
    expect(fetched(transport)).toEqual(['orders:1', 'user:1']);
  });

  it('call applies the targets the function returns before it resolves', async () => {
    const { client, transport, u1 } = await three();
    const r = await client.call<{ ok: boolean }>('update_profile', { user_id: 1, name: 'Ada L.' });
    expect(r.result).toStrictEqual({ ok: true });
    expect(r.invalidate).toStrictEqual([{ context: 'user', params: { user_id: 1 } }]);
    expect(u1.getSnapshot().stale).toBe(true);
    await tick();
    expect(fetched(transport)).toEqual(['user:1']);
    expect(u1.getSnapshot()).toMatchObject({ stale: false, status: 'success', data: { user_profile: { name: 'Ada L.' } } });
  });

  it('an invalidation during a fetch supersedes it: the older answer is dropped', async () => {
    const { client, transport } = setup();
    transport.manual = true;
    transport.honorAbort = false; // a transport that ignores the signal
    const inst = client.instance<UserBundle>('user', { user_id: 1 });
    watch(inst);
    const joined = inst.refetch();
    expect(transport.pending).toHaveLength(1);
    client.invalidate(['user']); // the answer in flight may predate the mutation
    expect(transport.pending).toHaveLength(2);
    expect(transport.pending[0]!.signal?.aborted).toBe(true);
    transport.pending[1]!.resolve({ user_profile: { name: 'new' }, user_orders: [] });
    transport.pending[0]!.resolve({ user_profile: { name: 'old' }, user_orders: [] });
    await joined; // the refetch promise follows the fetch that replaced it
    await tick();
    expect(inst.getSnapshot()).toMatchObject({ status: 'success', stale: false, data: { user_profile: { name: 'new' } } });
  });
});

describe('unwatched instances', () => {
  it('are marked stale, not refetched, and refetched when next subscribed', async () => {
    const { client, transport, server } = setup();
    const inst = client.instance<UserBundle>('user', { user_id: 1 });
    const w = watch(inst);
    await tick();
    w.unsubscribe();
    await tick();
    server.users['1']!.name = 'Ada L.';
    client.invalidate([{ context: 'user', params: { user_id: 1 } }]);
    await tick();
    expect(transport.count()).toBe(1);
    expect(inst.getSnapshot()).toMatchObject({ stale: true, status: 'success', data: { user_profile: { name: 'Ada' } } });
    watch(inst);
    await tick();
    expect(transport.count()).toBe(2);
    expect(inst.getSnapshot()).toMatchObject({ stale: false, data: { user_profile: { name: 'Ada L.' } } });
  });

  it('a failed refetch after an invalidation keeps the old data, stale; the next success clears both', async () => {
    const { client, transport, server } = setup();
    const inst = client.instance<UserBundle>('user', { user_id: 1 });
    watch(inst);
    await tick();
    const onContext = transport.onContext;
    transport.onContext = () => {
      throw new MizanError('internal', 'boom', 500);
    };
    client.invalidate(['user']);
    await tick();
    expect(inst.getSnapshot()).toMatchObject({
      status: 'error',
      stale: true,
      error: { code: 'internal' },
      data: { user_profile: { name: 'Ada' } },
    });
    transport.onContext = onContext;
    server.users['1']!.name = 'Ada L.';
    await inst.refetch();
    expect(inst.getSnapshot()).toMatchObject({ status: 'success', stale: false, error: undefined, data: { user_profile: { name: 'Ada L.' } } });
  });

  it('an idle instance is not fetched by an invalidation', async () => {
    const { client, transport } = setup();
    const inst = client.instance('user', { user_id: 1 });
    client.invalidate(['user']);
    await tick();
    expect(transport.count()).toBe(0);
    expect(inst.getSnapshot().stale).toBe(false);
  });
});

describe('errors', () => {
  it('a failed fetch leaves a MizanError in the snapshot and a new subscriber retries', async () => {
    const { client, transport } = setup();
    transport.onContext = () => {
      throw new MizanError('not_found', 'no such user', 404);
    };
    const inst = client.instance('user', { user_id: 9 });
    watch(inst);
    await tick();
    const s = inst.getSnapshot();
    expect(s.status).toBe('error');
    expect(s.error).toBeInstanceOf(MizanError);
    expect(s.error).toMatchObject({ code: 'not_found', status: 404, message: 'no such user' });
    watch(inst);
    await tick();
    expect(transport.count()).toBe(2);
  });

  it('keeps the data of the last success when a refetch fails', async () => {
    const { client, transport } = setup();
    const inst = client.instance<UserBundle>('user', { user_id: 1 });
    watch(inst);
    await tick();
    transport.onContext = () => {
      throw new MizanError('internal', 'boom', 500);
    };
    await inst.refetch();
    expect(inst.getSnapshot()).toMatchObject({ status: 'error', data: { user_profile: { name: 'Ada' } } });
  });

  it('call rejects with the MizanError and applies nothing', async () => {
    const { client, transport } = setup();
    transport.onCall = () => {
      throw new MizanError('invalid_args', 'bad', 400, { name: 'required' });
    };
    const err = await client.call('update_profile', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MizanError);
    expect(err).toMatchObject({ code: 'invalid_args', status: 400, fields: { name: 'required' } });
  });

  it('wraps anything else a transport throws as code unknown', async () => {
    const { client } = setup();
    const err = await client.call('nope', {}).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'MizanError', code: 'unknown', status: 0 });
  });
});

describe('abort', () => {
  it('aborts the fetch in flight when the last subscriber leaves', async () => {
    const { client, transport } = setup();
    transport.manual = true;
    const inst = client.instance('user', { user_id: 1 });
    const a = watch(inst);
    const b = watch(inst);
    const signal = transport.pending[0]!.signal!;
    a.unsubscribe();
    await tick();
    expect(signal.aborted).toBe(false);
    b.unsubscribe();
    await tick();
    expect(signal.aborted).toBe(true);
    expect(inst.getSnapshot().status).toBe('idle');
    // The next subscriber starts over.
    watch(inst);
    expect(transport.pending).toHaveLength(2);
    expect(inst.getSnapshot().status).toBe('loading');
  });

  it('resolves the refetch promise of a fetch aborted by the last unsubscribe', async () => {
    const { client, transport } = setup();
    transport.manual = true;
    const inst = client.instance('user', { user_id: 1 });
    const w = watch(inst);
    let done = false;
    void inst.refetch().then(() => (done = true));
    w.unsubscribe();
    await tick();
    expect(transport.pending[0]!.signal!.aborted).toBe(true);
    expect(done).toBe(true);
    expect(inst.getSnapshot()).toStrictEqual({ data: undefined, status: 'idle', error: undefined, stale: false });
  });

  it('an instance invalidated during its first fetch and then abandoned is idle, not stale', async () => {
    const { client, transport } = setup();
    transport.manual = true;
    const inst = client.instance('user', { user_id: 1 });
    const w = watch(inst);
    client.invalidate(['user']);
    expect(transport.pending).toHaveLength(2);
    expect(inst.getSnapshot()).toMatchObject({ status: 'loading', stale: true });
    w.unsubscribe();
    await tick();
    expect(transport.pending[1]!.signal!.aborted).toBe(true);
    expect(inst.getSnapshot()).toStrictEqual({ data: undefined, status: 'idle', error: undefined, stale: false });
  });

  it('an abort of a stale refetch keeps the data and the stale mark', async () => {
    const { client, transport } = setup();
    const inst = client.instance<UserBundle>('user', { user_id: 1 });
    const w = watch(inst);
    await tick();
    transport.manual = true;
    client.invalidate(['user']);
    w.unsubscribe();
    await tick();
    expect(transport.pending[0]!.signal!.aborted).toBe(true);
    expect(inst.getSnapshot()).toMatchObject({ status: 'success', stale: true, data: { user_profile: { name: 'Ada' } } });
  });

  it('client.fetchContext rejects with the signal reason when aborted, without retrying', async () => {
    const { transport } = setup();
    transport.manual = true;
    const ctl = new AbortController();
    const client = new MizanClient({ transport, retry: { attempts: 3, delay: 1 } });
    const p = client.fetchContext('user', { user_id: 1 }, ctl.signal).catch((e: unknown) => e);
    ctl.abort();
    const err = await p;
    expect(err).not.toBeInstanceOf(MizanError);
    expect(err).toMatchObject({ name: 'AbortError' });
    await tick();
    expect(transport.count()).toBe(1);
  });

  it('keeps the fetch when a subscriber comes back at once (StrictMode)', async () => {
    const { client, transport } = setup();
    transport.manual = true;
    const inst = client.instance('user', { user_id: 1 });
    watch(inst).unsubscribe();
    watch(inst);
    await tick();
    expect(transport.pending).toHaveLength(1);
    expect(transport.pending[0]!.signal!.aborted).toBe(false);
  });
});

describe('retry', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** failing returns a transport answering at once: each code in turn as an error, then data. */
  function failing(codes: string[]) {
    const transport = new FakeTransport();
    const times: number[] = [];
    transport.fetchContext = async (context, params) => {
      transport.fetches.push({ context, params, signal: undefined });
      times.push(Date.now());
      const code = codes.shift();
      if (code) throw new MizanError(code, code, code === 'network' ? 0 : 503);
      return { ok: true };
    };
    return { transport, times };
  }

  it('retries unavailable and network failures with exponential backoff', async () => {
    vi.useFakeTimers({ now: 0 });
    const { transport, times } = failing(['unavailable', 'network', 'unavailable']);
    const client = new MizanClient({ transport, retry: { attempts: 3, delay: 100 } });
    const p = client.fetchContext('user', {});
    await vi.advanceTimersByTimeAsync(1000);
    await expect(p).resolves.toStrictEqual({ ok: true });
    expect(times).toEqual([0, 100, 300, 700]);
  });

  it('defaults to 3 retries after 300, 600 and 1200 ms', async () => {
    vi.useFakeTimers({ now: 0 });
    const { transport, times } = failing(['network', 'network', 'network', 'network']);
    const client = new MizanClient({ transport });
    const p = client.fetchContext('user', {}).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(5000);
    expect(await p).toMatchObject({ code: 'network' });
    expect(times).toEqual([0, 300, 900, 2100]);
  });

  it('an instance retries in the background and stays loading until a retry succeeds', async () => {
    vi.useFakeTimers({ now: 0 });
    const { transport } = failing(['unavailable', 'network']);
    const client = new MizanClient({ transport, retry: { attempts: 3, delay: 100 } });
    const inst = client.instance('user', {});
    const seen: string[] = [];
    inst.subscribe(() => seen.push(inst.getSnapshot().status));
    await vi.advanceTimersByTimeAsync(150);
    expect(inst.getSnapshot()).toMatchObject({ status: 'loading', error: undefined });
    await vi.advanceTimersByTimeAsync(1000);
    expect(inst.getSnapshot()).toMatchObject({ status: 'success', data: { ok: true } });
    expect(seen).toEqual(['loading', 'success']);
    expect(transport.count()).toBe(3);
  });

  it('gives up after the bounded attempts with the last error', async () => {
    vi.useFakeTimers({ now: 0 });
    const { transport } = failing(['unavailable', 'unavailable', 'unavailable']);
    const client = new MizanClient({ transport, retry: { attempts: 2, delay: 10 } });
    const p = client.fetchContext('user', {}).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(1000);
    expect(await p).toMatchObject({ code: 'unavailable' });
    expect(transport.count()).toBe(3);
  });

  it.each(['not_found', 'internal', 'forbidden', 'invalid_args'])('does not retry %s', async (code) => {
    const { transport } = failing([code]);
    const client = new MizanClient({ transport, retry: { attempts: 3, delay: 1 } });
    await expect(client.fetchContext('user', {})).rejects.toMatchObject({ code });
    expect(transport.count()).toBe(1);
  });

  it('never retries a call', async () => {
    const transport = new FakeTransport();
    transport.onCall = () => {
      throw new MizanError('unavailable', 'down', 503);
    };
    const client = new MizanClient({ transport, retry: { attempts: 3, delay: 1 } });
    await expect(client.call('update_profile', {})).rejects.toMatchObject({ code: 'unavailable' });
    expect(transport.calls).toHaveLength(1);
  });

  it('stops waiting between retries when aborted', async () => {
    vi.useFakeTimers({ now: 0 });
    const { transport } = failing(['network', 'network']);
    const client = new MizanClient({ transport, retry: { attempts: 3, delay: 100 } });
    const inst = client.instance('user', {});
    const w = watch(inst);
    await vi.advanceTimersByTimeAsync(50);
    w.unsubscribe();
    await vi.advanceTimersByTimeAsync(1000);
    expect(transport.count()).toBe(1);
    expect(inst.getSnapshot().status).toBe('idle');
  });
});

describe('hydration', () => {
  it('starts instances from initialData keyed by instanceKey and does not fetch them', async () => {
    const server = fixtureServer();
    const transport = new FakeTransport(server.onContext, server.onCall);
    const key = instanceKey('user', { user_id: 1 });
    const client = new MizanClient({ transport, initialData: { [key]: { user_profile: { name: 'SSR' } } } });
    const inst = client.instance<UserBundle>('user', { user_id: '1' });
    expect(inst.getSnapshot()).toStrictEqual({
      data: { user_profile: { name: 'SSR' } },
      status: 'success',
      error: undefined,
      stale: false,
    });
    watch(inst);
    await tick();
    expect(transport.count()).toBe(0);
    expect(client.instance('user', { user_id: 2 }).getSnapshot().status).toBe('idle');
    // Invalidation then fetches as for any instance.
    client.invalidate(['user']);
    await tick();
    expect(transport.count()).toBe(1);
    expect(inst.getSnapshot().data?.user_profile.name).toBe('Ada');
  });
});

describe('hydration of unwatched instances', () => {
  it('an invalidation marks a hydrated instance stale; it is fetched when subscribed', async () => {
    const server = fixtureServer();
    const transport = new FakeTransport(server.onContext, server.onCall);
    const client = new MizanClient({
      transport,
      initialData: { [instanceKey('user', { user_id: 1 })]: { user_profile: { name: 'SSR' } } },
    });
    const inst = client.instance<UserBundle>('user', { user_id: 1 });
    await client.call('update_profile', { user_id: 1, name: 'Ada L.' });
    await tick();
    expect(transport.count()).toBe(0);
    expect(inst.getSnapshot()).toMatchObject({ status: 'success', stale: true, data: { user_profile: { name: 'SSR' } } });
    watch(inst);
    await tick();
    expect(transport.count()).toBe(1);
    expect(inst.getSnapshot()).toMatchObject({ stale: false, data: { user_profile: { name: 'Ada L.' } } });
  });
});

describe('default client', () => {
  it('getClient creates one on first use; configure replaces it', () => {
    const a = getClient();
    expect(getClient()).toBe(a);
    const b = configure({ transport: new FakeTransport() });
    expect(b).not.toBe(a);
    expect(getClient()).toBe(b);
  });
});
