// wsTransport against a fake WebSocket: subscriptions follow what the
// client watches, pushed invalidations reach the instances, calls go over
// the socket or over HTTP, and reconnection backs off with jitter, then
// resubscribes and refetches.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MizanClient, MizanError, type ContextInstance } from '../src/index.js';
import { registerSocketCalls, wsTransport, type SocketLike, type WsTransportOptions } from '../src/ws.js';
import { FakeTransport, fixtureServer, tick } from './fake.js';

/** FakeSocket records what the transport sends and lets a test play the server. */
class FakeSocket implements SocketLike {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  closedWith: [number | undefined, string | undefined] | undefined;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;

  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  send(data: string): void {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open');
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }
  close(code?: number, reason?: string): void {
    this.closedWith = [code, reason];
    this.readyState = 3;
  }
  /** open opens the socket, as the server accepting it. */
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  /** receive delivers a message from the server. */
  receive(m: unknown): void {
    this.onmessage?.({ data: JSON.stringify(m) });
  }
  /** drop closes the socket from the server's side. */
  drop(code = 1006): void {
    this.readyState = 3;
    this.onclose?.({ code, reason: '' });
  }
  /** ackAll answers ok to every request not yet answered. */
  ackAll(): void {
    for (const m of this.sent.splice(0)) this.receive({ id: m.id, type: 'ok' });
  }
  /** take returns the messages sent so far (without ids) and forgets them. */
  take(): Record<string, unknown>[] {
    return this.sent.splice(0).map(({ id: _, ...rest }) => rest);
  }
  static last(): FakeSocket {
    const s = FakeSocket.all.at(-1);
    if (!s) throw new Error('no socket was opened');
    return s;
  }
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

function setup(o: WsTransportOptions = {}) {
  const server = fixtureServer();
  const http = new FakeTransport(server.onContext, server.onCall);
  const transport = wsTransport({ WebSocket: FakeSocket, http, baseUrl: 'https://app.example', ...o });
  const client = new MizanClient({ transport, retry: { attempts: 0 } });
  return { server, http, transport, client };
}

/** watch subscribes to inst and returns the unsubscribe function. */
const watch = (inst: ContextInstance<unknown>): (() => void) => inst.subscribe(() => {});

beforeEach(() => {
  FakeSocket.all = [];
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('wsTransport', () => {
  it('connects to ws/ naming itself, subscribes to watched instances and is open once they are confirmed', async () => {
    const { client, transport } = setup();
    const states: string[] = [];
    transport.onState((s) => states.push(s));
    watch(client.instance('user', { user_id: 1 }));
    const ws = FakeSocket.last();
    expect(ws.url).toMatch(/^wss:\/\/app\.example\/api\/mizan\/ws\/\?client=c-[0-9a-f]{24}$/);
    expect(transport.state).toBe('connecting');
    ws.open();
    await flush();
    expect(ws.sent).toStrictEqual([{ id: 1, type: 'subscribe', context: 'user', params: { user_id: '1' } }]);
    ws.ackAll();
    await flush();
    expect(transport.state).toBe('open');
    expect(states).toEqual(['open']);
    // Watched later: subscribed at once, once.
    const inst = client.instance('orders', { user_id: 1, page: 1 });
    watch(inst);
    watch(inst);
    expect(ws.take()).toStrictEqual([{ type: 'subscribe', context: 'orders', params: { page: '1', user_id: '1' } }]);
  });

  it('applies pushed invalidations through the client: a hit watched instance refetches, others do not', async () => {
    const { client, http } = setup();
    const one = client.instance<{ user_profile: { name: string } }>('user', { user_id: 1 });
    const two = client.instance('user', { user_id: 2 });
    watch(one);
    watch(two);
    const ws = FakeSocket.last();
    ws.open();
    await flush();
    ws.ackAll();
    await tick();
    expect(http.count()).toBe(2);
    ws.receive({ type: 'invalidate', targets: [{ context: 'user', params: { user_id: 1 } }] });
    expect(one.getSnapshot().stale).toBe(true);
    expect(two.getSnapshot().stale).toBe(false);
    await tick();
    expect(http.fetches.map((f) => f.params)).toStrictEqual([{ user_id: '1' }, { user_id: '2' }, { user_id: '1' }]);
    expect(one.getSnapshot().stale).toBe(false);
    // Messages of no known kind are ignored.
    ws.onmessage?.({ data: 'not json' });
    ws.receive({ type: 'invalidate', targets: 'user' });
    await tick();
    expect(http.count()).toBe(3);
  });

  it('unsubscribes when the last subscriber leaves, and then treats the instance as stale', async () => {
    const { client, http } = setup();
    const inst = client.instance('user', { user_id: 1 });
    const ws = FakeSocket.last();
    ws.open();
    await flush();
    const a = watch(inst);
    const b = watch(inst);
    await tick();
    a();
    await flush();
    expect(ws.take()).toStrictEqual([{ type: 'subscribe', context: 'user', params: { user_id: '1' } }]);
    b();
    // An unsubscribe followed at once by a subscribe (React StrictMode) changes nothing.
    const c = watch(inst);
    await flush();
    expect(ws.take()).toStrictEqual([]);
    c();
    await flush();
    expect(ws.take()).toStrictEqual([{ type: 'unsubscribe', context: 'user', params: { user_id: '1' } }]);
    // Pushes no longer reach it, so it is stale: the next subscriber refetches.
    expect(inst.getSnapshot().stale).toBe(true);
    expect(http.count()).toBe(1);
    watch(inst);
    await tick();
    expect(http.count()).toBe(2);
  });

  it('reconnects with exponential backoff and full jitter, then resubscribes and refetches what is watched', async () => {
    vi.useFakeTimers();
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const { client, http, transport } = setup({ reconnect: { min: 100, max: 1000 } });
    const user = client.instance('user', { user_id: 1 });
    watch(user);
    watch(client.instance('orders', { user_id: 1, page: 1 }));
    client.instance('global'); // never watched: not subscribed
    let ws = FakeSocket.last();
    ws.open();
    await flush();
    ws.ackAll();
    await vi.runAllTimersAsync();
    expect(http.count()).toBe(2);

    // The server goes away: waits of 0.5 × 100, 0.5 × 200, 0.5 × 400 ms...
    ws.drop();
    expect(transport.state).toBe('connecting');
    for (const wait of [50, 100, 200, 400, 500, 500]) {
      const n = FakeSocket.all.length;
      await vi.advanceTimersByTimeAsync(wait - 1);
      expect(FakeSocket.all.length).toBe(n);
      await vi.advanceTimersByTimeAsync(1);
      expect(FakeSocket.all.length).toBe(n + 1);
      FakeSocket.last().drop();
    }
    // Back: it subscribes again, and once confirmed has both instances refetched.
    await vi.advanceTimersByTimeAsync(500);
    ws = FakeSocket.last();
    ws.open();
    await flush();
    expect(ws.sent.map(({ id: _, ...m }) => m)).toStrictEqual([
      { type: 'subscribe', context: 'user', params: { user_id: '1' } },
      { type: 'subscribe', context: 'orders', params: { page: '1', user_id: '1' } },
    ]);
    expect(http.count()).toBe(2);
    ws.ackAll();
    await vi.runAllTimersAsync();
    expect(transport.state).toBe('open');
    expect(http.fetches.map((f) => f.context)).toStrictEqual(['user', 'orders', 'user', 'orders']);
    // The backoff starts again from min.
    ws.drop();
    const n = FakeSocket.all.length;
    await vi.advanceTimersByTimeAsync(50);
    expect(FakeSocket.all.length).toBe(n + 1);
  });

  it('calls functions of socketCalls over the open socket, everything else over HTTP', async () => {
    const { client, http } = setup({ socketCalls: ['update_profile'] });
    const inst = client.instance('user', { user_id: 1 });
    // Socket not open yet: HTTP.
    await client.call('update_profile', { user_id: 1, name: 'A' });
    expect(http.calls.map((c) => c.fn)).toEqual(['update_profile']);
    const ws = FakeSocket.last();
    ws.open();
    await flush();
    ws.ackAll();
    await flush();
    watch(inst);
    await tick();
    ws.take();

    const p = client.call<{ ok: boolean }>('update_profile', { user_id: 1, name: 'B' });
    await flush();
    const [m] = ws.sent.splice(0);
    expect(m).toStrictEqual({ id: m?.id, type: 'call', fn: 'update_profile', args: { user_id: 1, name: 'B' } });
    ws.receive({ id: m?.id, type: 'result', result: { ok: true }, invalidate: [{ context: 'user', params: { user_id: 1 } }] });
    expect(await p).toStrictEqual({ result: { ok: true }, invalidate: [{ context: 'user', params: { user_id: 1 } }] });
    // Its targets were applied like an HTTP call's.
    expect(inst.getSnapshot().stale).toBe(true);

    const q = client.call('update_profile', { user_id: 1 });
    await flush();
    const [m2] = ws.sent.splice(0);
    ws.receive({ id: m2?.id, type: 'error', error: { code: 'invalid_args', message: 'invalid arguments: name', fields: { name: 'required' } } });
    const err = await q.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MizanError);
    expect(err).toMatchObject({ code: 'invalid_args', message: 'invalid arguments: name', fields: { name: 'required' } });

    // Other functions over HTTP.
    await client.call('reset_all', {});
    expect(http.calls.map((c) => c.fn)).toEqual(['update_profile', 'reset_all']);

    // A call in flight when the socket drops fails as a network error.
    const r = client.call('update_profile', { user_id: 1, name: 'C' });
    await flush();
    ws.drop();
    expect(await r.catch((e: unknown) => e)).toMatchObject({ code: 'network', status: 0 });
  });

  it('sends an Idempotency-Key (of @mizan/base/offline) as the call message\'s idempotency_key, and to HTTP as a header', async () => {
    const { transport, http } = setup({ socketCalls: ['update_profile'] });
    const spy = vi.spyOn(http, 'call');
    const h = { 'Idempotency-Key': 'k-1' };
    await transport.call('update_profile', { user_id: 1 }, undefined, h);
    expect(spy).toHaveBeenCalledExactlyOnceWith('update_profile', { user_id: 1 }, undefined, h);
    const ws = FakeSocket.last();
    ws.open();
    await flush();
    ws.ackAll();
    await flush();
    const p = transport.call('update_profile', { user_id: 1 }, undefined, h);
    await flush();
    const [m] = ws.sent.splice(0);
    expect(m).toStrictEqual({ id: m?.id, type: 'call', fn: 'update_profile', args: { user_id: 1 }, idempotency_key: 'k-1' });
    ws.receive({ id: m?.id, type: 'result', result: 1, invalidate: [] });
    await p;
  });

  it('calls the functions of registerSocketCalls over the socket; socketCalls, when given, replaces them', async () => {
    // What a generated client.ts does when it loads (names of its own, so
    // that the registry, global to the module, changes no other test).
    registerSocketCalls(['reg_add_task', 'reg_set_state']);
    const { client, http, transport } = setup();
    http.onCall = () => ({ result: { id: 1 }, invalidate: [] });
    // Socket not open yet: HTTP.
    await client.call('reg_add_task', { title: 'a' });
    expect(http.calls.map((c) => c.fn)).toEqual(['reg_add_task']);
    const ws = FakeSocket.last();
    ws.open();
    await flush();
    expect(transport.state).toBe('open');

    const p = client.call('reg_add_task', { title: 'b' });
    await flush();
    const [m] = ws.sent.splice(0);
    expect(m).toStrictEqual({ id: m?.id, type: 'call', fn: 'reg_add_task', args: { title: 'b' } });
    ws.receive({ id: m?.id, type: 'result', result: { id: 7 }, invalidate: ['tasks'] });
    expect(await p).toStrictEqual({ result: { id: 7 }, invalidate: ['tasks'] });
    // A function not registered goes over HTTP.
    await client.call('reset_all', {});
    expect(http.calls.map((c) => c.fn)).toEqual(['reg_add_task', 'reset_all']);
    expect(ws.sent).toStrictEqual([]);

    // An explicit socketCalls replaces the registry: [] calls nothing over the socket.
    const other = setup({ socketCalls: [] });
    other.http.onCall = () => ({ result: { id: 1 }, invalidate: [] });
    const ws2 = FakeSocket.last();
    ws2.open();
    await flush();
    expect(other.transport.state).toBe('open');
    await other.client.call('reg_add_task', { title: 'c' });
    expect(other.http.calls.map((c) => c.fn)).toEqual(['reg_add_task']);
    expect(ws2.sent).toStrictEqual([]);
    transport.close();
    other.transport.close();
  });

  it('a socket call removes its abort listener once the reply settles, and rejects with the reason on abort', async () => {
    // A signal that counts its abort listeners, to see that none is left behind.
    class CountingSignal extends EventTarget {
      aborted = false;
      reason: unknown;
      listeners = 0;
      override addEventListener(type: string, l: EventListenerOrEventListenerObject | null, o?: AddEventListenerOptions | boolean): void {
        if (type === 'abort') this.listeners++;
        super.addEventListener(type, l, o);
      }
      override removeEventListener(type: string, l: EventListenerOrEventListenerObject | null, o?: EventListenerOptions | boolean): void {
        if (type === 'abort') this.listeners--;
        super.removeEventListener(type, l, o);
      }
      abort(reason: unknown): void {
        this.aborted = true;
        this.reason = reason;
        this.dispatchEvent(new Event('abort'));
      }
    }
    const { transport } = setup({ socketCalls: ['update_profile'] });
    const ws = FakeSocket.last();
    ws.open();
    await flush();
    expect(transport.state).toBe('open');

    // A result, then an error reply: each removes its listener.
    for (const reply of [{ type: 'result', result: 1 }, { type: 'error', error: { code: 'not_found', message: 'no' } }]) {
      const signal = new CountingSignal();
      const p = transport.call('update_profile', {}, signal as unknown as AbortSignal).catch((e: unknown) => e);
      const [m] = ws.sent.splice(0);
      expect(signal.listeners).toBe(1);
      ws.receive({ id: m?.id, ...reply });
      await p;
      expect(signal.listeners).toBe(0);
    }

    // An abort rejects with the reason, its listener gone too.
    const signal = new CountingSignal();
    const p = transport.call('update_profile', {}, signal as unknown as AbortSignal).catch((e: unknown) => e);
    ws.sent.splice(0);
    signal.abort('stop');
    expect(await p).toBe('stop');
    expect(signal.listeners).toBe(0);
  });

  it('sends the token first, reports a refused one or subscription to onError', async () => {
    const errors: MizanError[] = [];
    const { client } = setup({ token: async () => 'tok-1', onError: (e) => errors.push(e) });
    watch(client.instance('secret'));
    const ws = FakeSocket.last();
    ws.open();
    await flush();
    expect(ws.sent).toStrictEqual([{ id: 1, type: 'auth', token: 'tok-1' }]);
    ws.receive({ id: 1, type: 'error', error: { code: 'unauthorized', message: 'invalid token' } });
    await flush();
    expect(ws.sent.slice(1)).toStrictEqual([{ id: 2, type: 'subscribe', context: 'secret', params: {} }]);
    ws.receive({ id: 2, type: 'error', error: { code: 'unauthorized', message: 'authentication required' } });
    await flush();
    expect(errors.map((e) => e.code + ': ' + e.message)).toEqual(['unauthorized: invalid token', 'unauthorized: authentication required']);
  });

  it('goes on without a token when getting one fails', async () => {
    const errors: MizanError[] = [];
    const { client, transport } = setup({
      token: () => Promise.reject(new Error('signed out')),
      onError: (e) => errors.push(e),
    });
    watch(client.instance('user', { user_id: 1 }));
    const ws = FakeSocket.last();
    ws.open();
    await flush();
    expect(ws.sent).toStrictEqual([{ id: 1, type: 'subscribe', context: 'user', params: { user_id: '1' } }]);
    ws.ackAll();
    await flush();
    expect(transport.state).toBe('open');
    expect(errors.map((e) => e.message)).toEqual(['no token: signed out']);
  });

  it('names itself in X-Mizan-Client on its HTTP requests, beside the headers option', async () => {
    const seen: Record<string, string>[] = [];
    const fetch = (async (_: RequestInfo | URL, init?: RequestInit) => {
      seen.push(init?.headers as Record<string, string>);
      return new Response('{"csrf_token":"t","result":1,"invalidate":[]}', { status: 200 });
    }) as typeof globalThis.fetch;
    const transport = wsTransport({ WebSocket: FakeSocket, fetch, baseUrl: 'http://h', headers: () => ({ A: 'b' }) });
    await transport.call('f', {});
    const id = new URL(FakeSocket.all.length ? FakeSocket.last().url : 'ws://h/?client=none').searchParams.get('client');
    expect(seen.at(-1)).toMatchObject({ A: 'b', 'X-Mizan-Client': expect.stringMatching(/^c-[0-9a-f]{24}$/) });
    // No socket until a client adopts the transport.
    expect(id).toBe('none');
    new MizanClient({ transport });
    expect(new URL(FakeSocket.last().url).searchParams.get('client')).toBe(seen.at(-1)?.['X-Mizan-Client']);
    expect(FakeSocket.last().url.startsWith('ws://h/api/mizan/ws/')).toBe(true);
  });

  it('close closes the socket for good', async () => {
    vi.useFakeTimers();
    const { transport } = setup();
    const ws = FakeSocket.last();
    ws.open();
    await flush();
    transport.close();
    expect(ws.closedWith).toStrictEqual([1000, 'closed by the client']);
    expect(transport.state).toBe('closed');
    ws.drop();
    await vi.runAllTimersAsync();
    expect(FakeSocket.all.length).toBe(1);
  });
});
