// The edge in real workerd, through Miniflare, started exactly as
// `mizan-edge dev` starts it (lib/dev.mjs): two locations with a cache each,
// one Durable Object namespace shared by both, in front of a Node origin.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEdge, type RunningEdge } from '../lib/dev.mjs';
import { contextKey } from '../src/keys.js';
import { mwt, purgeHeaders } from './helpers.js';
import { manifest, startOrigin, type Origin } from './origin.js';

const secrets = {
  mwt: 'mwt-secret-32-bytes-long-0000000',
  key: 'key-secret-32-bytes-long-0000000',
  purge: 'purge-secret-32-bytes-long-00000',
};

let origin: Origin;
let edge: RunningEdge;
let logs = '';
const loc = (i: number) => edge.directURLs[i]!;

beforeAll(async () => {
  origin = await startOrigin();
  edge = await startEdge({
    origin: origin.url,
    manifest: JSON.stringify(manifest),
    secrets,
    locations: 2,
    port: 0,
    stdio: (out, err) => {
      out.on('data', (b: Buffer) => (logs += b.toString()));
      err.on('data', (b: Buffer) => (logs += b.toString()));
    },
  });
});

afterAll(async () => {
  await edge?.dispose();
  await origin?.close();
});

interface Got {
  status: number;
  edge: string | null;
  headers: Headers;
  text: string;
  json: () => { n: number; who: string };
}

async function get(i: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Got> {
  const res = await fetch(new URL(path, loc(i)), { method, headers, redirect: 'manual' });
  const text = await res.text();
  return { status: res.status, edge: res.headers.get('x-mizan-edge'), headers: res.headers, text, json: () => JSON.parse(text) };
}

async function call(i: number, fn: string, args: Record<string, unknown>, headers: Record<string, string> = {}) {
  const res = await fetch(new URL('/api/mizan/call/', loc(i)), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify({ fn, args }),
  });
  await res.arrayBuffer();
  return res;
}

async function purge(i: number, body: string, headers: Record<string, string>) {
  const res = await fetch(new URL('/__mizan/purge', loc(i)), { method: 'POST', headers, body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** as returns the headers of a signed-in caller: credentials and a valid MWT. */
const as = (id: string) => ({ Authorization: `Bearer ${id}`, 'X-Mizan-Token': mwt(id, secrets.mwt) });

describe('the edge in workerd, two locations', () => {
  it('miss then hit at location 0, miss then hit at location 1', async () => {
    const a = await get(0, '/api/mizan/ctx/user/?user_id=1');
    expect(a.status).toBe(200);
    expect(a.edge).toBe('miss');
    expect(a.headers.get('x-mizan-identity')).toBeNull();
    expect(a.headers.get('x-mizan-instance')).toBeNull();
    expect(a.headers.get('cache-control')).toBe('no-store');
    const b = await get(0, '/api/mizan/ctx/user/?user_id=1');
    expect(b.edge).toBe('hit');
    expect(b.json().n).toBe(a.json().n);
    expect(b.headers.get('cache-control')).toBe('no-store');
    expect(b.headers.get('content-type')).toBe('application/json');
    expect(b.headers.get('x-mizan-identity')).toBeNull();
    expect(b.headers.get('x-mizan-edge-meta')).toBeNull();
    const c = await get(1, '/api/mizan/ctx/user/?user_id=1');
    expect(c.edge).toBe('miss');
    expect(c.json().n).toBe(a.json().n + 1);
    expect((await get(1, '/api/mizan/ctx/user/?user_id=1')).edge).toBe('hit');
    // HEAD of a stored entry: a hit without a body.
    const h = await get(0, '/api/mizan/ctx/user/?user_id=1', {}, 'HEAD');
    expect(h.edge).toBe('hit');
    expect(h.text).toBe('');
  });

  it('a mutation through location 0 purges at both locations; other instances stay hits', async () => {
    for (const i of [0, 1]) {
      for (const id of ['11', '12']) {
        await get(i, `/api/mizan/ctx/user/?user_id=${id}`);
        expect((await get(i, `/api/mizan/ctx/user/?user_id=${id}`)).edge).toBe('hit');
      }
    }
    const res = await call(0, 'update_profile', { user_id: 11 });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mizan-edge')).toBe('bypass');
    expect(res.headers.get('x-mizan-invalidate')).toBe('user;user_id=11');
    expect(res.headers.get('x-mizan-identity')).toBeNull();
    expect(res.headers.get('x-mizan-edge-purge')).toBeNull();
    for (const i of [0, 1]) {
      expect((await get(i, '/api/mizan/ctx/user/?user_id=11')).edge).toBe('miss');
      expect((await get(i, '/api/mizan/ctx/user/?user_id=12')).edge).toBe('hit');
    }
    // The origin normalizes ?user_id=011 to instance user_id=11: that entry is purged too.
    await get(0, '/api/mizan/ctx/user/?user_id=011');
    expect((await get(0, '/api/mizan/ctx/user/?user_id=011')).edge).toBe('hit');
    await call(1, 'update_profile', { user_id: 11 });
    expect((await get(0, '/api/mizan/ctx/user/?user_id=011')).edge).toBe('miss');
  });

  it('a signed purge post purges at both locations; replays, bad signatures and bad bodies are refused', async () => {
    for (const i of [0, 1]) {
      await get(i, '/api/mizan/ctx/task/?task_id=5');
      await get(i, '/api/mizan/ctx/task/?task_id=6');
      expect((await get(i, '/api/mizan/ctx/task/?task_id=5')).edge).toBe('hit');
    }
    const body = JSON.stringify({ id: 'p1', targets: [{ context: 'task', params: { task_id: 5 } }], mutation: '', caller: null });
    const headers = purgeHeaders(secrets.purge, body);
    expect(await purge(1, body, headers)).toEqual({ status: 200, body: { purged: 1 } });
    for (const i of [0, 1]) {
      expect((await get(i, '/api/mizan/ctx/task/?task_id=5')).edge).toBe('miss');
      expect((await get(i, '/api/mizan/ctx/task/?task_id=6')).edge).toBe('hit');
    }
    // The same post again, at either location: 409 replayed.
    const again = await purge(0, body, headers);
    expect(again.status).toBe(409);
    expect(again.body).toEqual({ error: { code: 'replayed', message: expect.any(String) } });
    // Wrong signature, stale timestamp, none: 401, the input never echoed.
    const wrong = await purge(0, body, { ...headers, 'X-Mizan-Signature': 'v1=' + '0'.repeat(64) });
    expect(wrong.status).toBe(401);
    expect((wrong.body.error as { code: string }).code).toBe('unauthorized');
    expect(JSON.stringify(wrong.body)).not.toContain('task');
    const stale = purgeHeaders(secrets.purge, body, Math.floor(Date.now() / 1000) - 301);
    expect((await purge(0, body, stale)).status).toBe(401);
    expect((await purge(0, body, { 'Content-Type': 'application/json' })).status).toBe(401);
    // A signed body that is not a purge: 400.
    const bad = JSON.stringify({ id: 'p2', targets: [{ params: {} }], mutation: '', caller: null });
    const badRes = await purge(0, bad, purgeHeaders(secrets.purge, bad));
    expect(badRes.status).toBe(400);
    expect((badRes.body.error as { code: string }).code).toBe('invalid_args');
    // A function-level target purges its context's instances.
    const fnBody = JSON.stringify({ id: 'p3', targets: [{ context: 'task', function: 'task_detail', params: { task_id: 6 } }], mutation: '', caller: null });
    expect((await purge(0, fnBody, purgeHeaders(secrets.purge, fnBody))).status).toBe(200);
    for (const i of [0, 1]) expect((await get(i, '/api/mizan/ctx/task/?task_id=6')).edge).toBe('miss');
    // Other methods on the purge path.
    expect((await get(0, '/__mizan/purge')).status).toBe(405);
  });

  it('stores a copy for the context’s cache_ttl (or the default), without the origin-only headers', async () => {
    await get(0, '/api/mizan/ctx/task/?task_id=8');
    await get(0, '/api/mizan/ctx/user/?user_id=8');
    const caches = await edge.mf.getCaches();
    const cache = await caches.open('loc0');
    const task = await cache.match(`https://mizan-edge.invalid/${await contextKey(secrets.key, 'task', { task_id: '8' }, 2)}`);
    expect(task).toBeDefined();
    expect(task!.headers.get('cache-control')).toBe('max-age=30');
    expect(task!.headers.get('x-mizan-identity')).toBeNull();
    expect(task!.headers.get('x-mizan-edge-meta')).toMatch(/^[A-Za-z0-9_-]+$/);
    await task!.arrayBuffer();
    const user = await cache.match(`https://mizan-edge.invalid/${await contextKey(secrets.key, 'user', { user_id: '8' }, 0)}`);
    expect(user!.headers.get('cache-control')).toBe('max-age=60');
    await user!.arrayBuffer();
    // Location 1's cache holds neither.
    expect(await (await caches.open('loc1')).match(`https://mizan-edge.invalid/${await contextKey(secrets.key, 'task', { task_id: '8' }, 2)}`)).toBeUndefined();
  });

  it('stores nothing when the origin confirms another identity', async () => {
    const a = await get(0, '/api/mizan/ctx/liar/');
    const b = await get(0, '/api/mizan/ctx/liar/');
    expect([a.edge, b.edge]).toEqual(['miss', 'miss']);
    expect(b.json().n).toBe(a.json().n + 1);
    expect(b.headers.get('x-mizan-identity')).toBeNull();
  });

  it('credentials without a valid MWT bypass the cache; with one, entries are per caller', async () => {
    expect((await get(0, '/api/mizan/ctx/user/?user_id=21', { Authorization: 'Bearer 21' })).edge).toBe('bypass');
    expect((await get(0, '/api/mizan/ctx/user/?user_id=21', { Cookie: 'mizan_session=21' })).edge).toBe('bypass');
    const forged = { Authorization: 'Bearer 21', 'X-Mizan-Token': mwt('21', 'not-the-secret') };
    expect((await get(0, '/api/mizan/ctx/user/?user_id=21', forged)).edge).toBe('bypass');
    const expired = { Authorization: 'Bearer 21', 'X-Mizan-Token': mwt('21', secrets.mwt, -10) };
    expect((await get(0, '/api/mizan/ctx/user/?user_id=21', expired)).edge).toBe('bypass');

    const a = await get(0, '/api/mizan/ctx/user/?user_id=21', as('21'));
    expect(a.edge).toBe('miss');
    expect(a.json().who).toBe('21');
    expect((await get(0, '/api/mizan/ctx/user/?user_id=21', as('21'))).edge).toBe('hit');
    // The MWT in its cookie works as well.
    const cookie = { Cookie: `mizan_session=21; mizan_mwt=${mwt('21', secrets.mwt)}` };
    expect((await get(0, '/api/mizan/ctx/user/?user_id=21', cookie)).edge).toBe('hit');
    // Another caller, and an anonymous one, have entries of their own.
    const b = await get(0, '/api/mizan/ctx/user/?user_id=21', as('22'));
    expect(b.edge).toBe('miss');
    expect(b.json().who).toBe('22');
    const anon = await get(0, '/api/mizan/ctx/user/?user_id=21');
    expect(anon.edge).toBe('miss');
    expect(anon.json().who).toBe('anonymous');
    // A valid MWT without credentials: the origin serves anonymous, which is not the key's caller.
    const lone = { 'X-Mizan-Token': mwt('23', secrets.mwt) };
    expect((await get(0, '/api/mizan/ctx/user/?user_id=21', lone)).edge).toBe('miss');
    expect((await get(0, '/api/mizan/ctx/user/?user_id=21', lone)).edge).toBe('miss');
  });

  it('a caller-scoped mutation purges only the caller’s entries (tier 2)', async () => {
    for (const i of [0, 1]) {
      for (const h of [as('31'), as('32'), {}]) {
        await get(i, '/api/mizan/ctx/global/', h);
        expect((await get(i, '/api/mizan/ctx/global/', h)).edge).toBe('hit');
      }
    }
    await get(0, '/api/mizan/ctx/user/?user_id=31', as('32'));
    expect((await get(0, '/api/mizan/ctx/user/?user_id=31', as('32'))).edge).toBe('hit');
    const res = await call(1, 'update_my_name', { name: 'x' }, as('31'));
    expect(res.headers.get('x-mizan-invalidate')).toBe('global, user;user_id=31');
    for (const i of [0, 1]) {
      expect((await get(i, '/api/mizan/ctx/global/', as('31'))).edge).toBe('miss');
      expect((await get(i, '/api/mizan/ctx/global/', as('32'))).edge).toBe('hit');
      expect((await get(i, '/api/mizan/ctx/global/')).edge).toBe('hit');
    }
    // user is not caller-scoped: its target purges every caller's entry.
    expect((await get(0, '/api/mizan/ctx/user/?user_id=31', as('32'))).edge).toBe('miss');
    // The purge post narrows the same way, from mutation and caller.
    const body = JSON.stringify({ id: 'p4', targets: ['global'], mutation: 'update_my_name', caller: '32' });
    expect((await purge(0, body, purgeHeaders(secrets.purge, body))).status).toBe(200);
    expect((await get(1, '/api/mizan/ctx/global/', as('32'))).edge).toBe('miss');
    expect((await get(1, '/api/mizan/ctx/global/', as('31'))).edge).toBe('hit');
    expect((await get(1, '/api/mizan/ctx/global/')).edge).toBe('hit');
  });

  it('caches psr pages, and a view mutation on a route purges them', async () => {
    const a = await get(0, '/p/1/');
    expect(a.edge).toBe('miss');
    const b = await get(0, '/p/1/');
    expect(b.edge).toBe('hit');
    expect(b.text).toBe(a.text);
    expect(b.headers.get('content-type')).toBe('text/html');
    expect((await get(0, '/p/1/?q=x')).edge).toBe('miss');
    expect((await get(0, '/p/1/?q=x')).edge).toBe('hit');
    expect((await get(0, '/p/1/?a=1&a=2')).edge).toBe('bypass');
    const touch = await fetch(new URL('/p/1/touch/', loc(1)), { method: 'POST', redirect: 'manual' });
    expect(touch.status).toBe(302);
    expect(touch.headers.get('location')).toBe('/p/1/');
    expect(touch.headers.get('x-mizan-edge')).toBe('bypass');
    expect((await get(0, '/p/1/')).edge).toBe('miss');
    expect((await get(0, '/p/1/?q=x')).edge).toBe('miss');
  });

  it('passes other requests through untouched, and refuses to key odd queries', async () => {
    const o = await get(0, '/other/path?x=1&x=2', { Authorization: 'Bearer 9' });
    expect(o.edge).toBe('bypass');
    expect(o.text).toBe('GET /other/path?x=1&x=2 as 9');
    expect(o.headers.get('x-mizan-identity')).toBeNull();
    expect(o.headers.get('x-mizan-instance')).toBeNull();
    expect(origin.seen.get('/other/path')?.['x-forwarded-host']).toBe(loc(0).host);
    expect(origin.seen.get('/other/path')?.['x-mizan-edge-request']).toBe('1');
    const put = await fetch(new URL('/other/put', loc(0)), { method: 'PUT', body: 'data' });
    expect(await put.text()).toBe('PUT /other/put as anonymous');
    expect((await get(0, '/api/mizan/ctx/user/?nope=1')).edge).toBe('bypass');
    expect((await get(0, '/api/mizan/ctx/user/?user_id=1&user_id=2')).edge).toBe('bypass');
    expect((await get(0, '/api/mizan/ctx/user/?user_id=1', { Range: 'bytes=0-1' })).edge).toBe('bypass');
  });

  it('streams bodies both ways: the answer starts before the request body ends', async () => {
    let push!: (s: string) => void;
    let finish!: () => void;
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        push = (s) => c.enqueue(new TextEncoder().encode(s));
        finish = () => c.close();
      },
    });
    push('one');
    const res = await fetch(new URL('/stream/', loc(0)), {
      method: 'POST',
      body,
      duplex: 'half',
    } as RequestInit & { duplex: 'half' });
    expect(res.headers.get('x-mizan-edge')).toBe('bypass');
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let seen = '';
    const until = async (want: string) => {
      while (!seen.includes(want)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${want}: ${seen}`);
        seen += dec.decode(value, { stream: true });
      }
    };
    // The first request chunk came back while the request is still open:
    // neither body was buffered whole.
    await until('echo:one;');
    push('two');
    await until('echo:two;');
    finish();
    await until('end');
    expect(seen).toBe('first;echo:one;echo:two;end');
  });

  it('a guarded shared context is kept per caller; one guarded by a request predicate is passed through', async () => {
    const m = await get(0, '/api/mizan/ctx/team/', as('m1'));
    expect(m.edge).toBe('miss');
    expect((await get(0, '/api/mizan/ctx/team/', as('m1'))).edge).toBe('hit');
    // Shared, but guarded: an anonymous caller or another member never
    // gets m1's entry (the origin decides whom to let read it).
    const anon = await get(0, '/api/mizan/ctx/team/');
    expect(anon.edge).toBe('miss');
    expect(anon.json().who).toBe('anonymous');
    const other = await get(0, '/api/mizan/ctx/team/', as('m2'));
    expect(other.edge).toBe('miss');
    expect(other.json().who).toBe('m2');
    for (let i = 0; i < 2; i++) expect((await get(0, '/api/mizan/ctx/office/', as('m1'))).edge).toBe('bypass');
  });

  it('pages are kept per caller: a view may read the caller even in a shared context', async () => {
    const a = await get(1, '/p/7/', as('v1'));
    expect(a.text).toContain('for v1');
    expect((await get(1, '/p/7/', as('v1'))).edge).toBe('hit');
    const anon = await get(1, '/p/7/');
    expect(anon.edge).toBe('miss');
    expect(anon.text).toContain('for anonymous');
  });

  it('keys a query only as the origin decodes it: malformed or non-UTF-8 escapes and semicolons pass through', async () => {
    expect((await get(0, '/api/mizan/ctx/search/?q=%EF%BF%BD')).edge).toBe('miss');
    expect((await get(0, '/api/mizan/ctx/search/?q=%EF%BF%BD')).edge).toBe('hit');
    expect((await get(0, '/api/mizan/ctx/search/?q=%FF')).edge).toBe('bypass');
    expect((await get(0, '/api/mizan/ctx/search/?q=%25zz')).edge).toBe('miss');
    expect((await get(0, '/api/mizan/ctx/search/?q=%zz')).edge).toBe('bypass');
    expect((await get(0, '/api/mizan/ctx/search/?q=a;b')).edge).toBe('bypass');
    // '+' and %20 are one value, as at the origin.
    expect((await get(0, '/api/mizan/ctx/search/?q=a+b')).edge).toBe('miss');
    expect((await get(0, '/api/mizan/ctx/search/?q=a%20b')).edge).toBe('hit');
  });

  it('an unreadable X-Mizan-Invalidate purges every context broadly', async () => {
    for (const p of ['/api/mizan/ctx/task/?task_id=7', '/api/mizan/ctx/user/?user_id=41']) {
      await get(0, p);
      expect((await get(0, p)).edge).toBe('hit');
    }
    const res = await call(0, 'bad_header', {});
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mizan-edge-purge')).toBeNull();
    expect((await get(0, '/api/mizan/ctx/task/?task_id=7')).edge).toBe('miss');
    expect((await get(0, '/api/mizan/ctx/user/?user_id=41')).edge).toBe('miss');
  });

  it('passes a WebSocket upgrade through (101 and the origin’s frames)', async () => {
    const { hostname, port } = loc(0);
    const sock = net.connect(Number(port), hostname);
    const got = await new Promise<Buffer>((resolve, reject) => {
      let buf = Buffer.alloc(0);
      const timer = setTimeout(() => reject(new Error('no frame: ' + buf.toString())), 5000);
      sock.on('error', reject);
      sock.on('data', (b: Buffer) => {
        buf = Buffer.concat([buf, b]);
        const end = buf.indexOf('\r\n\r\n');
        if (end >= 0 && buf.length >= end + 4 + 2 + 17) {
          clearTimeout(timer);
          resolve(buf);
        }
      });
      sock.write(
        `GET /api/mizan/ws/ HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
    });
    sock.destroy();
    const end = got.indexOf('\r\n\r\n');
    const head = got.subarray(0, end).toString().toLowerCase();
    expect(head).toMatch(/^http\/1\.1 101/);
    expect(head).toContain('x-mizan-edge: bypass');
    expect(head).not.toContain('x-mizan-identity');
    const frame = got.subarray(end + 4);
    expect(frame[0]).toBe(0x81);
    expect(frame.subarray(2, 2 + frame[1]!).toString()).toBe('hello from origin');
  });

  it('logged no unexpected errors', () => {
    expect(logs).not.toMatch(/purging context .* failed|freshness (begin|check).*failed|cache (put|lookup) failed/);
  });
});
