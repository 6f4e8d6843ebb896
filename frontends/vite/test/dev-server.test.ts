// A real `vite dev` server with the plugin, in front of a small Node HTTP
// server standing in for the Go one: requests under /api/mizan/ (GET, POST
// with a body, and the ws/ WebSocket upgrade) reach the backend with the
// browser's Host and Origin unchanged; other paths stay Vite's; a backend
// that does not answer gives 502 with a Mizan error envelope. The project
// is the linked-package fixture, so this also shows that in dev the linked
// @mizan/react is served (not refused by server.fs.allow) and imports the
// same react module as the app.
import { createServer as createHTTPServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createServer, type ViteDevServer } from 'vite';
import mizan from '../src/index.js';
import { linkedFixture, type Fixture } from './fixture.js';

let fx: Fixture;
let backend: Server;
let backendURL: string;
let vite: ViteDevServer;
let viteURL: string;
/** The backend's upgraded sockets, which server.close() does not end. */
const upgraded = new Set<Socket>();
/** Requests the backend received. */
const seen: { method: string; url: string; host: string; origin: string; body: string }[] = [];

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

beforeAll(async () => {
  fx = linkedFixture();
  backend = createHTTPServer(async (req, res) => {
    const body = await readBody(req);
    seen.push({ method: req.method ?? '', url: req.url ?? '', host: req.headers.host ?? '', origin: req.headers.origin ?? '', body });
    res.writeHead(200, { 'Content-Type': 'application/json', 'X-Mizan-Invalidate': 'board;board_id=1' });
    res.end(JSON.stringify({ result: { method: req.method, url: req.url, body } }));
  });
  // The ws/ endpoint: accept the upgrade, then echo what arrives, prefixed,
  // so the test sees bytes cross the proxy both ways.
  backend.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    upgraded.add(socket);
    seen.push({ method: 'UPGRADE', url: req.url ?? '', host: req.headers.host ?? '', origin: req.headers.origin ?? '', body: '' });
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    socket.on('data', (b: Buffer) => socket.write(`echo:${b.toString()}`));
  });
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  backendURL = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;

  vite = await createServer({
    root: fx.app,
    configFile: false,
    logLevel: 'silent',
    plugins: [mizan({ target: backendURL })],
    server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false },
    optimizeDeps: { noDiscovery: true, include: [] },
  });
  await vite.listen();
  viteURL = `http://127.0.0.1:${(vite.httpServer?.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await vite?.close();
  for (const s of upgraded) s.destroy();
  backend?.closeAllConnections();
  await new Promise((r) => backend?.close(r));
  fx?.remove();
});

describe('the proxy', () => {
  test('GET ctx/ reaches the backend with path, query, Host and Origin unchanged; its headers come back', async () => {
    const res = await fetch(`${viteURL}/api/mizan/ctx/board/?board_id=1`, { headers: { Origin: viteURL } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mizan-invalidate')).toBe('board;board_id=1');
    expect(await res.json()).toEqual({ result: { method: 'GET', url: '/api/mizan/ctx/board/?board_id=1', body: '' } });
    const req = seen.at(-1);
    expect(req?.host).toBe(new URL(viteURL).host);
    expect(req?.origin).toBe(viteURL);
  });

  test('POST call/ carries its body', async () => {
    const body = JSON.stringify({ fn: 'add_task', args: { board_id: 1, title: 'hi' } });
    const res = await fetch(`${viteURL}/api/mizan/call/`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body,
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ result: { method: 'POST', url: '/api/mizan/call/', body } });
  });

  test('paths outside the prefix are Vite’s', async () => {
    const before = seen.length;
    const res = await fetch(`${viteURL}/api/other/`);
    await res.text();
    const page = await fetch(`${viteURL}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<div id="out">');
    expect(seen.length).toBe(before);
  });

  test('the ws/ WebSocket upgrade is proxied, and bytes flow both ways', async () => {
    const { port } = new URL(viteURL);
    const socket = connect(Number(port), '127.0.0.1');
    const got = await new Promise<string>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new Error(`no echo through the proxy; got ${JSON.stringify(text)}`)), 10_000);
      socket.on('error', reject);
      socket.on('data', (b: Buffer) => {
        text += b.toString();
        if (text.includes('\r\n\r\n') && !text.includes('echo:')) socket.write('hello');
        if (text.includes('echo:hello')) {
          clearTimeout(timer);
          resolve(text);
        }
      });
      socket.write(
        [
          'GET /api/mizan/ws/ HTTP/1.1',
          `Host: 127.0.0.1:${port}`,
          `Origin: ${viteURL}`,
          'Connection: Upgrade',
          'Upgrade: websocket',
          'Sec-WebSocket-Version: 13',
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
          '',
          '',
        ].join('\r\n'),
      );
    });
    socket.destroy();
    expect(got).toMatch(/^HTTP\/1\.1 101 /);
    const up = seen.find((r) => r.method === 'UPGRADE');
    expect(up).toMatchObject({ url: '/api/mizan/ws/', host: `127.0.0.1:${port}`, origin: viteURL });
  });
});

describe('the linked package in dev', () => {
  /** importsOf returns the specifiers of a served module's import statements. */
  const importsOf = (code: string) => [...code.matchAll(/^import .* from "([^"]+)"/gm)].map((m) => m[1]);

  test('it is served, and it imports the same react module as the app', async () => {
    const main = await (await fetch(`${viteURL}/main.js`)).text();
    const [reactOfApp, linked] = importsOf(main);
    expect(reactOfApp).toBeDefined();
    expect(linked).toBeDefined();
    const res = await fetch(`${viteURL}${linked}`);
    expect(res.status).toBe(200);
    const [reactOfLinked] = importsOf(await res.text());
    expect(reactOfLinked).toBe(reactOfApp);
    // Root-relative: the app's own node_modules (the linked package's copy
    // would be /@fs/…/mizan-react/node_modules/react/index.js).
    expect(reactOfApp).toBe('/node_modules/react/index.js');
  });
});

describe('a backend that does not answer', () => {
  test('gives 502 with a Mizan error envelope', async () => {
    const server = await createServer({
      root: fx.app,
      configFile: false,
      logLevel: 'silent',
      plugins: [mizan({ target: 'http://127.0.0.1:9' })], // discard: nothing listens there
      server: { host: '127.0.0.1', port: 0, hmr: false },
      optimizeDeps: { noDiscovery: true, include: [] },
    });
    await server.listen();
    try {
      const url = `http://127.0.0.1:${(server.httpServer?.address() as AddressInfo).port}`;
      const res = await fetch(`${url}/api/mizan/ctx/board/`);
      expect(res.status).toBe(502);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('unavailable');
      expect(body.error.message).toContain('http://127.0.0.1:9');
    } finally {
      await server.close();
    }
  });
});
