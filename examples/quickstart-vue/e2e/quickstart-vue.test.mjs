// End-to-end test of the Vue quickstart UI in headless Chromium, driven by
// playwright-core through the page:
//
//   npm run e2e                                  (after npm run build)
//   bash examples/quickstart-vue/run.sh --test   (installs, generates, builds, runs this)
//
// It starts the Go quickstart on a free port serving dist/ under /ui/,
// checks that the boards show their tasks (one fetch per context
// instance), adds a task through the form and checks that exactly that
// board's instance was refetched (not the other board, not global) and the
// new task shows, that an empty title shows the server's per-field error,
// completes a task and renames a board.
//
// Environment: CHROMIUM_PATH (default /usr/bin/chromium); QUICKSTART_BIN, a
// built quickstart (default: go build ./quickstart in examples/ into a
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
const dist = join(app, 'dist');
const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ci = process.env.CI === 'true';
const skip = !existsSync(chromiumPath) && !ci ? `no Chromium at ${chromiumPath} (apt-get install chromium)` : false;

const prefix = '/api/mizan/';
let tmp, server, browser, page, base;
/** Errors the page logged (console.error, uncaught). */
const pageErrors = [];
/** Every request the page made: { method, path, fn }, path relative to the API prefix for API requests. */
const requests = [];
let inflight = 0;
/** The responses of status 400 or more: "400 POST /api/mizan/call/". */
const failedResponses = [];

/** startServer runs the quickstart on a free port with -ui dist and resolves with its URL. */
async function startServer(bin) {
  const proc = spawn(bin, ['-addr', '127.0.0.1:0', '-ui', dist], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (b) => (stderr += b));
  const url = await new Promise((resolveURL, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the quickstart did not start in 30 s:\n${out}${stderr}`)), 30_000);
    proc.stdout.on('data', (b) => {
      out += b;
      const m = /^Mizan quickstart listening on (http:\/\/\S+?)\/?$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolveURL(m[1]);
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the quickstart exited with ${code}:\n${out}${stderr}`));
    });
  });
  proc.removeAllListeners('exit');
  return { proc, url };
}

before(async () => {
  if (skip) return;
  if (!existsSync(chromiumPath)) throw new Error(`CI=true and there is no Chromium at ${chromiumPath}`);
  if (!existsSync(join(dist, 'index.html'))) {
    throw new Error(`${dist} has no index.html: build the UI first (npm run build, or bash examples/quickstart-vue/run.sh --test)`);
  }
  tmp = mkdtempSync(join(tmpdir(), 'quickstart-vue-e2e-'));
  let bin = process.env.QUICKSTART_BIN;
  if (!bin) {
    bin = join(tmp, 'quickstart');
    execFileSync('go', ['build', '-o', bin, './quickstart'], { cwd: join(root, 'examples'), stdio: 'inherit' });
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
    const path = u.pathname.startsWith(prefix) ? u.pathname.slice(prefix.length) + u.search : u.pathname + u.search;
    const fn = r.method() === 'POST' && path === 'call/' ? JSON.parse(r.postData() ?? '{}').fn : undefined;
    requests.push({ method: r.method(), path, fn });
  });
  page.on('response', (r) => {
    if (r.status() >= 400) failedResponses.push(`${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`);
  });
  const done = () => inflight--;
  page.on('requestfinished', done);
  page.on('requestfailed', done);
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

/** ctxFetchesSince returns the context fetches made after mark, as "board/?board_id=1", sorted. */
const ctxFetchesSince = (mark) =>
  requests
    .slice(mark)
    .filter((r) => r.method === 'GET' && r.path.startsWith('ctx/'))
    .map((r) => r.path.slice('ctx/'.length))
    .sort();

/** callsSince returns the functions the page called after mark. */
const callsSince = (mark) => requests.slice(mark).filter((r) => r.fn !== undefined).map((r) => r.fn);

/** mutate runs action and resolves with the response of the call of fn it makes. */
async function mutate(fn, action) {
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`${prefix}call/`) && JSON.parse(r.request().postData() ?? '{}').fn === fn),
    action(),
  ]);
  return { status: res.status(), body: await res.json(), header: res.headers()['x-mizan-invalidate'] };
}

const board = (id) => page.getByTestId(`board-${id}`);

test('the Vue UI of the quickstart: boards, add a task, complete a task, rename a board', { skip }, async (t) => {
  await t.test('shows both boards with their tasks, one fetch per context instance', async () => {
    await page.goto(`${base}/ui/`);
    await board(1).getByText('Write the docs').waitFor();
    assert.equal(await board(1).locator('h2').innerText(), 'Launch 2 open');
    assert.deepEqual(await board(1).locator('li').allInnerTexts(), ['Write the docs Done by ada', 'Tag v0.1.0 Done by ada']);
    assert.deepEqual(await board(2).locator('li').allInnerTexts(), ['Water the plants by lin']);
    assert.equal(await board(2).getByTestId('task-3').getAttribute('data-done'), 'true');
    assert.equal(await page.getByTestId('caller').innerText(), 'Calling anonymously');
    await settle();
    assert.deepEqual(ctxFetchesSince(0), ['board/?board_id=1', 'board/?board_id=2', 'global/']);
  });

  await t.test('adds a task: only board 1 is refetched, and the new task shows', async () => {
    const mark = requests.length;
    await board(1).getByLabel('New task').fill('Try Mizan');
    const res = await mutate('add_task', () => board(1).getByRole('button', { name: 'Add' }).click());
    assert.equal(res.status, 200);
    assert.equal(res.header, 'board;board_id=1');
    assert.equal(res.body.result.title, 'Try Mizan');
    const id = res.body.result.id;
    await board(1).getByTestId(`task-${id}`).waitFor();
    assert.match(await board(1).getByTestId(`task-${id}`).innerText(), /^Try Mizan Done by anonymous$/);
    assert.equal(await board(1).getByTestId('open').innerText(), '3 open');
    assert.equal(await board(1).getByLabel('New task').inputValue(), '');
    await settle();
    assert.deepEqual(callsSince(mark), ['add_task']);
    assert.deepEqual(ctxFetchesSince(mark), ['board/?board_id=1']);
    assert.deepEqual(await board(2).locator('li').allInnerTexts(), ['Water the plants by lin']);
  });

  await t.test("an empty title shows the server's field error and refetches nothing", async () => {
    const mark = requests.length;
    const res = await mutate('add_task', () => board(2).getByRole('button', { name: 'Add' }).click());
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'invalid_args');
    assert.ok(res.body.error.fields?.title, JSON.stringify(res.body));
    await board(2).getByTestId('add-error').waitFor();
    assert.equal(await board(2).getByTestId('add-error').innerText(), `Title: ${res.body.error.fields.title}`);
    await settle();
    assert.deepEqual(ctxFetchesSince(mark), []);
  });

  await t.test('completes a task: board 1 is refetched and shows it done', async () => {
    const mark = requests.length;
    const res = await mutate('complete_task', () => board(1).getByTestId('complete-1').click());
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.result, { ok: true });
    await board(1).locator('[data-testid="task-1"][data-done="true"]').waitFor();
    assert.equal(await board(1).getByTestId('task-1').locator('s').innerText(), 'Write the docs');
    assert.equal(await board(1).getByTestId('complete-1').count(), 0);
    assert.equal(await board(1).getByTestId('open').innerText(), '2 open');
    await settle();
    assert.deepEqual(ctxFetchesSince(mark), ['board/?board_id=1']);
  });

  await t.test('renames board 2 (a function-level target): only board 2 is refetched', async () => {
    const mark = requests.length;
    await board(2).getByLabel('New name').fill('Home');
    const res = await mutate('rename_board', () => board(2).getByRole('button', { name: 'Rename' }).click());
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.invalidate, [{ context: 'board', function: 'board_info', params: { board_id: 2 } }]);
    await board(2).getByRole('heading', { name: /^Home/ }).waitFor();
    assert.deepEqual(await board(2).locator('li').allInnerTexts(), ['Water the plants by lin']);
    assert.match(await board(1).locator('h2').innerText(), /^Launch /);
    await settle();
    assert.deepEqual(ctxFetchesSince(mark), ['board/?board_id=2']);
  });

  await t.test('no other request failed, and the page logged no other error', () => {
    assert.deepEqual(failedResponses, ['400 POST /api/mizan/call/']); // the empty title
    assert.deepEqual(pageErrors.filter((e) => !/status of 400/.test(e)), []);
  });
});
