// A tiny origin for the integration tests, speaking the parts of the
// protocol the edge relies on: context fetches and pages with a counter in
// the body and X-Mizan-Identity / X-Mizan-Instance, call/ answering with
// X-Mizan-Invalidate, and a WebSocket upgrade (a hand-written 101 and one
// text frame). Identity: `Authorization: Bearer <id>` or the session
// cookie `mizan_session=<id>`, else anonymous.
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** The manifest the tests run the edge with. */
export const manifest = {
  contexts: {
    user: {
      endpoints: ['/api/mizan/ctx/user/'],
      params: ['user_id'],
      filters: [],
      user_scoped: true,
      render_strategy: 'dynamic_cached',
      page_routes: [],
      shared: false,
      rev: 0,
    },
    global: {
      endpoints: ['/api/mizan/ctx/global/'],
      params: [],
      user_scoped: false,
      render_strategy: 'psr',
      shared: false,
      rev: 0,
    },
    task: {
      endpoints: ['/api/mizan/ctx/task/'],
      params: ['task_id'],
      render_strategy: 'psr',
      shared: true,
      rev: 2,
      cache_ttl: 30,
    },
    liar: { endpoints: ['/api/mizan/ctx/liar/'], params: [], render_strategy: 'psr', shared: true },
    team: { endpoints: ['/api/mizan/ctx/team/'], params: [], render_strategy: 'psr', shared: true, guard: 'caller' },
    office: { endpoints: ['/api/mizan/ctx/office/'], params: [], render_strategy: 'psr', shared: true, guard: 'request' },
    search: { endpoints: ['/api/mizan/ctx/search/'], params: ['q'], render_strategy: 'psr', shared: true },
    page: { endpoints: [], params: ['id'], render_strategy: 'psr', page_routes: ['/p/{id}/'], shared: true },
  },
  mutations: {
    update_profile: { affects: ['user'], auto_scoped_params: ['user_id'], caller_scoped: [] },
    update_my_name: { affects: ['global', 'user'], auto_scoped_params: [], caller_scoped: ['global'] },
    bad_header: { affects: ['task'], auto_scoped_params: [], caller_scoped: [] },
    touch_page: { affects: ['page'], auto_scoped_params: ['id'], caller_scoped: [], route: '/p/{id}/touch/', methods: ['POST'] },
  },
};

/** A running origin. */
export interface Origin {
  url: string;
  /** How many times each context / page was computed. */
  hits: Map<string, number>;
  /** What the last request to a path saw. */
  seen: Map<string, http.IncomingHttpHeaders>;
  close(): Promise<void>;
}

function who(req: http.IncomingMessage): string {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7);
  const m = /(?:^|;\s*)mizan_session=([^;]+)/.exec(req.headers.cookie ?? '');
  return m ? m[1]! : 'anonymous';
}

const enc = (v: string) => encodeURIComponent(v).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());

/** startOrigin listens on a random loopback port. */
export async function startOrigin(): Promise<Origin> {
  const hits = new Map<string, number>();
  const seen = new Map<string, http.IncomingHttpHeaders>();
  const bump = (k: string) => {
    const n = (hits.get(k) ?? 0) + 1;
    hits.set(k, n);
    return n;
  };
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://origin');
    seen.set(u.pathname, req.headers);
    const caller = who(req);
    res.setHeader('Cache-Control', 'no-store');
    const ctx = /^\/api\/mizan\/ctx\/([a-z]+)\/$/.exec(u.pathname);
    if (req.method === 'GET' && ctx) {
      const c = ctx[1]!;
      const params = Object.fromEntries([...u.searchParams].map(([k, v]) => [k, /^\d+$/.test(v) ? String(Number(v)) : v]));
      const inst = [c, ...Object.keys(params).sort().map((k) => `${k}=${enc(params[k]!)}`)].join(';');
      const n = bump(c + '?' + new URLSearchParams(params).toString() + '@' + caller);
      res.setHeader('X-Mizan-Identity', c === 'liar' ? 'someone-else' : caller);
      res.setHeader('X-Mizan-Instance', inst);
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ c, params, n, who: caller }));
      return;
    }
    const page = /^\/p\/([0-9]+)\/$/.exec(u.pathname);
    if (req.method === 'GET' && page) {
      const n = bump('page' + page[1] + u.search + '@' + caller);
      res.setHeader('X-Mizan-Identity', caller);
      res.setHeader('X-Mizan-Instance', `page;id=${page[1]}`);
      res.setHeader('Content-Type', 'text/html');
      res.end(`<p>page ${page[1]} n=${n} for ${caller}</p>`);
      return;
    }
    if (req.method === 'POST' && /^\/p\/[0-9]+\/touch\/$/.test(u.pathname)) {
      res.setHeader('X-Mizan-Identity', caller);
      res.setHeader('X-Mizan-Invalidate', `page;id=${u.pathname.split('/')[2]}`);
      res.statusCode = 302;
      res.setHeader('Location', u.pathname.replace('touch/', ''));
      res.end();
      return;
    }
    if (u.pathname === '/stream/') {
      // Streams both ways: echoes each request chunk as it arrives, after
      // a first chunk of its own, and ends when the request body ends.
      res.setHeader('Content-Type', 'text/plain');
      res.write('first;');
      req.on('data', (c: Buffer) => res.write('echo:' + c.toString() + ';'));
      req.on('end', () => res.end('end'));
      return;
    }
    if (req.method === 'POST' && u.pathname === '/api/mizan/call/') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const { fn, args } = JSON.parse(Buffer.concat(chunks).toString()) as { fn: string; args: Record<string, unknown> };
        const header =
          fn === 'update_profile'
            ? `user;user_id=${String(args.user_id)}`
            : fn === 'update_my_name'
              ? `global, user;user_id=${caller}`
              : fn === 'bad_header'
                ? 'task;;'
                : null;
        res.setHeader('X-Mizan-Identity', caller);
        if (header) res.setHeader('X-Mizan-Invalidate', header);
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ result: { ok: true, fn }, invalidate: [] }));
      });
      return;
    }
    res.setHeader('X-Mizan-Identity', caller);
    res.setHeader('X-Mizan-Instance', 'user;user_id=1');
    res.setHeader('Content-Type', 'text/plain');
    res.end(`${req.method} ${u.pathname}${u.search} as ${caller}`);
  });
  const upgraded = new Set<import('node:stream').Duplex>();
  server.on('upgrade', (req: http.IncomingMessage, socket) => {
    upgraded.add(socket);
    socket.on('close', () => upgraded.delete(socket));
    const key = req.headers['sec-websocket-key'] ?? '';
    const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${accept}\r\nX-Mizan-Identity: anonymous\r\n\r\n`,
    );
    const msg = Buffer.from('hello from origin');
    socket.write(Buffer.concat([Buffer.from([0x81, msg.length]), msg]));
    socket.on('error', () => {});
    socket.on('data', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        for (const s of upgraded) s.destroy();
        server.close(() => resolve());
      }),
  };
}
