// Unit tests of @mizan/base/offline with a fake transport and a fake online
// signal: calls made offline (or failing with a network error) are queued
// with an idempotency key, kept pending with their optimistic layers, and
// replayed in order with the same key; a refusal rolls that call back and
// the replay goes on; a network failure stops it; 409 in flight retries;
// reads wait while offline and the instances turn stale; the IndexedDB
// store (fake-indexeddb) keeps the queue across a "reload".
import 'fake-indexeddb/auto';
import { describe, expect, it, vi } from 'vitest';
import { MizanClient, MizanError, type CallResult, type Params, type Transport } from '../src/index.js';
import { enableOffline, indexedDBQueue, memoryQueue, type OnlineSignal, type QueuedCall } from '../src/offline.js';
import { registerMutationTargets } from '../src/optimistic.js';
import { tick } from './fake.js';

registerMutationTargets({ bump: [['counter']], fail: [] });

/** A fake online signal, switched by hand. */
function fakeSignal(on = true): OnlineSignal & { set(v: boolean): void } {
  const ls = new Set<() => void>();
  return {
    get: () => on,
    subscribe(f) {
      ls.add(f);
      return () => void ls.delete(f);
    },
    set(v) {
      on = v;
      for (const f of [...ls]) f();
    },
  };
}

type Answer = CallResult<unknown> | MizanError;

/** A transport whose calls answer from a script (default: the counter is bumped) and are recorded with their key. */
class Fake implements Transport {
  count = 0;
  calls: { fn: string; args: unknown; key: string | undefined }[] = [];
  fetches = 0;
  script: ((fn: string, args: unknown) => Answer | undefined)[] = [];
  down = false;
  async fetchContext(_c: string, _p: Params): Promise<unknown> {
    this.fetches++;
    await tick();
    if (this.down) throw new MizanError('network', 'down');
    return { count: { count: this.count } };
  }
  async call(fn: string, args: unknown, _s?: AbortSignal, headers?: Record<string, string>): Promise<CallResult<unknown>> {
    this.calls.push({ fn, args, key: headers?.['Idempotency-Key'] });
    await tick();
    if (this.down) throw new MizanError('network', 'down');
    const a = this.script.shift()?.(fn, args);
    if (a instanceof MizanError) throw a;
    if (a) return a;
    return { result: { count: ++this.count }, invalidate: ['counter'] };
  }
}

const bumpUp = { optimistic: { count: (d: { count: number }) => ({ count: d.count + 1 }) } };

async function setup(online = true, retryDelay = 60_000) {
  const t = new Fake();
  const client = new MizanClient({ transport: t, retry: { attempts: 0 } });
  const sig = fakeSignal(online);
  const onError = vi.fn();
  const ctl = enableOffline(client, { online: sig, onError, retryDelay });
  const inst = client.instance<{ count: { count: number } }>('counter');
  const unsub = inst.subscribe(() => {});
  await tick();
  await tick();
  return { t, client, sig, ctl, inst, onError, unsub };
}

describe('enableOffline', () => {
  it('sends every call with an idempotency key, and calls through when online', async () => {
    const { t, client } = await setup();
    const r = await client.call('bump');
    expect(r.result).toStrictEqual({ count: 1 });
    await client.call('bump');
    expect(t.calls.map((c) => c.key)).toHaveLength(2);
    expect(t.calls[0]!.key).toMatch(/^[0-9a-f-]{32,36}$/);
    expect(t.calls[0]!.key).not.toBe(t.calls[1]!.key);
  });

  it('queues calls made offline, keeps them pending and optimistic, and replays them in order on reconnect', async () => {
    const { t, client, sig, ctl, inst } = await setup();
    expect(inst.getSnapshot().data).toStrictEqual({ count: { count: 0 } });
    sig.set(false);
    await tick();
    expect(inst.getSnapshot().stale).toBe(true);
    expect(inst.getSnapshot().data).toStrictEqual({ count: { count: 0 } });
    const settled: number[] = [];
    const ps = [1, 2, 3].map((i) => client.call('bump', { i }, bumpUp).then((r) => (settled.push(i), r)));
    await tick();
    expect(t.calls).toHaveLength(0);
    expect(ctl.pending().map((c) => c.fn)).toStrictEqual(['bump', 'bump', 'bump']);
    expect(inst.getSnapshot().data).toStrictEqual({ count: { count: 3 } });
    expect(settled).toStrictEqual([]);
    const keys = ctl.pending().map((c) => c.key);
    sig.set(true);
    const rs = await Promise.all(ps);
    expect(rs.map((r) => r.result)).toStrictEqual([{ count: 1 }, { count: 2 }, { count: 3 }]);
    expect(settled).toStrictEqual([1, 2, 3]);
    expect(t.calls.map((c) => c.args)).toStrictEqual([{ i: 1 }, { i: 2 }, { i: 3 }]);
    expect(t.calls.map((c) => c.key)).toStrictEqual(keys);
    expect(ctl.pending()).toStrictEqual([]);
    await inst.refetch();
    expect(inst.getSnapshot()).toMatchObject({ data: { count: { count: 3 } }, stale: false, status: 'success' });
  });

  it('queues a call that fails with a network error and replays it with the same key', async () => {
    const { t, client, ctl } = await setup();
    t.down = true;
    const p = client.call('bump');
    await tick();
    await tick();
    expect(ctl.pending()).toHaveLength(1);
    const key = t.calls[0]!.key;
    t.down = false;
    await ctl.flush();
    await expect(p).resolves.toMatchObject({ result: { count: 1 } });
    expect(t.calls.map((c) => c.key)).toStrictEqual([key, key]);
  });

  it('rolls back a refused replay, rejects it, calls onError and goes on with the next', async () => {
    const { t, client, sig, ctl, inst, onError } = await setup(false);
    const refusal = new MizanError('invalid_args', 'no', 400);
    t.script = [() => undefined, () => refusal, () => undefined];
    const p1 = client.call('bump', {}, bumpUp);
    const p2 = client.call('bump', {}, bumpUp);
    const p3 = client.call('bump', {}, bumpUp);
    const e2 = p2.catch((e: unknown) => e);
    await tick();
    const queued = ctl.pending();
    sig.set(true);
    await ctl.flush();
    await expect(p1).resolves.toMatchObject({ result: { count: 1 } });
    expect(await e2).toBe(refusal);
    await expect(p3).resolves.toMatchObject({ result: { count: 2 } });
    expect(onError).toHaveBeenCalledExactlyOnceWith(queued[1], refusal);
    await inst.refetch();
    expect(inst.getSnapshot().data).toStrictEqual({ count: { count: 2 } });
  });

  it('stops the replay at a network failure, until the next reconnect', async () => {
    const { t, client, sig, ctl } = await setup(false);
    const ps = [client.call('bump'), client.call('bump')];
    await tick();
    t.down = true;
    sig.set(true);
    await ctl.flush();
    expect(t.calls).toHaveLength(1);
    expect(ctl.pending()).toHaveLength(2);
    t.down = false;
    sig.set(false);
    sig.set(true);
    await Promise.all(ps);
    expect(t.calls.map((c) => c.key)).toStrictEqual([t.calls[1]!.key, t.calls[1]!.key, t.calls[2]!.key]);
    expect(ctl.pending()).toStrictEqual([]);
  });

  it('retries after a network failure while the signal says online, with backoff', async () => {
    const { t, client, ctl } = await setup(true, 10);
    t.down = true;
    const p = client.call('bump');
    await vi.waitFor(() => expect(t.calls.length).toBeGreaterThanOrEqual(3), { timeout: 2000 });
    t.down = false;
    await expect(p).resolves.toMatchObject({ result: { count: 1 } });
    expect(new Set(t.calls.map((c) => c.key)).size).toBe(1);
    expect(ctl.pending()).toStrictEqual([]);
  });

  it('retries a replay answered 409 idempotency_in_flight after retryDelay', async () => {
    const { t, client, sig } = await setup(false, 10);
    t.script = [() => new MizanError('idempotency_in_flight', 'busy', 409)];
    const p = client.call('bump');
    await tick();
    sig.set(true);
    await expect(p).resolves.toMatchObject({ result: { count: 1 } });
    expect(t.calls).toHaveLength(2);
    expect(t.calls[0]!.key).toBe(t.calls[1]!.key);
  });

  it('queues a call made while others are queued behind them, even online', async () => {
    const { t, client, ctl } = await setup();
    t.down = true;
    const p1 = client.call('bump', { n: 1 });
    await tick();
    await tick();
    t.down = false;
    const p2 = client.call('bump', { n: 2 });
    await Promise.all([p1, p2]);
    expect(t.calls.map((c) => c.args)).toStrictEqual([{ n: 1 }, { n: 1 }, { n: 2 }]);
    expect(ctl.pending()).toStrictEqual([]);
  });

  it('holds reads while offline: the data stays, stale, and is refetched on reconnect', async () => {
    const { t, sig, inst, client } = await setup();
    t.count = 5;
    sig.set(false);
    await tick();
    await tick();
    expect(inst.getSnapshot()).toMatchObject({ data: { count: { count: 0 } }, stale: true, status: 'success' });
    const n = t.fetches;
    const other = client.instance('other');
    other.subscribe(() => {});
    await tick();
    expect(other.getSnapshot().status).toBe('loading');
    expect(t.fetches).toBe(n);
    sig.set(true);
    await inst.refetch();
    await other.refetch();
    expect(inst.getSnapshot()).toMatchObject({ data: { count: { count: 5 } }, stale: false, status: 'success' });
    expect(other.getSnapshot().status).toBe('success');
  });

  it('notifies subscribers of queue and connection changes; dispose restores the transport', async () => {
    const { t, client, sig, ctl } = await setup();
    const f = vi.fn();
    const off = ctl.subscribe(f);
    sig.set(false);
    expect(ctl.online()).toBe(false);
    void client.call('bump');
    await tick();
    expect(f.mock.calls.length).toBeGreaterThanOrEqual(2);
    off();
    ctl.dispose();
    expect(client.transport).toBe(t);
  });

  it('replays calls a previous page left in the store first, applying their targets', async () => {
    const store = memoryQueue();
    const left: QueuedCall = { key: 'k-1', fn: 'bump', args: {}, t: 1 };
    await store.put(left);
    const t = new Fake();
    const client = new MizanClient({ transport: t, retry: { attempts: 0 } });
    const inst = client.instance<{ count: { count: number } }>('counter');
    inst.subscribe(() => {});
    await tick();
    await tick();
    const ctl = enableOffline(client, { store, online: fakeSignal(true) });
    await ctl.flush();
    expect(t.calls).toStrictEqual([{ fn: 'bump', args: {}, key: 'k-1' }]);
    expect(await store.load()).toStrictEqual([]);
    await inst.refetch();
    expect(inst.getSnapshot().data).toStrictEqual({ count: { count: 1 } });
  });
});

describe('indexedDBQueue', () => {
  it('persists the queue; a new controller over the same database replays it in order', async () => {
    const name = 'mizan-test-' + Math.random();
    const t1 = new Fake();
    const c1 = new MizanClient({ transport: t1 });
    const ctl1 = enableOffline(c1, { store: indexedDBQueue(name), online: fakeSignal(false) });
    for (const n of [1, 2, 3]) void c1.call('bump', { n });
    await vi.waitFor(async () => expect(await indexedDBQueue(name).load()).toHaveLength(3));
    const keys = ctl1.pending().map((c) => c.key);
    ctl1.dispose();

    // The "reload": a new client and controller over the same database.
    const t2 = new Fake();
    const c2 = new MizanClient({ transport: t2 });
    const sig = fakeSignal(false);
    const ctl2 = enableOffline(c2, { store: indexedDBQueue(name), online: sig });
    await vi.waitFor(() => expect(ctl2.pending().map((c) => c.key)).toStrictEqual(keys));
    expect(ctl2.pending().map((c) => c.args)).toStrictEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    sig.set(true);
    await ctl2.flush();
    expect(t2.calls.map((c) => [c.key, c.args])).toStrictEqual(keys.map((k, i) => [k, { n: i + 1 }]));
    expect(t1.calls).toStrictEqual([]);
    await vi.waitFor(async () => expect(await indexedDBQueue(name).load()).toStrictEqual([]));
  });
});
