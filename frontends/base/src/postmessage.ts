// @mizan/base/postmessage: the frame half of the postMessage transport. A
// kernel running in an iframe, a webview or a renderer sends its context
// fetches and calls to a host window (or a MessagePort), which relays them
// to the server with @mizan/base/postmessage-host. An entry point of its
// own, so that apps that talk HTTP do not carry it.
import { MizanError, fromEnvelope } from './errors.js';
import type { TargetInput } from './targets.js';
import type { CallResult, Transport } from './transport.js';

/**
 * Where messages are posted: a Window (window.parent), a MessagePort, or an
 * object like them. The transports pass a Window its targetOrigin (a
 * string) and a port the message alone; the parameter is typed unknown so
 * that both DOM types fit.
 */
export interface PostMessageTarget {
  postMessage(message: unknown, targetOrigin?: unknown): void;
}

/** The event part of a MessageEvent the transports read. */
export interface MessageEventLike {
  readonly data: unknown;
  readonly origin?: string;
  readonly source?: unknown;
}

/** Where messages arrive: a Window, a MessagePort, or an object like them. */
export interface MessageSourceLike {
  addEventListener(type: 'message', listener: (ev: MessageEventLike) => void): void;
  removeEventListener(type: 'message', listener: (ev: MessageEventLike) => void): void;
  /** A MessagePort's: called, when present on a port that is also the target, to start delivery. */
  start?(): void;
}

/**
 * Every message of the protocol: `mizan` (its version, 1), then the kind.
 * Frame to host: `ctx` {id, context, params}, `call` {id, fn, args},
 * `abort` {id}, `watch` {context, params, on}. Host to frame: `result`
 * {id, result, invalidate?}, `error` {id, error: {code, message, status,
 * fields?}}, `invalidate` {targets}. Anything else is ignored.
 */
export interface PostMessageMessage {
  mizan: 1;
  kind: 'ctx' | 'call' | 'abort' | 'watch' | 'result' | 'error' | 'invalidate';
  id?: string;
  [k: string]: unknown;
}

/** Options of postMessageTransport. */
export interface PostMessageTransportOptions {
  /** Where requests go: window.parent (or window.opener), a MessagePort, or a webview's API object. */
  target: PostMessageTarget;
  /**
   * The host's exact origin (`https://app.example`), for a Window target:
   * requests are posted to that origin only, and only messages from that
   * origin and from target itself are read. Omit it for a MessagePort (or
   * another object whose postMessage takes the message alone): then every
   * message on the port is read. `"*"` is refused.
   */
  targetOrigin?: string;
  /** Where replies arrive. Default: globalThis (the frame's window) with targetOrigin, else target. */
  listen?: MessageSourceLike;
  /** How long to wait for a reply, in milliseconds; 0 waits forever. Default 30000. */
  timeoutMs?: number;
  /**
   * Report what is on screen (Transport.watch) to the host, for a host that
   * relays a pushing transport (wsTransport). Default false: with watch, an
   * unwatched instance turns stale.
   */
  live?: boolean;
}

/** PostMessageTransport is a Transport over postMessage; close stops it. */
export interface PostMessageTransport extends Transport {
  /** close stops listening and fails the requests in flight (code `network`). */
  close(): void;
}

interface Pending {
  resolve(m: Record<string, unknown>): void;
  reject(e: unknown): void;
}

/** isMessage reports whether data is a message of the protocol. Internal: shared with the host half. */
export const isMessage = (d: unknown): d is PostMessageMessage =>
  typeof d === 'object' && d !== null && (d as { mizan?: unknown }).mizan === 1;

/**
 * postMessageTransport sends the kernel's requests to a host through
 * postMessage, each with an id of its own, and resolves each with the
 * host's reply of the same id: a bundle, a call's result and targets (which
 * the client applies as usual), or the server's error, code, message,
 * status and fields kept. Invalidations the host pushes are handed to the
 * client. No reply within timeoutMs rejects with code `network` (status 0),
 * so that context fetches are retried; an aborted fetch rejects with the
 * signal's reason and tells the host to abort its own.
 */
export function postMessageTransport(opts: PostMessageTransportOptions): PostMessageTransport {
  const { target, targetOrigin } = opts;
  if (targetOrigin === '*') throw new TypeError('postMessageTransport: targetOrigin "*" is refused; give the host\'s origin');
  const listen = opts.listen ?? ((targetOrigin ? globalThis : target) as unknown as MessageSourceLike);
  const timeout = opts.timeoutMs ?? 30_000;
  const pending = new Map<string, Pending>();
  const prefix = Math.random().toString(36).slice(2) + '.';
  let push: ((targets: TargetInput[]) => void) | undefined;
  let next = 0;
  let closed = false;

  const post = (m: Record<string, unknown>): void =>
    targetOrigin ? target.postMessage({ mizan: 1, ...m }, targetOrigin) : target.postMessage({ mizan: 1, ...m });

  const onMessage = (ev: MessageEventLike): void => {
    const m = ev.data;
    if (!isMessage(m) || (targetOrigin && (ev.origin !== targetOrigin || ev.source !== target))) return;
    if (m.kind === 'invalidate') {
      if (Array.isArray(m.targets)) push?.(m.targets as TargetInput[]);
      return;
    }
    // Only replies: a frame that shares its window with the host (a preload
    // script relaying to Electron's main process) sees its own requests.
    const p = (m.kind === 'result' || m.kind === 'error') && typeof m.id === 'string' ? pending.get(m.id) : undefined;
    if (p) {
      pending.delete(m.id!);
      if (m.kind === 'result') p.resolve(m);
      else p.reject(fromEnvelope(m, Number((m.error as { status?: unknown } | undefined)?.status) || 0, 'bad_response'));
    }
  };
  listen.addEventListener('message', onMessage);
  // A MessagePort delivers once started (a window's global has no start of
  // its own: a page's function start() must not be called).
  if (listen === (target as unknown)) listen.start?.();

  function request(m: Record<string, unknown>, signal?: AbortSignal): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      if (closed) return reject(new MizanError('network', 'the postMessage transport is closed', 0));
      const id = prefix + next++;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = (): void => {
        done();
        post({ kind: 'abort', id });
        reject(signal!.reason);
      };
      const done = (): void => {
        pending.delete(id);
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      pending.set(id, {
        resolve: (v) => (done(), resolve(v)),
        reject: (e) => (done(), reject(e)),
      });
      if (timeout > 0) {
        timer = setTimeout(() => {
          pending.get(id)?.reject(new MizanError('network', `no reply from the host within ${timeout} ms`, 0));
          post({ kind: 'abort', id });
        }, timeout);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        post({ ...m, id });
      } catch (e) {
        // Arguments that do not clone, a malformed targetOrigin: the
        // client turns it into code "unknown", not retried.
        pending.get(id)?.reject(e);
      }
    });
  }

  const t: PostMessageTransport = {
    async fetchContext(context, params, signal) {
      return (await request({ kind: 'ctx', context, params }, signal)).result;
    },
    async call(fn, args, signal): Promise<CallResult<unknown>> {
      const m = await request({ kind: 'call', fn, args: args ?? {} }, signal);
      return { result: m.result, invalidate: Array.isArray(m.invalidate) ? (m.invalidate as TargetInput[]) : [] };
    },
    connect(p) {
      push = p;
    },
    close() {
      closed = true;
      listen.removeEventListener('message', onMessage);
      const err = new MizanError('network', 'the postMessage transport is closed', 0);
      for (const p of [...pending.values()]) p.reject(err);
    },
  };
  if (opts.live) t.watch = (context, params, on) => closed || post({ kind: 'watch', context, params, on });
  return t;
}
