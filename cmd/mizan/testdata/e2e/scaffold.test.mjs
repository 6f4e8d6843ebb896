// The new-project path, end to end, as docs/new-project.md tells a user to
// take it:
//
//   go run ./cmd/mizan init DIR        (from the root of the checkout)
//   cd DIR && make build && make test && ./bin/APP
//   cd DIR && make dev
//
// DIR is a fresh temporary directory outside the repository. The built app
// is driven in headless Chromium (playwright-core): the page shows two
// instances of the list context, and adding an item to one refetches that
// instance only. Then `make dev`: the same through Vite's proxy, a change
// to App.tsx hot-reloaded without a page load, a change to main.go
// rebuilding the server and regenerating the client, and one SIGINT to
// the terminal's process group (a Ctrl+C) stopping every process it
// started.
//
//   bash cmd/mizan/testdata/e2e/run.sh      (npm ci here, then this file)
//
// Environment: CHROMIUM_PATH (default /usr/bin/chromium); without Chromium
// the test is skipped, except under CI=true, where it fails.
// MIZAN_E2E_KEEP=1 leaves the temporary directory in place. Screenshots
// go to test-results/ at the root of the repository.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../../..');
const results = join(root, 'test-results');
const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ci = process.env.CI === 'true';
const skip = !existsSync(chromiumPath) && !ci ? `no Chromium at ${chromiumPath} (apt-get install chromium)` : false;

// As the taskboard's browser test: flags for a CI machine without a
// display, GPU or network.
const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const prefix = '/api/mizan/';
const name = 'myapp';
let tmp, app, browser, server;
/** The `make dev` process (leader of its own process group), once started. */
let dev;
const t0 = Date.now();

/** log prints a step with the time since the start. */
function log(msg) {
  console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);
}

/** sh runs a command as the user would type it, its output shown, and fails on a non-zero status. */
function sh(cwd, cmd, ...args) {
  log(`$ ${cwd === root ? '' : `(cd ${relative(tmp, cwd) || '.'}) `}${[cmd, ...args].join(' ')}`);
  execFileSync(cmd, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'], timeout: 300_000 });
}

/** freePort returns a TCP port nothing listens on now. */
function freePort() {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolvePort(port));
    });
  });
}

/** refused resolves true when nothing accepts connections on host:port. */
function refused(port, host = '127.0.0.1') {
  return new Promise((r) => {
    const c = connect(port, host);
    c.on('connect', () => {
      c.destroy();
      r(false);
    });
    c.on('error', () => r(true));
  });
}

/**
 * waitFor polls fn until it returns a truthy value and returns it; it fails
 * after timeout ms with what() in the message.
 */
async function waitFor(fn, timeout, what) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout / 1000} s waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** output collects a child's stdout and stderr, for waiting on and for error messages. */
function output(proc) {
  const o = { text: '' };
  for (const s of [proc.stdout, proc.stderr]) {
    s.setEncoding('utf8');
    s.on('data', (b) => {
      o.text += b;
      if (process.env.MIZAN_E2E_VERBOSE) process.stdout.write(b);
    });
  }
  return o;
}

/**
 * watchPage records the API requests of a page: { method, path, fn } with
 * path relative to the prefix, and counts those in flight.
 */
function watchPage(page) {
  const w = { requests: [], inflight: 0, errors: [] };
  page.on('pageerror', (err) => w.errors.push(String(err)));
  page.on('console', (m) => {
    // Failed requests are logged too: the refused title's 400 is one the
    // test makes on purpose, and the favicon's 404 is no error of the app.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource:')) w.errors.push(m.text());
  });
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (!u.pathname.startsWith(prefix)) return;
    w.inflight++;
    const path = u.pathname.slice(prefix.length) + u.search;
    const fn = r.method() === 'POST' && path === 'call/' ? JSON.parse(r.postData() ?? '{}').fn : undefined;
    w.requests.push({ method: r.method(), path, fn });
  });
  const done = (r) => {
    if (new URL(r.url()).pathname.startsWith(prefix)) w.inflight--;
  };
  page.on('requestfinished', done);
  page.on('requestfailed', done);
  /** settle waits until no API request has been in flight for 300 ms. */
  w.settle = async () => {
    let quietSince = Date.now();
    const deadline = Date.now() + 15_000;
    while (Date.now() - quietSince < 300) {
      if (Date.now() > deadline) throw new Error(`API requests still in flight after 15 s (${w.inflight})`);
      await new Promise((r) => setTimeout(r, 50));
      if (w.inflight > 0) quietSince = Date.now();
    }
  };
  /** ctxSince returns the context fetches after mark, as "list/?list_id=1", sorted. */
  w.ctxSince = (mark) =>
    w.requests
      .slice(mark)
      .filter((r) => r.method === 'GET' && r.path.startsWith('ctx/'))
      .map((r) => r.path.slice('ctx/'.length))
      .sort();
  return w;
}

/**
 * addItem types title into list id's form and submits it, and resolves
 * with the add_item response (status, body, X-Mizan-Invalidate).
 */
async function addItem(page, id, title) {
  const list = page.getByTestId(`list-${id}`);
  await list.getByLabel(`New item for list ${id}`).fill(title);
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`${prefix}call/`) && JSON.parse(r.request().postData() ?? '{}').fn === 'add_item'),
    list.getByRole('button', { name: 'Add' }).click(),
  ]);
  return { status: res.status(), body: await res.json(), header: res.headers()['x-mizan-invalidate'] };
}

/** items returns the titles list id shows. */
const items = (page, id) => page.getByTestId(`list-${id}`).locator('li').allTextContents();

/**
 * checkScopedRefetch is the check of both runs: the page loads each list
 * once; adding to list `hit` refetches that instance only, and the other
 * keeps what it showed; a refused title refetches nothing.
 */
async function checkScopedRefetch(page, w, hit, title) {
  const other = hit === 1 ? 2 : 1;
  await page.getByTestId(`list-${hit}`).locator('h2').waitFor();
  await page.getByTestId(`list-${other}`).locator('h2').waitFor();
  await w.settle();
  const before = await items(page, other);

  let mark = w.requests.length;
  const res = await addItem(page, hit, title);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.header, `list;list_id=${hit}`);
  assert.deepEqual(res.body.invalidate, [{ context: 'list', params: { list_id: hit } }]);
  await page.getByTestId(`list-${hit}`).getByText(title, { exact: true }).waitFor();
  await w.settle();
  assert.deepEqual(w.ctxSince(mark), [`list/?list_id=${hit}`], 'add_item must refetch its own list, and only it');
  assert.deepEqual(await items(page, other), before, `list ${other} must not change`);

  // An empty title: refused with invalid_args naming the field, shown by
  // the form; nothing went stale, so nothing is refetched.
  mark = w.requests.length;
  const bad = await addItem(page, hit, '');
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 'invalid_args');
  assert.ok(bad.body.error.fields?.title, JSON.stringify(bad.body));
  await page.getByTestId(`list-${hit}`).getByText(/^Title: /).waitFor();
  await w.settle();
  assert.deepEqual(w.ctxSince(mark), []);
}

before(async () => {
  if (skip) return;
  if (!existsSync(chromiumPath)) {
    throw new Error(`CI=true and there is no Chromium at ${chromiumPath}: .ci/run installs it with apt (apt-get install chromium)`);
  }
  tmp = realpathSync(mkdtempSync(join(tmpdir(), 'mizan-new-project-')));
  assert.ok(relative(realpathSync(root), tmp).startsWith('..'), `${tmp} must be outside the repository ${root}`);
  app = join(tmp, name);
  mkdirSync(results, { recursive: true });

  // The documented commands, nothing else.
  sh(root, 'go', 'run', './cmd/mizan', 'init', app);
  for (const f of ['go.mod', 'go.sum', 'main.go', 'Makefile', 'web/package-lock.json', 'web/vendor/mizan-react-0.1.0.tgz']) {
    assert.ok(existsSync(join(app, f)), `mizan init wrote no ${f}`);
  }
  const gomod = readFileSync(join(app, 'go.mod'), 'utf8');
  assert.ok(
    [root, realpathSync(root)].some((r) => gomod.includes(`\nreplace github.com/mizan-afi/mizan => ${r}\n`)),
    `go.mod does not replace the library with this checkout:\n${gomod}`,
  );
  sh(app, 'make', 'build');
  sh(app, 'make', 'test');

  browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, headless: true, timeout: 60_000 });
});

after(async () => {
  await browser?.close();
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await exited;
  }
  if (dev && dev.exitCode === null) {
    // A Ctrl+C first, so that mizan dev stops its children (each in a
    // process group of its own, which a SIGKILL of make's group would
    // leave running), then SIGKILL whatever is left of the group.
    const exited = new Promise((r) => dev.once('exit', r));
    try {
      process.kill(-dev.pid, 'SIGINT');
    } catch {
      // already gone
    }
    let timer;
    await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 25_000)))]);
    clearTimeout(timer);
    try {
      process.kill(-dev.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  // After a failure, what make dev started may be left (Vite and the
  // server run in process groups of their own): the processes running
  // from this test's temporary directory are this test's.
  if (tmp) {
    for (const line of execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).split('\n')) {
      const [pid] = line.trim().split(/\s+/);
      if (line.includes(tmp) && Number(pid) !== process.pid) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  }
  if (tmp && !process.env.MIZAN_E2E_KEEP) rmSync(tmp, { recursive: true, force: true });
  else if (tmp) console.log(`kept ${tmp}`);
  log('done');
});

test('the built app: a mutation refetches the instance it hit, and only it', { skip, timeout: 120_000 }, async () => {
  const port = await freePort();
  log(`$ ./bin/${name} -addr 127.0.0.1:${port}`);
  server = spawn(join(app, 'bin', name), ['-addr', `127.0.0.1:${port}`, '-db', join(tmp, 'built.db')], {
    cwd: app,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = output(server);
  const url = await waitFor(
    () => /listening on (http:\/\/\S+?)\/?$/m.exec(out.text)?.[1],
    30_000,
    () => `the server to listen:\n${out.text}`,
  );

  try {
    await driveBuilt(url);
  } finally {
    const exited = server.exitCode !== null ? Promise.resolve(server.exitCode) : new Promise((r) => server.once('exit', r));
    server.kill('SIGINT');
    assert.equal(await exited, 0, `the server's exit status after SIGINT:\n${out.text}`);
  }
});

/** driveBuilt is the browser part of the built app's test. */
async function driveBuilt(url) {
  const page = await browser.newPage();
  page.setDefaultTimeout(15_000);
  const w = watchPage(page);
  await page.goto(url);
  await page.getByText('Nothing yet.').first().waitFor();
  await w.settle();
  assert.deepEqual(w.ctxSince(0), ['list/?list_id=1', 'list/?list_id=2'], 'the page loads each list once');

  await checkScopedRefetch(page, w, 1, 'Write the docs');
  await checkScopedRefetch(page, w, 2, 'Ship it');
  assert.deepEqual(await items(page, 1), ['Write the docs']);
  assert.deepEqual(await items(page, 2), ['Ship it']);

  // A reload shows what the database holds.
  await page.reload();
  await page.getByTestId('list-2').getByText('Ship it').waitFor();
  assert.deepEqual(await items(page, 1), ['Write the docs']);
  await page.screenshot({ path: join(results, 'new-project-built.png') });
  assert.deepEqual(w.errors, []);
  await page.close();
}

test('make dev: the proxy, hot reload, a rebuild on a Go change, one Ctrl+C stops everything', { skip, timeout: 180_000 }, async () => {
  const port = await freePort();
  // The processes that run before make dev: a server of another mizan dev
  // on this machine is not one this test left.
  const before = new Set(
    execFileSync('ps', ['-eo', 'pid='], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean),
  );
  log(`$ MIZAN_ADDR=127.0.0.1:${port} make dev`);
  // detached: a process group of its own, as a terminal gives the command
  // it runs in the foreground; a Ctrl+C is SIGINT to that whole group.
  dev = spawn('make', ['dev'], {
    cwd: app,
    detached: true,
    env: { ...process.env, MIZAN_ADDR: `127.0.0.1:${port}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = output(dev);
  const devExit = new Promise((r) => dev.once('exit', (code, signal) => r({ code, signal })));
  const viteURL = await waitFor(
    // Vite colours its banner when CI is set (picocolors), even on a pipe:
    // the escape codes are stripped before matching.
    () => /Local:\s+(http:\/\/\S+?)\/?\s*$/m.exec(out.text.replace(/\x1b\[[0-9;]*m/g, ''))?.[1],
    60_000,
    () => `Vite to start:\n${out.text}`,
  );
  await waitFor(
    () => out.text.includes(`listening on http://127.0.0.1:${port}/`),
    120_000,
    () => `the server to start:\n${out.text}`,
  );
  log(`Vite at ${viteURL}, the server at 127.0.0.1:${port}`);

  const page = await browser.newPage();
  page.setDefaultTimeout(20_000);
  const w = watchPage(page);
  await page.goto(viteURL);
  await page.getByText('Nothing yet.').first().waitFor();
  // Through the proxy, against a new database (app.db in the app's directory).
  await checkScopedRefetch(page, w, 2, 'Through the proxy');

  // Hot reload: an edit to App.tsx reaches the page without a page load
  // (React Fast Refresh), so a mark left on window survives it.
  await page.evaluate(() => {
    window.__beforeEdit = true;
  });
  const appTsx = join(app, 'web/src/App.tsx');
  writeFileSync(appTsx, readFileSync(appTsx, 'utf8').replace('<h1>Lists</h1>', '<h1>Lists, hot-reloaded</h1>'));
  await page.getByRole('heading', { name: 'Lists, hot-reloaded' }).waitFor();
  assert.equal(await page.evaluate(() => window.__beforeEdit), true, 'the edit reloaded the page instead of hot-replacing the module');

  // A Go change: a second read in the list context. mizan dev rebuilds the
  // server, regenerates web/src/gen and restarts the server.
  const mainGo = join(app, 'main.go');
  const src = readFileSync(mainGo, 'utf8');
  const edited = src
    .replace(
      '\tmizan.Mutation(app, s.addItem, mizan.Affects(List))\n',
      '\tmizan.Mutation(app, s.addItem, mizan.Affects(List))\n\tmizan.Query(app, s.listCount, mizan.In(List))\n',
    )
    .replace(
      '// newApp registers',
      [
        '// listCount is a second read in the list context.',
        'func (s *store) listCount(ctx context.Context, in ListArgs) (int, error) {',
        '\tvar n int',
        '\terr := s.db.QueryRowContext(ctx, `SELECT count(*) FROM items WHERE list_id = ?`, in.ListID).Scan(&n)',
        '\treturn n, err',
        '}',
        '',
        '// newApp registers',
      ].join('\n'),
    );
  assert.notEqual(edited, src, 'the test no longer matches the template of main.go');
  writeFileSync(mainGo, edited);
  const bundle = await waitFor(
    async () => {
      try {
        const res = await fetch(`${viteURL}${prefix}ctx/list/?list_id=2`);
        const b = res.ok ? await res.json() : undefined;
        return b && 'list_count' in b ? b : undefined;
      } catch {
        return undefined;
      }
    },
    120_000,
    () => `the restarted server to answer list_count:\n${out.text}`,
  );
  assert.deepEqual(bundle, { list_count: 1, list_items: [{ id: 1, list_id: 2, title: 'Through the proxy' }] });
  const types = readFileSync(join(app, 'web/src/gen/types.ts'), 'utf8');
  assert.match(types, /list_count: ListCountResult;/, 'web/src/gen was not regenerated');
  assert.match(out.text, /mizan dev: main\.go changed; rebuilding/);
  await page.screenshot({ path: join(results, 'new-project-dev.png') });
  assert.deepEqual(w.errors, []);
  await page.close();

  // One Ctrl+C: SIGINT to the foreground group (make, go tool, mizan dev).
  log('Ctrl+C');
  process.kill(-dev.pid, 'SIGINT');
  let timer;
  const result = await Promise.race([devExit, new Promise((r) => (timer = setTimeout(() => r('timeout'), 30_000)))]);
  clearTimeout(timer);
  assert.notEqual(result, 'timeout', `make dev did not exit within 30 s of SIGINT:\n${out.text}`);
  // make exits at once on SIGINT; what it ran (go tool, mizan dev) got
  // the same SIGINT and mizan dev stops its children, each in a group of
  // its own: Vite (and its esbuild) and the server. Within a few seconds
  // none of them is left.
  const leftovers = () =>
    execFileSync('ps', ['-eo', 'pid=,pgid=,args='], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => {
        const [pid, pgid] = l.trim().split(/\s+/);
        if (before.has(pid)) return false; // not this test's (another mizan dev on the machine)
        return pgid === String(dev.pid) || l.includes(app) || l.includes('/mizan-dev-');
      });
  let left = leftovers();
  const deadline = Date.now() + 15_000;
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    left = leftovers();
  }
  assert.deepEqual(left, [], 'processes left 15 s after Ctrl+C');
  assert.match(out.text, /mizan dev: stopping/);
  const vitePort = Number(new URL(viteURL).port);
  assert.ok(await refused(port), 'the Go server still listens after Ctrl+C');
  assert.ok((await refused(vitePort)) && (await refused(vitePort, '::1')), 'Vite still listens after Ctrl+C');
  log(`make dev exited (${JSON.stringify(result)})`);
});
