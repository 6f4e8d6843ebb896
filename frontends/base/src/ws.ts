// @mizan/base/ws: the WebSocket transport (docs/spec.md §9, docs/live.md).
// An entry point of its own, so that apps without live updates do not
// carry it.
import { MizanError, fromEnvelope, parseJSON } from './errors.js';
import { instanceKey, type TargetInput } from './targets.js';
import { httpTransport, type CallResult, type HttpTransportOptions, type Transport } from './transport.js';

/** The part of the WebSocket API the transport uses (the browser's, or a test's fake). */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

/** The connection's state: `open` once the socket is open and every subscription it carried is confirmed. */
export type WsState = 'connecting' | 'open' | 'closed';

/** Options of wsTransport; every field has a useful zero value. The HttpTransportOptions configure the HTTP side. */
export interface WsTransportOptions extends HttpTransportOptions {
  /** The ws/ endpoint's URL. Default: baseUrl (or the page's origin) with ws: or wss:, then prefix + "ws/". */
  url?: string;
  /**
   * Functions called over the socket while it is open (they must be
   * registered with mizan.WebSocket() on the server); every other call,
   * and every call while the socket is down, goes over HTTP. Default: the
   * functions registered with registerSocketCalls, which a generated
   * client does from the IR. Given, it replaces them ([] calls nothing
   * over the socket).
   * @deprecated Let the generated client register them (registerSocketCalls).
   */
  socketCalls?: readonly string[];
  /** A token sent as the first message of each connection (`{"type": "auth"}`), for a server that reads Bearer tokens. */
  token?: () => string | null | undefined | Promise<string | null | undefined>;
  /** Reconnection delays in milliseconds: a random wait up to min·2^attempt, capped at max. Defaults 500 and 30000. */
  reconnect?: { min?: number; max?: number };
  /** The WebSocket constructor. Default globalThis.WebSocket. */
  WebSocket?: new (url: string) => SocketLike;
  /** The transport of context fetches and HTTP calls. Default httpTransport(options), naming this client in X-Mizan-Client. */
  http?: Transport;
  /** Receives failures that belong to no call: a refused subscription or token. */
  onError?: (err: MizanError) => void;
}

/** WsTransport is a Transport that keeps a WebSocket open for pushed invalidations. */
export interface WsTransport extends Transport {
  /** The connection's state now. */
  readonly state: WsState;
  /** onState adds a listener of state changes; it returns the function that removes it. */
  onState(listener: (state: WsState) => void): () => void;
  /** close closes the socket for good: no reconnection; calls go over HTTP. */
  close(): void;
}

interface Pending {
  resolve(v: Record<string, unknown>): void;
  reject(e: unknown): void;
}

interface Watched {
  context: string;
  params: Record<string, string>;
  count: number;
}

const OPEN = 1;

/** The functions registerSocketCalls registered, for every wsTransport without socketCalls. */
const registered = new Set<string>();

/**
 * registerSocketCalls adds functions to call over the socket of every
 * wsTransport that has no socketCalls option, while it is open. A
 * generated client calls it with the functions its IR marks websocket
 * (registered with mizan.WebSocket() on the server).
 */
export function registerSocketCalls(fns: Iterable<string>): void {
  for (const f of fns) registered.add(f);
}

function randomId(): string {
  const b = new Uint8Array(12);
  globalThis.crypto.getRandomValues(b);
  return 'c-' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** errorOf is the MizanError of an error reply (a reply without a usable code is a bad_response). */
const errorOf = (m: Record<string, unknown>): MizanError => fromEnvelope(m, 0, 'bad_response')!;

/**
 * wsTransport fetches contexts and makes calls over HTTP (httpTransport),
 * and keeps a WebSocket to the server's ws/ endpoint open beside it: it
 * subscribes to every instance its client watches and hands the
 * invalidations the server pushes to the client, which applies them as it
 * applies a call's targets. The functions of registerSocketCalls (or of
 * the socketCalls option) are called over the socket while it is open.
 * The socket reconnects after a failure, with exponential backoff and
 * full jitter; after a reconnection it subscribes again and has every
 * watched instance refetched, since invalidations sent while it was away
 * are lost.
 */
export function wsTransport(opts: WsTransportOptions = {}): WsTransport {
  const clientId = randomId();
  const http =
    opts.http ??
    httpTransport({ ...opts, headers: () => ({ ...opts.headers?.(), 'X-Mizan-Client': clientId }) });
  const min = opts.reconnect?.min ?? 500;
  const max = opts.reconnect?.max ?? 30_000;
  const watched = new Map<string, Watched>();
  const pending = new Map<number, Pending>();
  const listeners = new Set<(s: WsState) => void>();
  let push: ((targets: TargetInput[]) => void) | undefined;
  let socket: SocketLike | undefined;
  let subscribed: SocketLike | undefined; // the socket whose subscriptions have been sent
  let state: WsState = 'connecting';
  let nextId = 1;
  let attempt = 0;
  let opened = false; // a connection was open before: a reconnection resyncs
  let closed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

  function setState(s: WsState): void {
    if (s === state) return;
    state = s;
    for (const l of [...listeners]) l(s);
  }

  function url(): string {
    if (opts.url) return opts.url + (opts.url.includes('?') ? '&' : '?') + 'client=' + clientId;
    const base = opts.baseUrl || globalThis.location?.origin || '';
    return base.replace(/^http/, 'ws') + (opts.prefix ?? '/api/mizan/') + 'ws/?client=' + clientId;
  }

  function request(ws: SocketLike, msg: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      ws.send(JSON.stringify({ id, ...msg }));
    });
  }

  function subscribe(ws: SocketLike, w: Watched, type: 'subscribe' | 'unsubscribe'): Promise<void> {
    return request(ws, { type, context: w.context, params: w.params }).then((m) => {
      if (m.type === 'error') opts.onError?.(errorOf(m));
    });
  }

  function open(): void {
    if (closed || socket) return;
    const Ctor = opts.WebSocket ?? (globalThis.WebSocket as unknown as new (url: string) => SocketLike);
    let ws: SocketLike;
    try {
      ws = new Ctor(url());
    } catch {
      retry();
      return;
    }
    socket = ws;
    setState('connecting');
    ws.onmessage = (ev) => {
      let m: Record<string, unknown>;
      try {
        m = parseJSON(String(ev.data)) as Record<string, unknown>;
      } catch (e) {
        // A reply holding an integer a number cannot hold fails its call.
        const id = Number(/"id":(\d+)/.exec(String(ev.data))?.[1]);
        const p = e instanceof MizanError ? pending.get(id) : undefined;
        if (p) {
          pending.delete(id);
          p.reject(e);
        }
        return;
      }
      if (m.type === 'invalidate') {
        if (Array.isArray(m.targets)) push?.(m.targets as TargetInput[]);
        return;
      }
      const p = typeof m.id === 'number' ? pending.get(m.id) : undefined;
      if (p) {
        pending.delete(m.id as number);
        p.resolve(m);
      }
    };
    ws.onopen = () => {
      void (async () => {
        try {
          let tok: string | null | undefined;
          try {
            tok = await opts.token?.();
          } catch (e) {
            opts.onError?.(new MizanError('unauthorized', 'no token: ' + (e instanceof Error ? e.message : String(e)), 0));
          }
          if (socket !== ws) return;
          if (tok) {
            const m = await request(ws, { type: 'auth', token: tok });
            if (m.type === 'error') opts.onError?.(errorOf(m));
          }
          subscribed = ws; // from now on watch() subscribes on it directly
          await Promise.all([...watched.values()].map((w) => subscribe(ws, w, 'subscribe')));
        } catch {
          return; // the socket closed meanwhile: onclose reconnects
        }
        if (socket !== ws) return;
        attempt = 0;
        // Invalidations sent while the socket was away are lost: refetch
        // what is on screen, now that the subscriptions are back.
        if (opened && watched.size) push?.([...new Set([...watched.values()].map((w) => w.context))]);
        opened = true;
        setState('open');
      })();
    };
    ws.onerror = () => {};
    ws.onclose = () => {
      if (socket !== ws) return;
      socket = undefined;
      const err = new MizanError('network', 'the WebSocket closed', 0);
      for (const p of pending.values()) p.reject(err);
      pending.clear();
      retry();
    };
  }

  function retry(): void {
    if (closed) return;
    setState('connecting');
    const delay = Math.random() * Math.min(max, min * 2 ** attempt++);
    timer = setTimeout(() => {
      timer = undefined;
      open();
    }, delay);
  }

  function result(m: Record<string, unknown>): CallResult<unknown> {
    if (m.type !== 'result') throw errorOf(m);
    return { result: m.result, invalidate: Array.isArray(m.invalidate) ? (m.invalidate as TargetInput[]) : [] };
  }

  const live = (): SocketLike | undefined => (state === 'open' && socket?.readyState === OPEN ? socket : undefined);
  const ready = (): SocketLike | undefined => (socket && subscribed === socket && socket.readyState === OPEN ? socket : undefined);

  return {
    get state() {
      return state;
    },
    onState(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    fetchContext: (context, params, signal) => http.fetchContext(context, params, signal),
    async call(fn, args, signal, headers): Promise<CallResult<unknown>> {
      const ws = live();
      if (!ws || !(opts.socketCalls ? opts.socketCalls.includes(fn) : registered.has(fn))) return http.call(fn, args, signal, headers);
      if (signal?.aborted) throw signal.reason;
      // An Idempotency-Key (@mizan/base/offline) goes as the message's idempotency_key (docs/spec.md §12).
      const reply = request(ws, { type: 'call', fn, args: args ?? {}, idempotency_key: headers?.['Idempotency-Key'] });
      if (!signal) return result(await reply);
      let onAbort!: () => void;
      const aborted = new Promise<never>((_, rej) => {
        onAbort = () => rej(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
      });
      try {
        return result(await Promise.race([reply, aborted]));
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    },
    connect(p) {
      push = p;
      open();
    },
    watch(context, params, on) {
      const key = instanceKey(context, params);
      let w = watched.get(key);
      if (on) {
        if (w) {
          w.count++;
          return;
        }
        watched.set(key, (w = { context, params, count: 1 }));
        const ws = ready();
        if (ws) void subscribe(ws, w, 'subscribe').catch(() => {});
        return;
      }
      if (!w || --w.count > 0) return;
      watched.delete(key);
      const ws = ready();
      if (ws) void subscribe(ws, w, 'unsubscribe').catch(() => {});
    },
    close() {
      closed = true;
      clearTimeout(timer);
      const ws = socket;
      socket = undefined;
      ws?.close(1000, 'closed by the client');
      const err = new MizanError('network', 'the WebSocket transport is closed', 0);
      for (const p of pending.values()) p.reject(err);
      pending.clear();
      setState('closed');
    },
  };
}
