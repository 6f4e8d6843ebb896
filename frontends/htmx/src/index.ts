// @mizan/htmx: an htmx extension that refreshes the elements of a page that
// show a context instance a mutation invalidated (docs/htmx.md). A mutation
// answered to an htmx request carries HX-Trigger: {"mizan:invalidate":
// {"targets": [...]}} (docs/spec.md §3); connect() adds the targets pushed
// over the WebSocket (docs/spec.md §9).
import { instanceKey, matchTarget, toTarget } from '@mizan/base';
import type { InstanceRef, TargetInput } from '@mizan/base';

export type { InstanceRef, TargetInput } from '@mizan/base';

/** The part of htmx this package uses: the default export of htmx.org, or window.htmx. */
export interface Htmx {
  defineExtension(name: string, extension: { onEvent(name: string, event: CustomEvent): boolean }): void;
}

/** A connection opened by {@link connect}. */
export interface Connection {
  /** close stops the connection and its reconnecting for good. */
  close(): void;
}

/** The selector of the elements that declare a context instance. */
const declared = '[mizan-context]';

/** The client id of this page, sent as X-Mizan-Client once connect() was called. */
let client: string | undefined;

/**
 * instanceOf returns the context instance el declares with mizan-context and
 * mizan-params (a JSON object; each value stringified as docs/spec.md §4
 * says, null dropped), or null when el declares none. mizan-params that is
 * not a JSON object counts as no params: the element then matches every
 * target of its context (refreshed too often, never left stale).
 */
export function instanceOf(el: Element): InstanceRef | null {
  const context = el.getAttribute('mizan-context');
  if (!context) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(el.getAttribute('mizan-params') || '{}');
  } catch {
    raw = 0;
  }
  // fromEntries defines own properties, so a "__proto__" key stays data.
  const params: Record<string, string> =
    raw && typeof raw == 'object' && !Array.isArray(raw)
      ? Object.fromEntries(Object.entries(raw).flatMap(([k, v]) => (v == null ? [] : [[k, String(v)]])))
      : {};
  return { context, params };
}

/**
 * matching returns the elements under root (the document by default) that
 * a target of targets applies to, by the matching rule of docs/spec.md §3:
 * same context, and every param the target names equal to the element's
 * (an element that omits one matches). A function-level target applies to
 * an element whose mizan-fn (names separated by spaces or commas) lists
 * that function, and to every element without mizan-fn. An element inside
 * another one that matches is left out: refreshing the outer one replaces
 * it.
 */
export function matching(targets: readonly TargetInput[], root: ParentNode = document): Element[] {
  const ts = targets.map(toTarget);
  const hit = [...root.querySelectorAll(declared)].filter((el) => {
    // An empty mizan-context declares nothing (a template's empty value):
    // skipped, never a stop to the page's refreshes.
    const inst = instanceOf(el);
    if (!inst) return false;
    // An empty mizan-fn lists nothing: as if there were none.
    const fns = el.getAttribute('mizan-fn')?.split(/[\s,]+/).filter(Boolean);
    return ts.some((t) => {
      const r = matchTarget(t, inst);
      return r && (r.refetch == 'instance' || !fns?.length || fns.includes(r.function));
    });
  });
  return hit.filter((el) => !hit.some((o) => o != el && o.contains(el)));
}

/**
 * refresh dispatches mizan:refresh (not bubbling, detail {targets}) on every
 * element matching returns, so that an element with hx-trigger="mizan:refresh"
 * refetches its hx-get, and returns those elements.
 */
export function refresh(targets: readonly TargetInput[], root: ParentNode = document): Element[] {
  const els = matching(targets, root);
  for (const el of els) el.dispatchEvent(new CustomEvent('mizan:refresh', { detail: { targets } }));
  return els;
}

/**
 * install defines the htmx extension "mizan" (hx-ext="mizan" on an element
 * that encloses the page's mutating elements, usually <body>): on the
 * mizan:invalidate event of a response's HX-Trigger it refreshes the
 * matching elements of the document, and once connect() was called it
 * names the page's client in X-Mizan-Client on every request, so that the
 * hub does not push the page's own mutations back to it.
 */
export function install(htmx: Htmx): void {
  htmx.defineExtension('mizan', {
    onEvent(name, evt) {
      const d = evt.detail as { targets?: TargetInput[]; headers?: Record<string, string> } | null;
      if (name == 'mizan:invalidate' && Array.isArray(d?.targets)) refresh(d.targets);
      if (name == 'htmx:configRequest' && client && d?.headers) d.headers['X-Mizan-Client'] = client;
      return true;
    },
  });
}

/**
 * connect opens the WebSocket transport of docs/spec.md §9 at url (the
 * app's ws/ endpoint, such as "/api/mizan/ws/"; relative to the page,
 * http(s) read as ws(s)), subscribes to every instance the page's elements
 * declare (again after every htmx swap, unsubscribing those no element
 * shows any more) and refreshes the matching elements on every pushed
 * invalidation. A dropped connection is reopened after 1 s, doubling up to
 * 30 s; once it is open again every declared element is refreshed, since
 * invalidations may have been missed meanwhile.
 */
export function connect(url: string): Connection {
  client ??= [...crypto.getRandomValues(new Uint8Array(12))].map((b) => (b + 256).toString(16).slice(1)).join('');
  let ws: WebSocket | undefined;
  let subs = new Map<string, InstanceRef>();
  let id = 0;
  let delay = 1000;
  let opened = false;
  let closed = false;
  const send = (type: string, i: InstanceRef) =>
    ws?.readyState == 1 && ws.send(JSON.stringify({ id: ++id, type, context: i.context, params: i.params }));
  const sync = () => {
    const now = new Map<string, InstanceRef>();
    for (const el of document.querySelectorAll(declared)) {
      const i = instanceOf(el);
      if (i) now.set(instanceKey(i.context, i.params), i);
    }
    for (const [k, i] of now) if (!subs.has(k)) send('subscribe', i);
    for (const [k, i] of subs) if (!now.has(k)) send('unsubscribe', i);
    subs = now;
  };
  const open = () => {
    if (closed) return;
    const u = new URL(url, location.href);
    u.protocol = u.protocol.replace('http', 'ws');
    u.searchParams.set('client', client as string);
    const s = (ws = new WebSocket(u));
    s.onopen = () => {
      delay = 1000;
      subs = new Map();
      sync();
      if (opened) refresh([...new Set([...subs.values()].map((i) => i.context))]);
      opened = true;
    };
    s.onmessage = (e) => {
      let m: { type?: string; targets?: TargetInput[] } | undefined;
      try {
        m = JSON.parse(String(e.data));
      } catch {
        // not a message of the protocol
      }
      if (m?.type == 'invalidate' && Array.isArray(m.targets)) refresh(m.targets);
    };
    s.onclose = () => {
      if (closed || ws != s) return;
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 30000);
    };
  };
  document.addEventListener('htmx:afterSettle', sync);
  if (document.readyState == 'loading') document.addEventListener('DOMContentLoaded', open, { once: true });
  else open();
  return {
    close() {
      closed = true;
      document.removeEventListener('htmx:afterSettle', sync);
      document.removeEventListener('DOMContentLoaded', open);
      ws?.close();
    },
  };
}
