// The extension inside real htmx: a mutation's response carries HX-Trigger
// {"mizan:invalidate": {"targets": [...]}} (docs/spec.md §3); htmx raises
// the event, the extension refreshes the matching elements, and their own
// hx-get requests refetch them from the server.
import type { Server } from 'node:http';
import { afterAll, beforeAll, beforeEach, expect, test } from 'vitest';
import { click, gets, page, quiet, serve, text } from './helpers.js';
import type { Seen } from './helpers.js';

let server: Server;
let seen: Seen[];
/** The HX-Trigger the next POST is answered with ('' for none). */
let trigger = '';
/** Bumped by every POST: the fragments show it. */
let version = 0;

beforeAll(async () => {
  ({ server, seen } = await serve((req) => {
    if (req.method === 'POST') {
      version++;
      return { status: 204, headers: trigger ? { 'HX-Trigger': trigger } : undefined };
    }
    return { body: `${req.url} v${version}` };
  }));
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

const invalidate = (...targets: unknown[]) => JSON.stringify({ 'mizan:invalidate': { targets } });

/** The page: two boards, each with an info and a tasks fragment, a summary of every board, a user fragment. */
const boards = `
<main hx-ext="mizan">
  <p id="summary" hx-get="/summary" hx-trigger="mizan:refresh" mizan-context="board" mizan-fn="board_info">summary</p>
  <h2 id="info-1" hx-get="/info/1" hx-trigger="mizan:refresh" mizan-context="board" mizan-params='{"board_id":1}' mizan-fn="board_info">info 1</h2>
  <div id="tasks-1" hx-get="/tasks/1" hx-trigger="mizan:refresh" mizan-context="board" mizan-params='{"board_id":1}' mizan-fn="board_tasks">tasks 1</div>
  <h2 id="info-2" hx-get="/info/2" hx-trigger="mizan:refresh" mizan-context="board" mizan-params='{"board_id":2}' mizan-fn="board_info">info 2</h2>
  <div id="tasks-2" hx-get="/tasks/2" hx-trigger="mizan:refresh" mizan-context="board" mizan-params='{"board_id":2}' mizan-fn="board_tasks">tasks 2</div>
  <p id="user" hx-get="/user" hx-trigger="mizan:refresh" mizan-context="user" mizan-params='{"user_id":"ada"}'>user</p>
  <button id="mutate" hx-post="/mutate" hx-swap="none">mutate</button>
</main>
<button id="outside" hx-post="/mutate" hx-swap="none">outside</button>`;

const post = (id: string) => click(seen, id);

beforeEach(async () => {
  await quiet(seen);
  trigger = '';
  page(boards);
});

test('a scoped target refreshes that board and the summary, nothing else, each once', async () => {
  trigger = invalidate({ context: 'board', params: { board_id: 1 } });
  const reqs = await post('mutate');
  expect(reqs[0]).toMatchObject({ method: 'POST', url: '/mutate', hxRequest: 'true', client: undefined });
  expect(gets(reqs)).toEqual(['/info/1', '/summary', '/tasks/1']);
  expect(reqs.filter((r) => r.method === 'GET').every((r) => r.hxRequest === 'true')).toBe(true);
  expect(text('info-1')).toBe(`/info/1 v${version}`);
  expect(text('tasks-1')).toBe(`/tasks/1 v${version}`);
  expect(text('summary')).toBe(`/summary v${version}`);
  expect(text('info-2')).toBe('info 2');
  expect(text('tasks-2')).toBe('tasks 2');
  expect(text('user')).toBe('user');
});

test('a function-level target refreshes the elements listing that function, in an HX-Trigger with other events', async () => {
  let other: unknown;
  document.body.addEventListener('other', (e) => (other = (e as CustomEvent).detail.value), { once: true });
  trigger = JSON.stringify({
    other: 'x',
    'mizan:invalidate': { targets: [{ context: 'board', function: 'board_info', params: { board_id: 2 } }] },
  });
  expect(gets(await post('mutate'))).toEqual(['/info/2', '/summary']);
  expect(other).toBe('x');
  expect(text('info-2')).toBe(`/info/2 v${version}`);
  expect(text('tasks-2')).toBe('tasks 2');
});

test('a broad target and a string target refresh every element of their contexts', async () => {
  trigger = invalidate('board', { context: 'user', params: { user_id: 'ada' } });
  expect(gets(await post('mutate'))).toEqual(['/info/1', '/info/2', '/summary', '/tasks/1', '/tasks/2', '/user']);
});

test('targets of other instances refresh only the elements that omit the param', async () => {
  trigger = invalidate({ context: 'board', params: { board_id: 3 } }, { context: 'user', params: { user_id: 'grace' } }, 'boards');
  // The summary declares no board_id: it shows every board, board 3 too.
  expect(gets(await post('mutate'))).toEqual(['/summary']);
  trigger = invalidate({ context: 'user', params: { user_id: 'grace' } }, 'boards', { context: 'Board' });
  expect((await post('mutate')).map((r) => r.method)).toEqual(['POST']);
});

test('a response without the event refreshes nothing', async () => {
  const reqs = await post('mutate');
  expect(reqs.map((r) => `${r.method} ${r.url}`)).toEqual(['POST /mutate']);
  trigger = JSON.stringify({ 'mizan:invalidate': 'board' }); // not the protocol's shape: ignored
  expect((await post('mutate')).map((r) => r.method)).toEqual(['POST']);
});

test('a mutation outside hx-ext="mizan" is not the extension\'s', async () => {
  trigger = invalidate('board');
  const reqs = await post('outside');
  expect(reqs.map((r) => r.method)).toEqual(['POST']);
});

test('a refreshed fragment that itself declares an instance is refreshed once, not with its inner elements', async () => {
  page(`<div hx-ext="mizan">
    <section id="outer" hx-get="/outer" hx-trigger="mizan:refresh" mizan-context="board" mizan-params='{"board_id":1}'>
      <p id="inner" hx-get="/inner" hx-trigger="mizan:refresh" mizan-context="board" mizan-params='{"board_id":1}'>inner</p>
    </section>
    <button id="go" hx-post="/mutate" hx-swap="none">go</button></div>`);
  trigger = invalidate({ context: 'board', params: { board_id: 1 } });
  expect(gets(await post('go'))).toEqual(['/outer']);
  expect(text('outer')).toBe(`/outer v${version}`);
});
