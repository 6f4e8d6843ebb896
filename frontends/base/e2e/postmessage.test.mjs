// End-to-end test of the postMessage transport in headless Chromium:
//
//   node --test --test-reporter=spec frontends/base/e2e/postmessage.test.mjs
//
// It builds and starts the Go fixture (docs/spec.md §7), and three small
// HTTP servers on three loopback origins (127.0.0.1, one port each):
//
// - the host: a page that embeds the frame, bundles @mizan/base's
//   httpTransport and servePostMessage (src/postmessage-host.ts), and
//   proxies /api/mizan/ to the fixture, so that the API is same-origin
//   with it (the fixture sends no CORS headers);
// - the frame: a page whose MizanClient talks to window.parent through
//   postMessageTransport (src/postmessage.ts);
// - an intruder: another frame of the host page, on an origin the host
//   does not allow, that sends requests to the host and forged pushes to
//   the frame.
//
// The frame fetches the fixture's `user` context, calls update_profile,
// and the instance is refetched once the targets come back; server errors
// arrive with their code, status and fields; a host push refetches; the
// intruder's messages are ignored on both sides.
//
// Environment: CHROMIUM_PATH (default /usr/bin/chromium). playwright-core
// is taken from frontends/node_modules when it is installed there, else
// from examples/taskboard/web/node_modules. Without Chromium,
// playwright-core or Go the test is skipped, except under CI=true, where
// it fails.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const base = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const root = resolve(base, '../..');
const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ci = ['true', '1'].includes((process.env.CI ?? '').toLowerCase());
const prefix = '/api/mizan/';

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

/** loadPlaywright imports playwright-core from frontends, else from the taskboard example. */
async function loadPlaywright() {
  for (const from of [join(base, 'package.json'), join(root, 'examples/taskboard/web/package.json')]) {
    try {
      const path = createRequire(from).resolve('playwright-core');
      const mod = await import(pathToFileURL(path).href);
      return mod.chromium ? mod : mod.default; // a CommonJS module
    } catch {
      // next
    }
  }
  return undefined;
}

/** findGo returns the go command: on PATH, else in GOROOT or /usr/local/go. */
function findGo() {
  const candidates = ['go'];
  if (process.env.GOROOT) candidates.push(join(process.env.GOROOT, 'bin', 'go'));
  candidates.push('/usr/local/go/bin/go');
  return candidates.find((c) => (c === 'go' || existsSync(c)) && spawnSync(c, ['version'], { stdio: 'ignore' }).status === 0);
}

const playwright = await loadPlaywright();
const go = findGo();
const missing = [
  !existsSync(chromiumPath) && `no Chromium at ${chromiumPath} (apt-get install chromium)`,
  !playwright && 'no playwright-core (npm install in examples/taskboard/web, or add it to frontends devDependencies)',
  !go && 'no Go toolchain',
].filter(Boolean);
if (missing.length && ci) throw new Error(`postmessage e2e: ${missing.join('; ')}; CI=true requires it to run`);
const skip = missing.length ? missing.join('; ') : false;

/** The requests the host's proxy relayed to the fixture: "GET ctx/user/?user_id=1", "POST call/ update_profile". */
const relayed = [];
let tmp, fixture, fixtureUrl, browser, page;
const servers = [];
const origins = {};
const bundles = {};

/** startFixture builds and runs the Go fixture, resolving with its origin. */
async function startFixture() {
  const bin = join(tmp, 'fixture');
  const built = spawnSync(go, ['build', '-o', bin, './conformance/fixture'], { cwd: root, encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`go build ./conformance/fixture failed:\n${built.stderr || built.error?.message}`);
  const env = { ...process.env };
  for (const k of ['MIZAN_CACHE_SECRET', 'MIZAN_CACHE_REDIS_URL', 'MIZAN_PUBSUB_REDIS_URL']) delete env[k];
  fixture = spawn(bin, ['-addr', '127.0.0.1:0'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  fixture.stderr.setEncoding('utf8').on('data', (s) => (err += s));
  return new Promise((resolveURL, reject) => {
    const timer = setTimeout(() => reject(new Error(`the fixture did not start in 15 s:\n${out}${err}`)), 15_000);
    fixture.stdout.setEncoding('utf8').on('data', (s) => {
      out += s;
      const m = /^mizan fixture listening on (http:\/\/\S+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolveURL(m[1]);
      }
    });
    fixture.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the fixture exited with ${code}:\n${out}${err}`));
    });
  });
}

/** bundle builds one page script from @mizan/base's sources with esbuild. */
async function bundle(contents) {
  const { build } = await import('esbuild');
  const out = await build({
    stdin: { contents, resolveDir: base, loader: 'ts' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'error',
  });
  return out.outputFiles[0].text;
}

const html = (body) => `<!doctype html><html><head><meta charset="utf-8"><title>mizan postmessage</title></head><body>${body}</body></html>`;

/** listen starts a server on a free loopback port and resolves with its origin. */
function listen(handler) {
  const server = createServer(handler);
  servers.push(server);
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(`http://127.0.0.1:${server.address().port}`)));
}

function send(res, status, type, body) {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
  res.end(body);
}

/** proxy relays a request under the prefix to the fixture, recording it. */
function proxy(req, res) {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const path = req.url.slice(prefix.length);
    let fn = '';
    try {
      fn = body.length ? ' ' + JSON.parse(body.toString()).fn : '';
    } catch {
      // not JSON: the fixture answers it
    }
    relayed.push(`${req.method} ${path}${fn}`);
    const target = new URL(req.url, fixtureUrl);
    const headers = { ...req.headers, host: target.host };
    const up = httpRequest(target, { method: req.method, headers }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on('error', (e) => send(res, 502, 'text/plain', String(e)));
    up.end(body);
  });
}

before(async () => {
  if (skip) return;
  tmp = mkdtempSync(join(tmpdir(), 'mizan-postmessage-e2e-'));
  fixtureUrl = await startFixture();

  bundles.host = await bundle(`
    import { httpTransport } from './src/index.ts';
    import { servePostMessage } from './src/postmessage-host.ts';
    const cfg = JSON.parse(document.getElementById('cfg').textContent);
    const frame = document.getElementById('app');
    // The API is same-origin with the host page (proxied to the fixture).
    window.host = servePostMessage({ source: frame.contentWindow, allowedOrigins: [cfg.frame], transport: httpTransport() });
  `);
  bundles.frame = await bundle(`
    import { MizanClient, MizanError } from './src/index.ts';
    import { postMessageTransport } from './src/postmessage.ts';
    const cfg = JSON.parse(document.getElementById('cfg').textContent);
    const transport = postMessageTransport({ target: window.parent, targetOrigin: cfg.host, timeoutMs: cfg.timeoutMs });
    const client = new MizanClient({ transport, retry: { attempts: 0 } });
    const errorOf = (e) => (e instanceof MizanError ? { mizanError: true, code: e.code, status: e.status, message: e.message, fields: e.fields } : { other: String(e) });
    const until = (inst, cond, ms = 5000) =>
      new Promise((ok, fail) => {
        const t = setTimeout(() => (un(), fail(new Error('timed out: ' + JSON.stringify(inst.getSnapshot())))), ms);
        const check = () => {
          if (cond(inst.getSnapshot())) {
            clearTimeout(t);
            queueMicrotask(() => un());
            ok(inst.getSnapshot());
          }
        };
        const un = inst.subscribe(check);
        check();
      });
    window.mizanTest = {
      client,
      // Subscribes to user 1 (kept on screen), calls update_profile, and waits for the refetch.
      async fetchCallRefetch(name) {
        const inst = client.instance('user', { user_id: 1 });
        window.keep ??= inst.subscribe(() => {});
        const before = (await until(inst, (s) => s.status === 'success')).data;
        const r = await client.call('update_profile', { user_id: 1, name });
        const after = (await until(inst, (s) => s.status === 'success' && !s.stale && s.data.user_profile.name === name)).data;
        return { before, r, after };
      },
      async errors() {
        return {
          notFound: await client.fetchContext('user', { user_id: 999 }).then(() => 'resolved', errorOf),
          invalidArgs: await client.call('update_profile', { user_id: 'x', name: 1 }).then(() => 'resolved', errorOf),
          conflict: await client.call('fail').then(() => 'resolved', errorOf),
        };
      },
      name: () => client.instance('user', { user_id: 1 }).getSnapshot().data?.user_profile.name,
      // What a frame the host does not allow gets: nothing, until its timeout.
      async intrude() {
        return {
          call: await client.call('update_profile', { user_id: 2, name: 'Mallory' }).then((r) => ({ resolved: r }), errorOf),
          ctx: await client.fetchContext('user', { user_id: 2 }).then((r) => ({ resolved: r }), errorOf),
        };
      },
      // Forged pushes and replies to the allowed frame (window.parent.frames[0]).
      forge() {
        const app = window.parent.frames[0];
        app.postMessage({ mizan: 1, kind: 'invalidate', targets: ['user'] }, '*');
        for (const id of ['0', '1', '2']) app.postMessage({ mizan: 1, id, kind: 'result', result: { forged: true } }, '*');
        // A raw request to the host, bypassing the kernel.
        window.parent.postMessage({ mizan: 1, id: 'raw', kind: 'call', fn: 'update_profile', args: { user_id: 3, name: 'Raw' } }, '*');
      },
    };
    document.title = 'ready';
  `);

  // Three origins: the servers share one handler, told apart by their origin.
  const handle = (which) => (req, res) => {
    const url = new URL(req.url, 'http://x');
    if (which === 'host' && url.pathname.startsWith(prefix)) return proxy(req, res);
    if (which === 'host' && url.pathname === '/') {
      const cfg = JSON.stringify({ frame: origins.frame });
      return send(
        res,
        200,
        'text/html',
        html(
          `<script type="application/json" id="cfg">${cfg}</script>` +
            `<iframe id="app" name="app" src="${origins.frame}/frame.html"></iframe>` +
            `<iframe id="intruder" name="intruder" src="${origins.intruder}/frame.html?timeout=400"></iframe>` +
            `<script type="module" src="/host.js"></script>`,
        ),
      );
    }
    if (which === 'host' && url.pathname === '/host.js') return send(res, 200, 'text/javascript', bundles.host);
    if (which !== 'host' && url.pathname === '/frame.html') {
      const cfg = JSON.stringify({ host: origins.host, timeoutMs: Number(url.searchParams.get('timeout') ?? 5000) });
      return send(res, 200, 'text/html', html(`<script type="application/json" id="cfg">${cfg}</script><script type="module" src="/frame.js"></script>`));
    }
    if (which !== 'host' && url.pathname === '/frame.js') return send(res, 200, 'text/javascript', bundles.frame);
    send(res, 404, 'text/plain', 'not found');
  };
  origins.host = await listen(handle('host'));
  origins.frame = await listen(handle('frame'));
  origins.intruder = await listen(handle('intruder'));

  browser = await playwright.chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, headless: true, timeout: 60_000 });
  page = await browser.newPage();
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (e) => console.error('page error:', e));
  await page.goto(origins.host + '/');
  for (const o of [origins.frame, origins.intruder]) {
    await frameOf(o).waitForFunction(() => document.title === 'ready');
  }
});

after(async () => {
  await browser?.close();
  for (const s of servers) s.close();
  if (fixture && fixture.exitCode === null) {
    const exited = new Promise((ok) => fixture.once('exit', ok));
    fixture.kill('SIGTERM');
    await exited;
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** frameOf returns the page's frame loaded from origin. */
function frameOf(origin) {
  const f = page.frames().find((fr) => fr.url().startsWith(origin + '/'));
  assert.ok(f, `no frame from ${origin}: ${page.frames().map((fr) => fr.url())}`);
  return f;
}

const count = (entry) => relayed.filter((r) => r === entry).length;

test('the frame fetches a context, calls a mutation and refetches the instance its targets hit', { skip }, async () => {
  const app = frameOf(origins.frame);
  const { before, r, after } = await app.evaluate(() => window.mizanTest.fetchCallRefetch('Ryth'));
  assert.deepEqual(before.user_profile, { id: 1, name: 'Ada', email: 'ada@example.com' });
  assert.equal(before.user_orders.length, 2);
  assert.deepEqual(r.result, { ok: true });
  assert.deepEqual(r.invalidate, [{ context: 'user', params: { user_id: 1 } }]);
  assert.deepEqual(after.user_profile, { id: 1, name: 'Ryth', email: 'ada@example.com' });
  // Through the host's proxy: the session once, the fetch, the call, the refetch.
  assert.deepEqual(relayed, ['GET ctx/user/?user_id=1', 'GET session/', 'POST call/ update_profile', 'GET ctx/user/?user_id=1']);
  // The host page itself made the requests (same-origin with the API); the frame made none.
  const res = await fetch(`${fixtureUrl}${prefix}ctx/user/?user_id=1`);
  assert.equal((await res.json()).user_profile.name, 'Ryth');
});

test("the server's errors reach the frame with their code, status and fields", { skip }, async () => {
  const errs = await frameOf(origins.frame).evaluate(() => window.mizanTest.errors());
  assert.deepEqual(
    { ...errs.notFound, message: undefined },
    { mizanError: true, code: 'not_found', status: 404, message: undefined, fields: undefined },
  );
  assert.equal(errs.invalidArgs.mizanError, true);
  assert.equal(errs.invalidArgs.code, 'invalid_args');
  assert.equal(errs.invalidArgs.status, 400);
  assert.equal(typeof errs.invalidArgs.fields?.user_id, 'string', JSON.stringify(errs.invalidArgs));
  assert.equal(typeof errs.invalidArgs.fields?.name, 'string', JSON.stringify(errs.invalidArgs));
  assert.deepEqual({ code: errs.conflict.code, status: errs.conflict.status }, { code: 'conflict', status: 409 });
});

test("the host's invalidate refetches the frame's matching instance", { skip }, async () => {
  const n = count('GET ctx/user/?user_id=1');
  await page.evaluate(() => window.host.invalidate([{ context: 'user', params: { user_id: 2 } }]));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(count('GET ctx/user/?user_id=1'), n, 'a target for user 2 does not hit user 1');
  await page.evaluate(() => window.host.invalidate([{ context: 'user', params: { user_id: 1 } }]));
  const end = Date.now() + 5000;
  while (count('GET ctx/user/?user_id=1') === n && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  assert.equal(count('GET ctx/user/?user_id=1'), n + 1);
});

test('messages of a frame on an origin the host does not allow are ignored, both ways', { skip }, async () => {
  const intruder = frameOf(origins.intruder);
  const app = frameOf(origins.frame);
  const before = relayed.length;
  // Its kernel's requests get no reply: they time out (code network).
  const got = await intruder.evaluate(() => window.mizanTest.intrude());
  assert.deepEqual({ code: got.call.code, status: got.call.status }, { code: 'network', status: 0 }, JSON.stringify(got));
  assert.equal(got.ctx.code, 'network', JSON.stringify(got));
  // Forged pushes and replies to the allowed frame, a raw request to the host.
  await intruder.evaluate(() => window.mizanTest.forge());
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(relayed.slice(before), [], 'nothing was relayed for the intruder, and the forged push refetched nothing');
  assert.equal(await app.evaluate(() => window.mizanTest.name()), 'Ryth');
  for (const id of [2, 3]) {
    const res = await fetch(`${fixtureUrl}${prefix}ctx/user/?user_id=${id}`);
    assert.equal((await res.json()).user_profile.name, id === 2 ? 'Grace' : 'Lin');
  }
});
