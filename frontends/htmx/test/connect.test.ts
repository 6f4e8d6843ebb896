// connect(): the WebSocket transport of docs/spec.md §9 over a stand-in
// socket, with the real htmx doing the refetches: subscriptions follow the
// instances the page declares, pushed targets refresh the matching
// elements, the page names itself on its requests so that its own calls are
// not pushed back, and a dropped connection is reopened and resynced.
import type { Server } from 'node:http';
import { afterAll, beforeAll, expect, test, vi } from 'vitest';
import { connect } from '../src/index.js';
import type { Connection } from '../src/index.js';
import { FakeSocket, click, fakeSockets, gets, last, page, quiet, serve, text } from './helpers.js';
import type { Seen } from './helpers.js';

let server: Server;
let seen: Seen[];
let base: string;
let conn: Connection | undefined;

beforeAll(async () => {
  ({ server, seen, base } = await serve((req) => {
    if (req.url === '/grow') {
      return { body: `<span id="grown" mizan-context="user" mizan-params='{"user_id":7}'>user 7</span>` };
    }
    return { status: req.method === 'POST' ? 204 : 200, body: `${req.url} fresh` };
  }));
  fakeSockets();
});

afterAll(async () => {
  conn?.close();
  vi.unstubAllGlobals();
  await new Promise<void>((r) => server.close(() => r()));
});

const html = `
<main hx-ext="mizan">
  <p id="b1" hx-get="/b1" hx-trigger="mizan:refresh" mizan-context="board" mizan-params='{"board_id":1}'>b1</p>
  <p id="b1-again" mizan-context="board" mizan-params='{"board_id":1}' mizan-fn="board_info">b1 again</p>
  <p id="b2" hx-get="/b2" hx-trigger="mizan:refresh" mizan-context="board" mizan-params='{"board_id":2,"open":true}'>b2</p>
  <div id="grow" hx-get="/grow" hx-trigger="mizan:refresh" mizan-context="global">global</div>
  <button id="mutate" hx-post="/mutate" hx-swap="none">mutate</button>
</main>`;

test('a request made before connect() names no client', async () => {
  page(html);
  expect(await click(seen, 'mutate')).toMatchObject([{ method: 'POST', client: undefined }]);
});

test('connect subscribes to each instance the page declares, once, with params as strings', () => {
  conn = connect('/api/mizan/ws/');
  const s = last();
  const u = new URL(s.url);
  expect(`${u.protocol}//${u.host}${u.pathname}`).toBe(base.replace('http:', 'ws:') + '/api/mizan/ws/');
  expect(u.searchParams.get('client')).toMatch(/^[0-9a-f]{24}$/);
  expect(s.sent).toEqual([]);
  s.open();
  expect(s.subs()).toEqual([
    'subscribe board {"board_id":"1"}',
    'subscribe board {"board_id":"2","open":"true"}',
    'subscribe global {}',
  ]);
  expect(s.sent.map((m) => (m as unknown as { id: number }).id)).toEqual([1, 2, 3]);
});

test("after connect() the page's requests carry its client id", async () => {
  const client = new URL(last().url).searchParams.get('client');
  expect(await click(seen, 'mutate')).toMatchObject([{ method: 'POST', client }]);
});

test('a pushed invalidation refreshes the matching elements; a swap that adds an instance subscribes to it', async () => {
  const s = last();
  s.sent = [];
  const mark = seen.length;
  s.push({ type: 'invalidate', targets: [{ context: 'board', params: { board_id: 2 } }, 'global'] });
  await expect.poll(() => text('grown')).toBe('user 7');
  await quiet(seen);
  expect(gets(seen.slice(mark))).toEqual(['/b2', '/grow']);
  expect(text('b2')).toBe('/b2 fresh');
  expect(text('b1')).toBe('b1');
  expect(s.subs()).toEqual(['subscribe user {"user_id":"7"}']);
});

test('replies and messages that are not invalidations are ignored', async () => {
  const s = last();
  const mark = seen.length;
  s.push({ id: 1, type: 'ok' });
  s.push({ type: 'error', error: { code: 'not_found', message: 'x' } });
  s.push('not json');
  s.push({ type: 'invalidate', targets: 'board' });
  await quiet(seen);
  expect(seen.length).toBe(mark);
});

test('an instance no element shows any more is unsubscribed after the next swap', () => {
  const s = last();
  s.sent = [];
  document.getElementById('b2')?.remove();
  document.dispatchEvent(new CustomEvent('htmx:afterSettle'));
  expect(s.subs()).toEqual(['unsubscribe board {"board_id":"2","open":"true"}']);
  document.dispatchEvent(new CustomEvent('htmx:afterSettle'));
  expect(s.subs()).toHaveLength(1);
});

const cancel = (e: Event) => e.preventDefault();

test('a dropped connection is reopened after 1 s, doubling, and resubscribes and refreshes everything it shows', () => {
  vi.useFakeTimers({ toFake: ['setTimeout'] });
  try {
    const first = last();
    const refreshed: string[] = [];
    for (const el of document.querySelectorAll('[mizan-context]')) el.addEventListener('mizan:refresh', () => refreshed.push(el.id));
    // No refetch: this test counts the refresh events.
    document.addEventListener('htmx:beforeRequest', cancel);
    first.close();
    vi.advanceTimersByTime(999);
    expect(FakeSocket.all.at(-1)).toBe(first);
    vi.advanceTimersByTime(1);
    const second = last();
    expect(second).not.toBe(first);
    second.close(); // refused before it opened: the next try waits 2 s
    vi.advanceTimersByTime(1999);
    expect(last()).toBe(second);
    vi.advanceTimersByTime(1);
    const third = last();
    expect(third).not.toBe(second);
    third.open();
    expect(third.subs()).toEqual(['subscribe board {"board_id":"1"}', 'subscribe global {}', 'subscribe user {"user_id":"7"}']);
    expect(refreshed.sort()).toEqual(['b1', 'b1-again', 'grow']); // grown sits inside grow
  } finally {
    document.removeEventListener('htmx:beforeRequest', cancel);
    vi.useRealTimers();
  }
});

test('close() stops the connection for good', () => {
  vi.useFakeTimers({ toFake: ['setTimeout'] });
  try {
    const s = last();
    const n = FakeSocket.all.length;
    conn?.close();
    conn = undefined;
    expect(s.readyState).toBe(3);
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.all.length).toBe(n);
    s.sent = [];
    document.dispatchEvent(new CustomEvent('htmx:afterSettle'));
    expect(s.sent).toEqual([]);
  } finally {
    vi.useRealTimers();
  }
});
