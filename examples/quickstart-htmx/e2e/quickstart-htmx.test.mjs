// End-to-end test of the quickstart's htmx page in headless Chromium,
// driven by playwright-core:
//
//   npm run e2e                                    (after run.sh built everything once)
//   bash examples/quickstart-htmx/run.sh --test    (installs, builds, runs this)
//
// It starts the Go server on a free port, opens the page (real htmx.org and
// the built @mizan/htmx, both served by the server from node_modules), and
// checks that a mutation posted from one fragment refetches exactly the
// fragments its targets match, once each (counting the GET requests per
// fragment URL), that they show the new data and that the others were not
// refetched; then that a mutation made by another client (a POST to call/
// from this test) is pushed over the WebSocket and refreshes the matching
// fragments the same way.
//
// Environment: CHROMIUM_PATH (default /usr/bin/chromium); QUICKSTART_HTMX_BIN,
// a built server (default: go build ./quickstart-htmx in examples/ into a
// temporary directory). Without Chromium the test is skipped, except under
// CI=true, where it fails.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const app = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const root = resolve(app, '../..');
const nodeModules = join(app, 'node_modules');
const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ci = process.env.CI === 'true';
const skip = !existsSync(chromiumPath) && !ci ? `no Chromium at ${chromiumPath} (apt-get install chromium)` : false;

let tmp, server, browser, page, base;
/** Errors the page logged (console.error, uncaught). */
const pageErrors = [];
/** Every request the page made: { method, url, path, headers }. */
const requests = [];
/** The responses of status 400 or more: "400 POST /boards/1/tasks/". */
const failedResponses = [];
/** The WebSocket frames the page sent and received, parsed. */
const sent = [];
const received = [];
/** The URL of the page's WebSocket. */
let wsURL;
let inflight = 0;

/** startServer runs the server on a free port and resolves with its URL. */
async function startServer(bin) {
  const proc = spawn(bin, ['-addr', '127.0.0.1:0', '-node-modules', nodeModules], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (b) => (stderr += b));
  const url = await new Promise((resolveURL, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the server did not start in 30 s:\n${out}${stderr}`)), 30_000);
    proc.stdout.on('data', (b) => {
      out += b;
      const m = /^Mizan quickstart-htmx listening on (http:\/\/\S+?)\/?$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolveURL(m[1]);
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited with ${code}:\n${out}${stderr}`));
    });
  });
  proc.removeAllListeners('exit');
  return { proc, url };
}

before(async () => {
  if (skip) return;
  if (!existsSync(chromiumPath)) throw new Error(`CI=true and there is no Chromium at ${chromiumPath}`);
  for (const f of ['htmx.org/dist/htmx.min.js', '@mizan/htmx/dist/mizan-htmx.js']) {
    if (!existsSync(join(nodeModules, f))) throw new Error(`no ${f} in ${nodeModules}: run bash examples/quickstart-htmx/run.sh --test`);
  }
  tmp = mkdtempSync(join(tmpdir(), 'quickstart-htmx-e2e-'));
  let bin = process.env.QUICKSTART_HTMX_BIN;
  if (!bin) {
    bin = join(tmp, 'quickstart-htmx');
    execFileSync('go', ['build', '-o', bin, './quickstart-htmx'], { cwd: join(root, 'examples'), stdio: 'inherit' });
  }
  ({ proc: server, url: base } = await startServer(bin));
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    headless: true,
    timeout: 60_000,
  });
  page = await browser.newPage();
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (err) => pageErrors.push(String(err)));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text());
  });
  page.on('request', (r) => {
    inflight++;
    const u = new URL(r.url());
    requests.push({ method: r.method(), url: r.url(), path: u.pathname + u.search, headers: r.headers() });
  });
  page.on('response', (r) => {
    if (r.status() >= 400) failedResponses.push(`${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`);
  });
  const done = () => inflight--;
  page.on('requestfinished', done);
  page.on('requestfailed', done);
  page.on('websocket', (ws) => {
    wsURL = ws.url();
    ws.on('framesent', (f) => sent.push(JSON.parse(f.payload)));
    ws.on('framereceived', (f) => received.push(JSON.parse(f.payload)));
  });
});

after(async () => {
  await browser?.close();
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await exited;
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** settle waits until the page has had no request in flight for 300 ms. */
async function settle() {
  let quietSince = Date.now();
  const deadline = Date.now() + 10_000;
  while (Date.now() - quietSince < 300) {
    if (Date.now() > deadline) throw new Error(`requests still in flight after 10 s (${inflight})`);
    await new Promise((r) => setTimeout(r, 50));
    if (inflight > 0) quietSince = Date.now();
  }
}

/** fragmentGetsSince counts the GET requests per fragment URL made after mark. */
function fragmentGetsSince(mark) {
  const n = {};
  for (const r of requests.slice(mark)) {
    if (r.method === 'GET' && r.path.startsWith('/fragments/')) n[r.path] = (n[r.path] ?? 0) + 1;
  }
  return n;
}

/** mutate runs action and resolves with the request and response of the POST to path it makes. */
async function mutate(path, action) {
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === path),
    action(),
  ]);
  const trigger = res.headers()['hx-trigger'];
  return {
    status: res.status(),
    hxRequest: res.request().headers()['hx-request'],
    targets: trigger ? JSON.parse(trigger)['mizan:invalidate']?.targets : undefined,
  };
}

const text = (id) => page.locator(`#${id}`).innerText();
const info = (n) => `/fragments/boards/${n}/info/`;
const tasks = (n) => `/fragments/boards/${n}/tasks/`;
const summary = '/fragments/summary/';

test('the htmx page of the quickstart: fragments refreshed by the targets that match them', { skip }, async (t) => {
  await t.test('loads htmx and @mizan/htmx from the server, subscribes to the instances it shows, fetches no fragment', async () => {
    await page.goto(`${base}/`);
    await page.waitForFunction(() => window.htmx && window.mizanHtmx);
    // The page subscribes to what its elements declare: boards 1 and 2,
    // and the summary's board without params, which the server refuses
    // (board_id is required), so pushes reach the summary through the
    // boards' subscriptions.
    for (let i = 0; i < 200 && received.length < 3; i++) await new Promise((r) => setTimeout(r, 50));
    const subs = sent.filter((m) => m.type === 'subscribe').map((m) => `${m.context} ${JSON.stringify(m.params)}`);
    assert.deepEqual(subs.sort(), ['board {"board_id":"1"}', 'board {"board_id":"2"}', 'board {}']);
    assert.deepEqual(received.map((m) => m.type).sort(), ['error', 'ok', 'ok']);
    assert.equal(await text('summary'), '2 open tasks on 2 boards');
    assert.equal(await text('info-1'), 'Launch · 2 open');
    await settle();
    const scripts = requests.filter((r) => r.path.startsWith('/assets/')).map((r) => r.path).sort();
    assert.deepEqual(scripts, ['/assets/htmx.min.js', '/assets/mizan-htmx.js']);
    assert.ok(requests.every((r) => r.url.startsWith(base)), 'every request goes to the server: no CDN');
    assert.deepEqual(fragmentGetsSince(0), {});
  });

  await t.test("adds a task on board 1: board 1's info and tasks and the summary refetch, once each", async () => {
    const mark = requests.length;
    await page.locator('#tasks-1').getByLabel('New task').fill('Try htmx');
    const res = await mutate('/boards/1/tasks/', () => page.locator('#tasks-1').getByRole('button', { name: 'Add' }).click());
    assert.equal(res.status, 204);
    assert.equal(res.hxRequest, 'true');
    assert.deepEqual(res.targets, [{ context: 'board', params: { board_id: 1 } }]);
    await page.locator('#tasks-1 li', { hasText: 'Try htmx' }).waitFor();
    await settle();
    assert.deepEqual(fragmentGetsSince(mark), { [info(1)]: 1, [tasks(1)]: 1, [summary]: 1 });
    assert.equal(await text('info-1'), 'Launch · 3 open');
    assert.equal(await text('summary'), '3 open tasks on 2 boards');
    assert.deepEqual(await page.locator('#tasks-2 li').allInnerTexts(), ['Water the plants']);
    assert.equal(await page.locator('#tasks-1').getByLabel('New task').inputValue(), '');
  });

  await t.test('renames board 2 (a function-level target, board_info): its info and the summary refetch, not its tasks', async () => {
    const mark = requests.length;
    await page.locator('#rename-2').getByLabel('New name').fill('Home');
    const res = await mutate('/boards/2/name/', () => page.locator('#rename-2').getByRole('button', { name: 'Rename' }).click());
    assert.equal(res.status, 204);
    assert.deepEqual(res.targets, [{ context: 'board', function: 'board_info', params: { board_id: 2 } }]);
    await page.locator('#info-2', { hasText: 'Home' }).waitFor();
    await settle();
    assert.deepEqual(fragmentGetsSince(mark), { [info(2)]: 1, [summary]: 1 });
    assert.equal(await text('info-1'), 'Launch · 3 open');
  });

  await t.test('completes a task on board 1 from its Done button: board 1 and the summary refetch', async () => {
    const mark = requests.length;
    const res = await mutate('/boards/1/tasks/1/done/', () => page.locator('#task-1').getByRole('button', { name: 'Done' }).click());
    assert.equal(res.status, 204);
    await page.locator('#task-1 s').waitFor();
    await settle();
    assert.deepEqual(fragmentGetsSince(mark), { [info(1)]: 1, [tasks(1)]: 1, [summary]: 1 });
    assert.equal(await text('info-1'), 'Launch · 2 open');
    assert.equal(await text('summary'), '2 open tasks on 2 boards');
  });

  await t.test("another client's mutation is pushed over the WebSocket: board 2's fragments and the summary refetch", async () => {
    const mark = requests.length;
    const pushes = received.filter((m) => m.type === 'invalidate').length;
    const res = await fetch(`${base}/api/mizan/call/`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ fn: 'add_task', args: { board_id: 2, title: 'From another client' } }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-mizan-invalidate'), 'board;board_id=2');
    await page.locator('#tasks-2 li', { hasText: 'From another client' }).waitFor();
    await settle();
    assert.deepEqual(fragmentGetsSince(mark), { [info(2)]: 1, [tasks(2)]: 1, [summary]: 1 });
    assert.deepEqual(received.filter((m) => m.type === 'invalidate').slice(pushes), [
      { type: 'invalidate', targets: [{ context: 'board', params: { board_id: 2 } }] },
    ]);
    assert.equal(await text('info-2'), 'Home · 1 open');
    assert.equal(await text('summary'), '3 open tasks on 2 boards');
  });

  await t.test("the page's own mutations name its client, so they are not pushed back to it", async () => {
    const ws = new URL(wsURL);
    assert.equal(ws.origin + ws.pathname, base.replace('http:', 'ws:') + '/api/mizan/ws/');
    const client = ws.searchParams.get('client');
    assert.match(client, /^[0-9a-f]{24}$/);
    const posts = requests.filter((r) => r.method === 'POST');
    assert.equal(posts.length, 3);
    assert.ok(posts.every((r) => r.headers['x-mizan-client'] === client && r.headers['hx-request'] === 'true'));
    assert.equal(received.filter((m) => m.type === 'invalidate').length, 1); // the other client's only
  });

  await t.test('resets the demo (a broad target): every fragment refetches, once', async () => {
    const mark = requests.length;
    const res = await mutate('/reset/', () => page.locator('#reset').click());
    assert.deepEqual(res.targets, ['board']);
    await page.locator('#info-2', { hasText: 'Chores' }).waitFor();
    await settle();
    assert.deepEqual(fragmentGetsSince(mark), { [info(1)]: 1, [tasks(1)]: 1, [info(2)]: 1, [tasks(2)]: 1, [summary]: 1 });
    assert.equal(await text('summary'), '2 open tasks on 2 boards');
    assert.deepEqual(await page.locator('#tasks-1 li').allInnerTexts(), ['Write the docs Done', 'Tag v0.1.0 Done']);
  });

  await t.test('no request failed, and the page logged no error', () => {
    assert.deepEqual(failedResponses, []);
    assert.deepEqual(pageErrors, []);
  });
});
