// End-to-end test of the Svelte quickstart UI in headless Chromium, driven
// by playwright-core:
//
//   npm run e2e                                     (after npm run build)
//   bash examples/quickstart-svelte/run.sh --test   (installs, generates, builds, runs this)
//
// It starts the Go quickstart on a free port serving dist/ under /ui/,
// opens /ui/, checks that board 1 shows its tasks (one fetch of board 1 and
// one of global), adds a task through the form and checks that exactly
// board 1's instance was refetched (not global, not board 2) and that the
// task shows, then completes a task.
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

const web = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const root = resolve(web, '../..');
const dist = join(web, 'dist');
const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ci = process.env.CI === 'true';
const skip = !existsSync(chromiumPath) && !ci ? `no Chromium at ${chromiumPath} (apt-get install chromium)` : false;
const prefix = '/api/mizan/';

let tmp, server, browser, page, base;
/** Every API request the page made, in order: "GET ctx/board/?board_id=1", "POST call/ add_task". */
const requests = [];
const pageErrors = [];

/** startServer runs the quickstart on a free port and resolves with its URL. */
function startServer(bin) {
  const proc = spawn(bin, ['-addr', '127.0.0.1:0', '-ui', dist], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (b) => (stderr += b));
  return new Promise((resolveURL, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the quickstart did not start in 30 s:\n${out}${stderr}`)), 30_000);
    proc.stdout.on('data', (b) => {
      out += b;
      const m = /^Mizan quickstart listening on (http:\/\/\S+?)\/?$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        proc.removeAllListeners('exit');
        resolveURL({ proc, url: m[1] });
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the quickstart exited with ${code}:\n${out}${stderr}`));
    });
  });
}

/** settled waits until the page has made no request for a while. */
async function settled() {
  await page.waitForLoadState('networkidle');
}

/** since returns the requests made from index i on. */
const since = (i) => requests.slice(i);

before(async () => {
  if (skip) return;
  if (!existsSync(chromiumPath)) throw new Error(`CI=true and there is no Chromium at ${chromiumPath}`);
  if (!existsSync(join(dist, 'index.html'))) {
    throw new Error(`${dist} has no index.html: build the UI first (npm run build, or bash examples/quickstart-svelte/run.sh --test)`);
  }
  tmp = mkdtempSync(join(tmpdir(), 'quickstart-svelte-e2e-'));
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
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) pageErrors.push(m.text()); // its URL is logged by 'response'
  });
  page.on('response', (r) => {
    if (r.status() >= 400) pageErrors.push(`${r.status()} ${r.url()}`);
  });
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (!u.pathname.startsWith(prefix)) return;
    const fn = r.method() === 'POST' ? ' ' + JSON.parse(r.postData() ?? '{}').fn : '';
    requests.push(`${r.method()} ${u.pathname.slice(prefix.length)}${u.search}${fn}`);
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

test('the board shows its tasks, fetched once with global', { skip }, async () => {
  await page.goto(base + '/ui/');
  await page.getByText('Write the docs').waitFor();
  await page.getByText('Tag v0.1.0').waitFor();
  assert.equal(await page.getByTestId('board-name').textContent(), 'Launch');
  assert.equal(await page.getByTestId('board-count').textContent(), '2 open of 2');
  assert.match(await page.getByTestId('who').textContent(), /anonymous/);
  await settled();
  assert.deepEqual([...requests].sort(), ['GET ctx/board/?board_id=1', 'GET ctx/global/']);
});

test('adding a task through the form refetches exactly board 1 and shows the task', { skip }, async () => {
  // Board 2 has an instance too (visited, then left): it must not be refetched.
  await page.getByRole('button', { name: 'Board 2' }).click();
  await page.getByText('Water the plants').waitFor();
  await page.getByRole('button', { name: 'Board 1' }).click();
  await page.getByText('Write the docs').waitFor();
  await settled();
  const mark = requests.length;
  await page.getByLabel('New task').fill('Try Svelte');
  await page.getByRole('button', { name: 'Add' }).click();
  await page.locator('li', { hasText: 'Try Svelte' }).waitFor();
  await page.getByText('3 open of 3').waitFor();
  await settled();
  const after = since(mark).filter((r) => r !== 'GET session/'); // the CSRF token, asked once before the first call
  assert.deepEqual(after, ['POST call/ add_task', 'GET ctx/board/?board_id=1']);
  assert.match(await page.locator('li', { hasText: 'Try Svelte' }).textContent(), /by anonymous/);
  assert.equal(await page.getByLabel('New task').inputValue(), '');
});

test('completing a task strikes it through and updates the count', { skip }, async () => {
  const mark = requests.length;
  const item = page.locator('li', { hasText: 'Write the docs' });
  await item.getByRole('button', { name: 'Done' }).click();
  await page.locator('li.done', { hasText: 'Write the docs' }).waitFor();
  await page.getByText('2 open of 3').waitFor();
  assert.equal(await item.getByRole('button', { name: 'Done' }).count(), 0);
  await settled();
  assert.deepEqual(since(mark), ['POST call/ complete_task', 'GET ctx/board/?board_id=1']);
  assert.deepEqual(pageErrors, []);
});
