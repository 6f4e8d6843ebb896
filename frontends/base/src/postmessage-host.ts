// @mizan/base/postmessage-host: the host half of the postMessage transport.
// It relays the requests of a kernel running in a frame (postMessageTransport
// of @mizan/base/postmessage) to a real transport, and posts invalidations
// to the frame. An entry point of its own: the host and the frame are
// separate bundles, and neither carries the other's half.
import { MizanError, toMizanError } from './errors.js';
import { instanceKey, type TargetInput } from './targets.js';
import type { Transport } from './transport.js';
import { isMessage, type MessageEventLike, type MessageSourceLike, type PostMessageTarget } from './postmessage.js';

export type { MessageEventLike, MessageSourceLike, PostMessageMessage, PostMessageTarget } from './postmessage.js';

/** A request of the frame, as servePostMessage's allow option sees it. */
export interface PostMessageRequest {
  kind: 'ctx' | 'call';
  /** The context's name (ctx) or the function's (call). */
  name: string;
  /** The origin it came from ("" on a MessagePort). */
  origin: string;
}

/** Options of servePostMessage. Give source and allowedOrigins (a frame's window), or port. */
export interface ServePostMessageOptions {
  /** Where the requests go: httpTransport() to the real server, or any Transport. */
  transport: Transport;
  /**
   * The frame's window (iframe.contentWindow): only messages whose
   * event.source is this window are read, and replies go to it.
   */
  source?: PostMessageTarget;
  /**
   * The exact origins the frame may have (`https://widget.example`); a
   * message from any other is ignored. Required with source; never `"*"`.
   */
  allowedOrigins?: readonly string[];
  /** Instead of source: a MessagePort (or an object like it) that only the frame holds the other end of. */
  port?: PostMessageTarget & MessageSourceLike;
  /** Where the frame's messages arrive with source. Default globalThis (the host's window). */
  listen?: MessageSourceLike;
  /** Decides whether a request is relayed; a refused one fails with code `forbidden` (403). Default: all are. */
  allow?: (req: PostMessageRequest) => boolean;
}

/** The function servePostMessage returns: call it to stop; invalidate pushes targets to the frame. */
export interface PostMessageHost {
  /** Stops listening, aborts the requests in flight and drops the frame's watches. */
  (): void;
  /** Posts targets to the frame, whose kernel applies them to its instances as a call's targets. */
  invalidate(targets: TargetInput[]): void;
}

/**
 * servePostMessage relays the requests of a frame's postMessageTransport:
 * a message is read only if it carries the protocol tag and, with source,
 * comes from that window and from one of allowedOrigins. Each context fetch
 * and call goes to transport; the reply, with the request's id, carries the
 * bundle, or the result and its targets (the frame's kernel applies them),
 * or the error with its code, message, status and fields. When transport
 * pushes invalidations (it has connect: a wsTransport of its own for this
 * frame, not one a host MizanClient has adopted), servePostMessage adopts
 * it, relays the frame's watches and posts every push to the frame, as
 * invalidate does.
 */
export function servePostMessage(opts: ServePostMessageOptions): PostMessageHost {
  const { transport, source, port, allow } = opts;
  const allowed = opts.allowedOrigins ?? [];
  if (port ? source : !source) throw new TypeError('servePostMessage: give either source (with allowedOrigins) or port');
  if (source && (!allowed.length || allowed.includes('*')))
    throw new TypeError('servePostMessage: allowedOrigins must list the exact origins of the frame');
  const listen = port ?? opts.listen ?? (globalThis as unknown as MessageSourceLike);
  const inflight = new Map<string, AbortController>();
  const watched = new Map<string, { context: string; params: Record<string, string>; count: number }>();
  // The origin of the frame's last accepted message: pushes go there only.
  let origin = allowed.length === 1 ? allowed[0] : undefined;
  let stopped = false;

  const post = (m: Record<string, unknown>, to = origin): void => {
    try {
      if (port) port.postMessage({ mizan: 1, ...m });
      else if (to) source!.postMessage({ mizan: 1, ...m }, to);
    } catch {
      // The frame is gone, or its origin changed: nothing to tell it.
    }
  };

  function watch(context: string, params: Record<string, string>, on: boolean): void {
    const key = instanceKey(context, params);
    const w = watched.get(key);
    if (on) {
      if (w) w.count++;
      else {
        watched.set(key, { context, params, count: 1 });
        transport.watch?.(context, params, true);
      }
    } else if (w && --w.count <= 0) {
      watched.delete(key);
      transport.watch?.(context, params, false);
    }
  }

  async function relay(m: Record<string, unknown>, id: string, from: string): Promise<void> {
    const ac = new AbortController();
    inflight.set(id, ac);
    try {
      const call = m.kind === 'call';
      const name = String(call ? m.fn : m.context);
      if (allow && !allow({ kind: call ? 'call' : 'ctx', name, origin: from }))
        throw new MizanError('forbidden', `${name} is not allowed from this frame`, 403);
      const params = (m.params ?? {}) as Record<string, string>;
      const reply = call
        ? await transport.call(name, m.args, ac.signal)
        : { result: await transport.fetchContext(name, params, ac.signal) };
      if (!ac.signal.aborted) post({ kind: 'result', id, ...reply }, from);
    } catch (e) {
      if (ac.signal.aborted) return;
      const err = toMizanError(e);
      const error: Record<string, unknown> = { code: err.code, message: err.message, status: err.status };
      if (err.fields) error.fields = err.fields;
      post({ kind: 'error', id, error }, from);
    } finally {
      inflight.delete(id);
    }
  }

  const onMessage = (ev: MessageEventLike): void => {
    const m = ev.data;
    if (stopped || !isMessage(m)) return;
    const from = ev.origin ?? '';
    if (source && (ev.source !== source || !allowed.includes(from))) return;
    if (source) origin = from;
    const id = typeof m.id === 'string' ? m.id : undefined;
    if (m.kind === 'abort') {
      if (id) inflight.get(id)?.abort();
    } else if (m.kind === 'watch') {
      if (typeof m.context === 'string' && m.params && typeof m.params === 'object')
        watch(m.context, m.params as Record<string, string>, m.on === true);
    } else if ((m.kind === 'ctx' || m.kind === 'call') && id && !inflight.has(id)) {
      void relay(m, id, from);
    }
  };
  listen.addEventListener('message', onMessage);
  port?.start?.();

  const invalidate = (targets: TargetInput[]): void => {
    if (!stopped) post({ kind: 'invalidate', targets });
  };
  transport.connect?.(invalidate);

  return Object.assign(
    (): void => {
      if (stopped) return;
      stopped = true;
      listen.removeEventListener('message', onMessage);
      for (const ac of inflight.values()) ac.abort();
      inflight.clear();
      for (const w of watched.values()) transport.watch?.(w.context, w.params, false);
      watched.clear();
    },
    { invalidate },
  );
}
