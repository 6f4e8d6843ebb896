// Helpers of the tests: a local HTTP server that the happy-dom page is
// moved onto (so that htmx's requests are same-origin and real), the real
// htmx.org loaded into the test's document with the extension installed,
// and a fake WebSocket for connect().
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import htmxModule from 'htmx.org';
import { expect, vi } from 'vitest';
import { install } from '../src/index.js';

// htmx.org's types are read as CommonJS under NodeNext resolution, so that
// its default export is typed as a "default" member of the module; at run
// time (ESM) the default import is htmx itself.
type HtmxApi = typeof htmxModule.default;
/** The real htmx, loaded into the test's document. */
export const htmx: HtmxApi = (htmxModule as unknown as { default?: HtmxApi }).default ?? (htmxModule as unknown as HtmxApi);

/** A request the server saw: method, URL and the headers the tests look at. */
export interface Seen {
  method: string;
  url: string;
  hxRequest: string | undefined;
  client: string | undefined;
}

/** Answer computes a response: status, headers and an HTML body. */
export type Answer = (req: IncomingMessage) => { status?: number; headers?: Record<string, string>; body?: string };

/** serve starts a server on 127.0.0.1 answering with answer, moves the page onto it, and installs the extension. */
export async function serve(answer: Answer): Promise<{ server: Server; seen: Seen[]; base: string }> {
  const seen: Seen[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push({
      method: req.method ?? '',
      url: req.url ?? '',
      hxRequest: req.headers['hx-request'] as string | undefined,
      client: req.headers['x-mizan-client'] as string | undefined,
    });
    req.resume();
    req.on('end', () => {
      const a = answer(req);
      res.writeHead(a.status ?? 200, { 'Content-Type': 'text/html; charset=utf-8', ...a.headers });
      res.end(a.body ?? '');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  (window as unknown as { happyDOM: { setURL(u: string): void } }).happyDOM.setURL(base + '/');
  install(htmx);
  return { server, seen, base };
}

/** page sets the body's HTML and lets htmx process it. */
export function page(html: string): void {
  document.body.innerHTML = html;
  htmx.process(document.body);
}

/** gets returns the URLs of the GET requests in seen, sorted. */
export const gets = (seen: Seen[]) =>
  seen
    .filter((s) => s.method === 'GET')
    .map((s) => s.url)
    .sort();

// The requests htmx has in flight, by their XMLHttpRequest: htmx raises
// htmx:afterRequest twice for an element that left the document (on it and
// on an ancestor still in it), so a counter would not do.
const inflight = new Set<unknown>();
document.addEventListener('htmx:beforeRequest', (e) => inflight.add((e as CustomEvent).detail.xhr));
document.addEventListener('htmx:afterRequest', (e) => inflight.delete((e as CustomEvent).detail.xhr));

/** quiet waits until htmx has had no request in flight, and the server nothing new, for 100 ms. */
export async function quiet(seen: Seen[]): Promise<void> {
  let n = -1;
  let since = Date.now();
  const deadline = Date.now() + 5000;
  while (Date.now() - since < 100) {
    if (Date.now() > deadline) throw new Error(`requests did not settle in 5 s (${inflight.size} in flight)`);
    if (seen.length !== n || inflight.size > 0) {
      n = seen.length;
      since = Date.now();
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** click clicks the element with id and waits until the server saw a request and every request is answered; it returns the requests made. */
export async function click(seen: Seen[], id: string): Promise<Seen[]> {
  const mark = seen.length;
  const el = document.getElementById(id);
  if (!el) throw new Error(`no element #${id}`);
  el.click();
  await expect.poll(() => seen.length > mark).toBe(true);
  await quiet(seen);
  return seen.slice(mark);
}

/** text returns the text of the element with id. */
export const text = (id: string) => document.getElementById(id)?.textContent ?? '';

/** FakeSocket stands in for WebSocket: it records what is sent and lets a test open, push and close. */
export class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: { type: string; context: string; params: Record<string, string> }[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  readonly url: string;
  constructor(url: URL | string) {
    this.url = String(url);
    FakeSocket.all.push(this);
  }
  send(data: string): void {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open');
    this.sent.push(JSON.parse(data));
  }
  close(): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.();
  }
  /** open opens the socket as the server would. */
  open(): void {
    this.readyState = 1;
    this.onopen?.();
  }
  /** push delivers a message from the server. */
  push(data: unknown): void {
    this.onmessage?.({ data: typeof data === 'string' ? data : JSON.stringify(data) });
  }
  /** subs returns what was sent as "subscribe board {"board_id":"1"}". */
  subs(): string[] {
    return this.sent.map((m) => `${m.type} ${m.context} ${JSON.stringify(m.params)}`);
  }
}

/** fakeSockets replaces the WebSocket global with FakeSocket. */
export function fakeSockets(): void {
  FakeSocket.all = [];
  vi.stubGlobal('WebSocket', FakeSocket);
}

/** last returns the last FakeSocket made. */
export const last = () => {
  const s = FakeSocket.all.at(-1);
  if (!s) throw new Error('no socket was opened');
  return s;
};
