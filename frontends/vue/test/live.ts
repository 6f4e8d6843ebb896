// Helpers of the live tests: a MizanClient over the real httpTransport to
// the Go fixture of docs/spec.md §7, served for the run by
// ../base/test/fixture-server.ts (the Vitest globalSetup of vitest.config.ts),
// with every request the transport sends recorded.
import { MizanClient, httpTransport, type Transport } from '@mizan/base';
import { request } from 'node:http';
import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    fixtureUrl: string;
    fixtureSkip: string;
  }
}

export const origin = inject('fixtureUrl');
export const skipReason = inject('fixtureSkip');

/** A reply of nodeFetch: the Response, and the Set-Cookie lines the Fetch API hides. */
interface Reply {
  res: Response;
  cookies: string[];
}

/**
 * nodeFetch sends a request with node:http. Vitest's happy-dom environment
 * replaces the global fetch with happy-dom's, which applies a browser's
 * rules (CORS from http://localhost:3000, no Cookie header) to the loopback
 * fixture; the tests talk to it as a non-browser client instead. The
 * Response is the environment's, as a transport in a page would get.
 */
function nodeFetch(input: RequestInfo | URL, init: RequestInit = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const signal = init.signal;
    if (signal?.aborted) return reject(signal.reason);
    const req = request(
      String(input),
      { method: init.method ?? 'GET', headers: { ...(init.headers as Record<string, string>) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) {
            if (v !== undefined && k !== 'set-cookie') headers.set(k, Array.isArray(v) ? v.join(', ') : v);
          }
          const status = res.statusCode ?? 0;
          const body = status === 204 || status === 304 ? null : Buffer.concat(chunks).toString('utf8');
          resolve({ res: new Response(body, { status, headers }), cookies: res.headers['set-cookie'] ?? [] });
        });
      },
    );
    req.on('error', reject);
    signal?.addEventListener(
      'abort',
      () => {
        req.destroy();
        reject(signal.reason);
      },
      { once: true },
    );
    if (init.body !== undefined && init.body !== null) req.write(String(init.body));
    req.end();
  });
}

export interface Profile {
  id: number;
  name: string;
  email: string;
}
export interface UserBundle {
  user_profile: Profile;
  user_orders: { id: number; total: number }[];
}

export interface LiveOptions {
  /** X-Test-User: the caller's id (the fixture's test-only authenticator). */
  user?: string;
  initialData?: Record<string, unknown>;
  /** Give the transport a watch method that records (on|off context?params) in watches. */
  watch?: boolean;
}

/**
 * live returns a client over httpTransport to the fixture, the requests it
 * sent ("GET ctx/user/?user_id=1", "POST call/ update_profile") and, with
 * watch, the watch calls the client made. The CSRF cookie is kept as a
 * non-browser client must keep it (see ../base/test/live.test.ts).
 */
export function live(o: LiveOptions = {}) {
  const root = origin + '/api/mizan/';
  const sent: string[] = [];
  const watches: string[] = [];
  const jar = { cookie: '' };
  const f = (async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const path = String(input).slice(root.length);
    const fn = path === 'call/' ? ' ' + (JSON.parse(String(init?.body)) as { fn: string }).fn : '';
    sent.push(`${init?.method ?? 'GET'} ${path}${fn}`);
    const { res, cookies } = await nodeFetch(input, init);
    for (const c of cookies) {
      const pair = c.split(';')[0] ?? '';
      if (pair.startsWith('csrftoken=')) jar.cookie = pair;
    }
    return res;
  }) as typeof fetch;
  const http = httpTransport({
    baseUrl: origin,
    fetch: f,
    headers: () => ({
      ...(jar.cookie ? { Cookie: jar.cookie } : {}),
      ...(o.user ? { 'X-Test-User': o.user } : {}),
    }),
  });
  const transport: Transport = o.watch
    ? {
        fetchContext: (c, p, s) => http.fetchContext(c, p, s),
        call: (fn, a, s) => http.call(fn, a, s),
        watch: (context, params, on) => {
          const q = new URLSearchParams(params).toString();
          watches.push(`${on ? 'on' : 'off'} ${context}${q ? '?' + q : ''}`);
        },
      }
    : http;
  const client = new MizanClient({
    transport,
    retry: { attempts: 0 },
    ...(o.initialData ? { initialData: o.initialData } : {}),
  });
  /** reads lists the context requests sent since the last clear, sorted. */
  const reads = (): string[] =>
    sent
      .filter((s) => s.startsWith('GET ctx/'))
      .map((s) => s.slice('GET '.length))
      .sort();
  const clear = (): void => {
    sent.length = 0;
    watches.length = 0;
  };
  return { client, sent, watches, reads, clear };
}

/** resetFixture puts the fixture's initial data back (reset_all). */
export async function resetFixture(): Promise<void> {
  const { res } = await nodeFetch(origin + '/api/mizan/call/', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: '{"fn":"reset_all"}',
  });
  if (res.status !== 200) throw new Error(`reset_all: HTTP ${res.status}`);
}

/** ms waits that long: time for a request that should not happen to be sent. */
export const ms = (n: number): Promise<void> => new Promise((r) => setTimeout(r, n));
