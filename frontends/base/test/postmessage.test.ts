// The postMessage transport (src/postmessage.ts) and its host
// (src/postmessage-host.ts), over fake windows that deliver as browsers do
// (asynchronously, structured-cloned, dropped when targetOrigin is not the
// receiver's origin, with event.origin and event.source of the sender) and
// over a real MessageChannel.
import { afterEach, describe, expect, it } from 'vitest';
import { MizanClient, MizanError, type CallResult, type Params, type TargetInput, type Transport } from '../src/index.js';
import { postMessageTransport, type MessageEventLike, type PostMessageTarget } from '../src/postmessage.js';
import { servePostMessage, type PostMessageHost } from '../src/postmessage-host.js';
import { FakeTransport } from './fake.js';

type Listener = (ev: MessageEventLike) => void;

/** FakeWindow is a window's global: its origin and its message listeners. */
class FakeWindow {
  listeners = new Set<Listener>();
  constructor(public origin: string) {}
  addEventListener(_type: 'message', l: Listener): void {
    this.listeners.add(l);
  }
  removeEventListener(_type: 'message', l: Listener): void {
    this.listeners.delete(l);
  }
}

const views = new Map<FakeWindow, Map<FakeWindow, PostMessageTarget>>();
/** sent counts the messages delivered to each window. */
const sent = new Map<FakeWindow, unknown[]>();

/**
 * view returns window w as the code of window by sees it (window.parent,
 * iframe.contentWindow): the same object each time, as a WindowProxy is,
 * whose postMessage delivers to w with by as the source.
 */
function view(w: FakeWindow, by: FakeWindow): PostMessageTarget {
  let m = views.get(w);
  if (!m) views.set(w, (m = new Map()));
  let v = m.get(by);
  if (!v) {
    v = {
      postMessage(data: unknown, targetOrigin?: string) {
        if (targetOrigin === undefined) throw new TypeError('a window needs a targetOrigin');
        if (targetOrigin !== '*' && targetOrigin !== w.origin) return; // dropped, as browsers do
        const clone = structuredClone(data);
        const origin = by.origin; // the sender's origin when it posted
        setTimeout(() => {
          if (!sent.has(w)) sent.set(w, []);
          sent.get(w)!.push(clone);
          for (const l of [...w.listeners]) l({ data: clone, origin, source: view(by, w) });
        }, 0);
      },
    };
    m.set(by, v);
  }
  return v;
}

const tick = (ms = 5): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, what: string, ms = 1000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await tick(2);
  }
}

const HOST = 'https://host.example';
const FRAME = 'https://frame.example';
const EVIL = 'https://evil.example';

interface Pair {
  hostWin: FakeWindow;
  frameWin: FakeWindow;
  host: PostMessageHost;
  transport: ReturnType<typeof postMessageTransport>;
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
  views.clear();
  sent.clear();
});

/** pair serves a frame window from a host window over real, the host's transport. */
function pair(real: Transport, opts: { timeoutMs?: number; live?: boolean; allow?: (r: { kind: string; name: string }) => boolean } = {}): Pair {
  const hostWin = new FakeWindow(HOST);
  const frameWin = new FakeWindow(FRAME);
  const host = servePostMessage({
    transport: real,
    source: view(frameWin, hostWin),
    allowedOrigins: [FRAME],
    listen: hostWin,
    allow: opts.allow,
  });
  const transport = postMessageTransport({
    target: view(hostWin, frameWin),
    targetOrigin: HOST,
    listen: frameWin,
    timeoutMs: opts.timeoutMs ?? 1000,
    live: opts.live,
  });
  cleanups.push(host, () => transport.close());
  return { hostWin, frameWin, host, transport };
}

describe('postMessageTransport and servePostMessage', () => {
  it('relays a context fetch and returns the bundle', async () => {
    const real = new FakeTransport((ctx, params) => ({ user_profile: { id: Number(params.user_id), ctx } }));
    const { transport } = pair(real);
    const params: Params = { user_id: 5, q: undefined };
    await expect(transport.fetchContext('user', params)).resolves.toEqual({ user_profile: { id: 5, ctx: 'user' } });
    expect(real.fetches).toHaveLength(1);
    expect(real.fetches[0]!.context).toBe('user');
    expect(real.fetches[0]!.params).toEqual({ user_id: 5 });
  });

  it('relays a call: the result and the targets come back, and the client applies them', async () => {
    let name = 'Ada';
    const real = new FakeTransport(
      () => ({ user_profile: { name } }),
      (fn, args) => {
        name = (args as { name: string }).name;
        return { result: { ok: true, fn }, invalidate: [{ context: 'user', params: { user_id: 1 } }] };
      },
    );
    const { transport } = pair(real);
    const client = new MizanClient({ transport });
    const inst = client.instance<{ user_profile: { name: string } }>('user', { user_id: 1 });
    const other = client.instance('user', { user_id: 2 });
    const un1 = inst.subscribe(() => {});
    const un2 = other.subscribe(() => {});
    await until(() => inst.getSnapshot().status === 'success' && other.getSnapshot().status === 'success', 'first fetch');
    const r: CallResult<unknown> = await client.call('update_profile', { user_id: 1, name: 'Ryth' });
    expect(r).toEqual({ result: { ok: true, fn: 'update_profile' }, invalidate: [{ context: 'user', params: { user_id: 1 } }] });
    expect(real.calls).toEqual([{ fn: 'update_profile', args: { user_id: 1, name: 'Ryth' } }]);
    await until(() => inst.getSnapshot().data?.user_profile.name === 'Ryth', 'the refetch');
    expect(real.count('user')).toBe(3); // user 1 twice, user 2 once: its params do not agree
    un1();
    un2();
  });

  it('a call without args sends {}', async () => {
    const real = new FakeTransport();
    const { transport } = pair(real);
    await expect(transport.call('reset_all', undefined)).resolves.toEqual({ result: null, invalidate: [] });
    expect(real.calls).toEqual([{ fn: 'reset_all', args: {} }]);
  });

  it("keeps the server's error: code, message, status and fields", async () => {
    const real = new FakeTransport(
      () => {
        throw new MizanError('not_found', 'no user 9', 404);
      },
      () => {
        throw new MizanError('invalid_args', 'invalid arguments', 400, { name: 'required' });
      },
    );
    const { transport } = pair(real);
    const e1 = await transport.call('update_profile', { user_id: 1 }).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(MizanError);
    expect(e1).toMatchObject({ code: 'invalid_args', message: 'invalid arguments', status: 400, fields: { name: 'required' } });
    const e2 = await transport.fetchContext('user', { user_id: 9 }).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(MizanError);
    expect(e2).toMatchObject({ code: 'not_found', message: 'no user 9', status: 404 });
    expect(Object.prototype.hasOwnProperty.call(e2, 'fields')).toBe(false);
  });

  it('a non-MizanError of the host transport arrives as code unknown', async () => {
    const real = new FakeTransport(() => {
      throw new Error('boom');
    });
    const { transport } = pair(real);
    await expect(transport.fetchContext('user', {})).rejects.toMatchObject({ code: 'unknown', message: 'boom', status: 0 });
  });

  it('times out with code network when no host answers, and tells the host to abort', async () => {
    const hostWin = new FakeWindow(HOST);
    const frameWin = new FakeWindow(FRAME);
    const transport = postMessageTransport({ target: view(hostWin, frameWin), targetOrigin: HOST, listen: frameWin, timeoutMs: 20 });
    cleanups.push(() => transport.close());
    const err = await transport.fetchContext('user', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MizanError);
    expect(err).toMatchObject({ code: 'network', status: 0 });
    await until(() => (sent.get(hostWin) ?? []).length === 2, 'the abort message');
    expect(sent.get(hostWin)![1]).toMatchObject({ mizan: 1, kind: 'abort' });
    // The kernel retries it, as any network failure of a read.
    const client = new MizanClient({ transport, retry: { attempts: 1, delay: 1 } });
    await expect(client.fetchContext('user')).rejects.toMatchObject({ code: 'network' });
    await until(() => (sent.get(hostWin) ?? []).filter((m) => (m as { kind: string }).kind === 'ctx').length === 3, 'the retry');
  });

  it('a slow host times out; its late reply is ignored', async () => {
    const real = new FakeTransport();
    real.manual = true;
    const { transport } = pair(real, { timeoutMs: 20 });
    await expect(transport.fetchContext('user', {})).rejects.toMatchObject({ code: 'network' });
    // The frame told the host to abort: the host transport saw it.
    await until(() => real.fetches[0]!.signal!.aborted, 'the abort at the host');
  });

  it('an aborted fetch rejects with the reason and aborts the host fetch', async () => {
    const real = new FakeTransport();
    real.manual = true;
    const { transport } = pair(real);
    const ac = new AbortController();
    const p = transport.fetchContext('user', {}, ac.signal);
    await until(() => real.fetches.length === 1, 'the relayed fetch');
    const reason = new Error('gone');
    ac.abort(reason);
    await expect(p).rejects.toBe(reason);
    await until(() => real.fetches[0]!.signal!.aborted, 'the abort at the host');
    // Already aborted: nothing is sent.
    await expect(transport.fetchContext('user', {}, ac.signal)).rejects.toBe(reason);
  });

  it('the host ignores a request from another window or origin', async () => {
    const real = new FakeTransport(() => ({ ok: 1 }));
    const { hostWin, frameWin } = pair(real);
    const evilWin = new FakeWindow(EVIL);
    const got: unknown[] = [];
    evilWin.addEventListener('message', (ev) => got.push(ev.data));
    // Another frame, from another origin.
    view(hostWin, evilWin).postMessage({ mizan: 1, id: 'x', kind: 'call', fn: 'update_profile', args: {} }, HOST);
    // Another frame, from the allowed origin: event.source is not the frame.
    const twin = new FakeWindow(FRAME);
    twin.addEventListener('message', (ev) => got.push(ev.data));
    view(hostWin, twin).postMessage({ mizan: 1, id: 'y', kind: 'ctx', context: 'user', params: {} }, HOST);
    // The frame itself, after navigating to another origin.
    frameWin.origin = EVIL;
    view(hostWin, frameWin).postMessage({ mizan: 1, id: 'z', kind: 'ctx', context: 'user', params: {} }, HOST);
    frameWin.origin = FRAME;
    // The right frame, but no protocol tag, or another version.
    view(hostWin, frameWin).postMessage({ id: 'w', kind: 'ctx', context: 'user', params: {} }, HOST);
    view(hostWin, frameWin).postMessage({ mizan: 2, id: 'v', kind: 'ctx', context: 'user', params: {} }, HOST);
    view(hostWin, frameWin).postMessage('mizan', HOST);
    await tick(30);
    expect(real.calls).toEqual([]);
    expect(real.fetches).toEqual([]);
    expect(got).toEqual([]);
    expect(sent.get(frameWin)).toBeUndefined();
  });

  it('the frame ignores replies and pushes from another window or origin', async () => {
    const real = new FakeTransport();
    real.manual = true;
    const { frameWin, transport } = pair(real);
    const client = new MizanClient({ transport });
    const inst = client.instance('user', { user_id: 1 });
    const un = inst.subscribe(() => {});
    await until(() => real.fetches.length === 1, 'the first fetch');
    const id = (sent.get(frameWin) ?? []).length; // nothing sent to the frame yet
    expect(id).toBe(0);
    // A forged reply, with a guessed id, and a forged push from another frame.
    const evilWin = new FakeWindow(EVIL);
    for (const n of [0, 1, 2]) {
      view(frameWin, evilWin).postMessage({ mizan: 1, id: String(n), kind: 'result', result: { forged: true } }, FRAME);
    }
    view(frameWin, evilWin).postMessage({ mizan: 1, kind: 'invalidate', targets: ['user'] }, FRAME);
    // The same from the host's origin, but another window.
    const twin = new FakeWindow(HOST);
    view(frameWin, twin).postMessage({ mizan: 1, kind: 'invalidate', targets: ['user'] }, FRAME);
    await tick(30);
    expect(real.fetches).toHaveLength(1); // no push got through: no refetch
    real.pending[0]!.resolve({ real: true });
    await until(() => inst.getSnapshot().status === 'success', 'the real reply');
    expect(inst.getSnapshot().data).toEqual({ real: true });
    un();
  });

  it('requests go to targetOrigin only: a host on another origin never sees them', async () => {
    const real = new FakeTransport();
    const hostWin = new FakeWindow('https://other.example');
    const frameWin = new FakeWindow(FRAME);
    const host = servePostMessage({ transport: real, source: view(frameWin, hostWin), allowedOrigins: [FRAME], listen: hostWin });
    const transport = postMessageTransport({ target: view(hostWin, frameWin), targetOrigin: HOST, listen: frameWin, timeoutMs: 20 });
    cleanups.push(host, () => transport.close());
    await expect(transport.fetchContext('user', {})).rejects.toMatchObject({ code: 'network' });
    expect(real.fetches).toEqual([]);
  });

  it('host.invalidate pushes targets to the frame, which refetches the matching instances', async () => {
    const real = new FakeTransport(() => ({ n: 1 }));
    const { host, transport } = pair(real);
    const client = new MizanClient({ transport });
    const a = client.instance('user', { user_id: 1 });
    const b = client.instance('user', { user_id: 2 });
    const c = client.instance('orders', { user_id: 1 });
    const uns = [a, b, c].map((i) => i.subscribe(() => {}));
    await until(() => [a, b, c].every((i) => i.getSnapshot().status === 'success'), 'the first fetches');
    expect(real.count()).toBe(3);
    host.invalidate([{ context: 'user', params: { user_id: 1 } }]);
    await until(() => real.count() === 4, 'the refetch');
    await tick(20);
    expect(real.count('user')).toBe(3);
    expect(real.count('orders')).toBe(1);
    for (const u of uns) u();
  });

  it('adopts a pushing host transport: relays watches, posts its pushes, unwatches on dispose', async () => {
    const real = new FakeTransport(() => ({ n: 1 }));
    let push: ((t: TargetInput[]) => void) | undefined;
    const watches: [string, Record<string, string>, boolean][] = [];
    const live: Transport = {
      fetchContext: (c, p, s) => real.fetchContext(c, p, s),
      call: (f, a) => real.call(f, a),
      connect: (p) => (push = p),
      watch: (c, p, on) => watches.push([c, p, on]),
    };
    const { host, transport } = pair(live, { live: true });
    expect(push).toBeTypeOf('function');
    const client = new MizanClient({ transport });
    const a = client.instance('user', { user_id: 1 });
    const b = client.instance('user', { user_id: 2 });
    const ua = a.subscribe(() => {});
    const ub = b.subscribe(() => {});
    await until(() => watches.length === 2 && real.count() === 2, 'the watches');
    expect(watches).toEqual([
      ['user', { user_id: '1' }, true],
      ['user', { user_id: '2' }, true],
    ]);
    await until(() => a.getSnapshot().status === 'success', 'data');
    push!(['user']);
    await until(() => real.count() === 4, 'both refetched');
    ub();
    await until(() => watches.length === 3, 'the unwatch');
    expect(watches[2]).toEqual(['user', { user_id: '2' }, false]);
    host();
    expect(watches[3]).toEqual(['user', { user_id: '1' }, false]);
    // After dispose, pushes reach nobody.
    push!(['user']);
    await tick(20);
    expect(real.count()).toBe(4);
    ua();
  });

  it('without live the frame reports no watches', async () => {
    const watches: unknown[] = [];
    const real = new FakeTransport(() => ({}));
    const live: Transport = { fetchContext: (c, p, s) => real.fetchContext(c, p, s), call: (f, a) => real.call(f, a), watch: (...w) => watches.push(w) };
    const { transport } = pair(live);
    expect(transport.watch).toBeUndefined();
    const client = new MizanClient({ transport });
    const un = client.instance('user').subscribe(() => {});
    await until(() => real.count() === 1, 'the fetch');
    await tick(10);
    expect(watches).toEqual([]);
    un();
  });

  it('works with the host in the same window (a preload script): each half ignores its own messages', async () => {
    const w = new FakeWindow(HOST);
    const self = view(w, w);
    const real = new FakeTransport(
      () => ({ n: 1 }),
      () => ({ result: 7, invalidate: ['user'] }),
    );
    const host = servePostMessage({ transport: real, source: self, allowedOrigins: [HOST], listen: w });
    const transport = postMessageTransport({ target: self, targetOrigin: HOST, listen: w, timeoutMs: 500 });
    cleanups.push(host, () => transport.close());
    await expect(transport.fetchContext('user', {})).resolves.toEqual({ n: 1 });
    await expect(transport.call('bump', {})).resolves.toEqual({ result: 7, invalidate: ['user'] });
    expect(real.count()).toBe(1);
    expect(real.calls).toHaveLength(1);
  });

  it('allow refuses a request with forbidden (403)', async () => {
    const real = new FakeTransport(() => ({}));
    const seen: unknown[] = [];
    const { transport } = pair(real, {
      allow: (r) => {
        seen.push(r);
        return r.kind === 'ctx';
      },
    });
    await expect(transport.fetchContext('user', {})).resolves.toEqual({});
    await expect(transport.call('admin_action', {})).rejects.toMatchObject({ code: 'forbidden', status: 403 });
    expect(real.calls).toEqual([]);
    expect(seen).toEqual([
      { kind: 'ctx', name: 'user', origin: FRAME },
      { kind: 'call', name: 'admin_action', origin: FRAME },
    ]);
  });

  it('dispose stops the host: requests in flight are aborted, new ones time out', async () => {
    const real = new FakeTransport();
    real.manual = true;
    const { host, transport } = pair(real, { timeoutMs: 40 });
    const p = transport.fetchContext('user', {});
    await until(() => real.fetches.length === 1, 'the relayed fetch');
    host();
    host(); // twice is harmless
    expect(real.fetches[0]!.signal!.aborted).toBe(true);
    await expect(p).rejects.toMatchObject({ code: 'network' });
    await expect(transport.call('reset_all', {})).rejects.toMatchObject({ code: 'network' });
    expect(real.calls).toEqual([]);
  });

  it('close fails the requests in flight and every later one with network', async () => {
    const real = new FakeTransport();
    real.manual = true;
    const { transport } = pair(real);
    const p = transport.fetchContext('user', {});
    await until(() => real.fetches.length === 1, 'the relayed fetch');
    transport.close();
    await expect(p).rejects.toMatchObject({ code: 'network', status: 0 });
    await expect(transport.fetchContext('user', {})).rejects.toMatchObject({ code: 'network' });
    real.pending[0]!.resolve({ late: true }); // the late reply goes nowhere
    await tick(10);
  });

  it('a message that does not clone fails with code unknown, not retried', async () => {
    const real = new FakeTransport();
    const { transport } = pair(real);
    const client = new MizanClient({ transport, retry: { attempts: 2, delay: 1 } });
    await expect(client.call('update_profile', { f: () => 1 })).rejects.toMatchObject({ code: 'unknown', status: 0 });
    await expect(client.fetchContext('user', { x: (() => 1) as never })).rejects.toMatchObject({ code: 'unknown' });
    expect(real.calls).toEqual([]);
  });

  it('refuses targetOrigin "*" and a host without exact allowedOrigins', () => {
    const w = new FakeWindow(HOST);
    const f = new FakeWindow(FRAME);
    expect(() => postMessageTransport({ target: view(w, f), targetOrigin: '*', listen: f })).toThrow(TypeError);
    const transport = new FakeTransport();
    expect(() => servePostMessage({ transport, source: view(f, w), listen: w })).toThrow(TypeError);
    expect(() => servePostMessage({ transport, source: view(f, w), allowedOrigins: ['*'], listen: w })).toThrow(TypeError);
    expect(() => servePostMessage({ transport, listen: w })).toThrow(TypeError);
  });

  it('works over a MessageChannel (a port pair: no origins)', async () => {
    const { port1, port2 } = new MessageChannel();
    cleanups.push(
      () => port1.close(),
      () => port2.close(),
    );
    let name = 'Ada';
    const real = new FakeTransport(
      (ctx) => {
        if (ctx === 'nope') throw new MizanError('not_found', 'unknown context nope', 404);
        return { user_profile: { name } };
      },
      () => {
        name = 'Ryth';
        return { result: { ok: true }, invalidate: ['user'] };
      },
    );
    const host = servePostMessage({ transport: real, port: port2 });
    const transport = postMessageTransport({ target: port1, timeoutMs: 1000 });
    cleanups.push(host, () => transport.close());
    const client = new MizanClient({ transport });
    const inst = client.instance<{ user_profile: { name: string } }>('user', { user_id: 1 });
    const un = inst.subscribe(() => {});
    await until(() => inst.getSnapshot().data?.user_profile.name === 'Ada', 'data');
    await expect(client.call('update_profile', { user_id: 1, name: 'Ryth' })).resolves.toEqual({ result: { ok: true }, invalidate: ['user'] });
    await until(() => inst.getSnapshot().data?.user_profile.name === 'Ryth', 'the refetch');
    const e = await transport.fetchContext('nope', {}).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MizanError);
    expect(e).toMatchObject({ code: 'not_found', status: 404, message: 'unknown context nope' });
    host.invalidate(['user']);
    await until(() => real.count() === 3, 'the pushed refetch');
    un();
  });
});
