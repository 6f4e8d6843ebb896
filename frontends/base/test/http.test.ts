import { describe, expect, it } from 'vitest';
import { MizanClient, MizanError, httpTransport } from '../src/index.js';
import { tick } from './fake.js';

interface Seen {
  url: string;
  method: string;
  headers: Record<string, string>;
  credentials: RequestCredentials | undefined;
  body: string | undefined;
  signal: AbortSignal | undefined;
}

const TOKEN = 'a'.repeat(64);

/** fakeFetch answers like a Mizan server; route(url, init) may override a reply. */
function fakeFetch(route?: (url: string, seen: Seen) => Response | undefined) {
  const seen: Seen[] = [];
  const f = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const s: Seen = {
      url: String(input),
      method: init?.method ?? 'GET',
      headers: { ...(init?.headers as Record<string, string>) },
      credentials: init?.credentials,
      body: init?.body as string | undefined,
      signal: init?.signal ?? undefined,
    };
    seen.push(s);
    if (s.signal?.aborted) throw s.signal.reason;
    const r = route?.(s.url, s);
    if (r) return r;
    if (s.url.endsWith('/session/')) return Response.json({ csrf_token: TOKEN });
    if (s.url.includes('/ctx/')) return Response.json({ user_profile: { name: 'Ada' } });
    if (s.url.endsWith('/call/')) return Response.json({ result: { ok: true }, invalidate: ['user'] });
    return Response.json({ error: { code: 'not_found', message: 'no' } }, { status: 404 });
  }) as typeof fetch;
  return { f, seen };
}

describe('httpTransport', () => {
  it('GETs ctx/<name>/ with sorted, stringified, encoded params', async () => {
    const { f, seen } = fakeFetch();
    const t = httpTransport({ fetch: f });
    const body = await t.fetchContext('orders', { user_id: 5, status: 'a b&c', page: undefined, on: true });
    expect(body).toStrictEqual({ user_profile: { name: 'Ada' } });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      url: '/api/mizan/ctx/orders/?on=true&status=a%20b%26c&user_id=5',
      method: 'GET',
      credentials: 'same-origin',
    });
    expect(seen[0]?.headers.Accept).toBe('application/json');
    await t.fetchContext('global', {});
    expect(seen[1]?.url).toBe('/api/mizan/ctx/global/');
  });

  it('sends the per-call headers of call (an Idempotency-Key) on that call only', async () => {
    const { f, seen } = fakeFetch();
    const t = httpTransport({ fetch: f });
    await t.call('bump', {}, undefined, { 'Idempotency-Key': 'k-1' });
    await t.call('bump', {});
    const calls = seen.filter((s) => s.url.endsWith('/call/'));
    expect(calls.map((s) => s.headers['Idempotency-Key'])).toStrictEqual(['k-1', undefined]);
    expect(calls[0]?.headers['X-CSRFToken']).toBe(TOKEN);
  });

  it('uses baseUrl, prefix, extra headers and credentials include across origins', async () => {
    const { f, seen } = fakeFetch();
    const t = httpTransport({ fetch: f, baseUrl: 'https://api.example.com', prefix: '/m/', headers: () => ({ Authorization: 'Bearer x' }) });
    await t.fetchContext('user', { user_id: 1 });
    expect(seen[0]).toMatchObject({ url: 'https://api.example.com/m/ctx/user/?user_id=1', credentials: 'include' });
    expect(seen[0]?.headers.Authorization).toBe('Bearer x');
  });

  it('gets the CSRF token from session/ once and sends it on every call', async () => {
    const { f, seen } = fakeFetch();
    const t = httpTransport({ fetch: f });
    const [a, b] = await Promise.all([t.call('update_profile', { user_id: 1, name: 'A' }), t.call('reset_all', undefined)]);
    await t.call('update_profile', { user_id: 2, name: 'B' });
    expect(a).toStrictEqual({ result: { ok: true }, invalidate: ['user'] });
    expect(b.result).toStrictEqual({ ok: true });
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      'GET /api/mizan/session/',
      'POST /api/mizan/call/',
      'POST /api/mizan/call/',
      'POST /api/mizan/call/',
    ]);
    for (const s of seen.slice(1)) {
      expect(s.headers['X-CSRFToken']).toBe(TOKEN);
      expect(s.headers['Content-Type']).toBe('application/json');
      expect(s.credentials).toBe('same-origin');
    }
    expect(JSON.parse(seen[1]!.body!)).toStrictEqual({ fn: 'update_profile', args: { user_id: 1, name: 'A' } });
    expect(JSON.parse(seen[2]!.body!)).toStrictEqual({ fn: 'reset_all', args: {} });
  });

  it('asks session/ again after a 403 and after a failed session request', async () => {
    let forbid = true;
    let sessionDown = true;
    const { f, seen } = fakeFetch((url) => {
      if (url.endsWith('/session/') && sessionDown) {
        sessionDown = false;
        return new Response('down', { status: 503 });
      }
      if (url.endsWith('/call/') && forbid) {
        forbid = false;
        return Response.json({ error: { code: 'forbidden', message: 'CSRF token missing or incorrect' } }, { status: 403 });
      }
      return undefined;
    });
    const t = httpTransport({ fetch: f, csrfHeader: 'X-Token' });
    await expect(t.call('x', {})).rejects.toMatchObject({ code: 'unavailable', status: 503 });
    await expect(t.call('x', {})).rejects.toMatchObject({ code: 'forbidden', status: 403 });
    await t.call('x', {});
    expect(seen.filter((s) => s.url.endsWith('/session/'))).toHaveLength(3);
    expect(seen.at(-1)?.headers['X-Token']).toBe(TOKEN);
  });

  it('reads the targets from the X-Mizan-Invalidate header when the body has none', async () => {
    const { f } = fakeFetch((url) =>
      url.endsWith('/call/')
        ? Response.json({ result: 1 }, { headers: { 'X-Mizan-Invalidate': 'user;user_id=5, notifications' } })
        : undefined,
    );
    const r = await httpTransport({ fetch: f }).call('x', {});
    expect(r.invalidate).toStrictEqual([
      { context: 'user', params: { user_id: '5' } },
      { context: 'notifications', params: {} },
    ]);
  });

  it('ignores a malformed header rather than failing a call that succeeded', async () => {
    const { f } = fakeFetch((url) =>
      url.endsWith('/call/') ? Response.json({ result: 1 }, { headers: { 'X-Mizan-Invalidate': 'user;=5' } }) : undefined,
    );
    expect((await httpTransport({ fetch: f }).call('x', {})).invalidate).toStrictEqual([]);
  });

  it('turns the error envelope into a MizanError with code, status and fields', async () => {
    const { f } = fakeFetch((url) =>
      url.endsWith('/call/')
        ? Response.json(
            { error: { code: 'invalid_args', message: 'bad arguments', fields: { name: 'required' } } },
            { status: 400 },
          )
        : undefined,
    );
    const err = await httpTransport({ fetch: f })
      .call('update_profile', {})
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MizanError);
    expect(err).toMatchObject({ code: 'invalid_args', status: 400, message: 'bad arguments', fields: { name: 'required' } });
  });

  it.each([
    [409, { error: { code: 'conflict', message: 'taken' } }, 'conflict'],
    [503, { error: { code: 'unavailable', message: 'later' } }, 'unavailable'],
    [502, '<html>bad gateway</html>', 'unavailable'],
    [500, '', 'internal'],
    [404, 'nope', 'not_found'],
  ] as const)('status %i gives code from the envelope or the status', async (status, body, code) => {
    const { f } = fakeFetch(() =>
      typeof body === 'string' ? new Response(body, { status }) : Response.json(body, { status }),
    );
    await expect(httpTransport({ fetch: f }).fetchContext('user', {})).rejects.toMatchObject({ code, status });
  });

  it('an envelope without fields gives a MizanError without fields', async () => {
    const { f } = fakeFetch(() => Response.json({ error: { code: 'not_found', message: 'no function named "x"' } }, { status: 404 }));
    const err = await httpTransport({ fetch: f })
      .call('x', {})
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'not_found', status: 404, message: 'no function named "x"' });
    expect(Object.prototype.hasOwnProperty.call(err, 'fields')).toBe(false);
  });

  it('a 200 that is not JSON is a bad_response', async () => {
    const { f } = fakeFetch(() => new Response('<html>', { status: 200 }));
    await expect(httpTransport({ fetch: f }).fetchContext('user', {})).rejects.toMatchObject({ code: 'bad_response' });
  });

  it('a network failure is code network, status 0', async () => {
    const f = (async () => {
      throw new TypeError('fetch failed');
    }) as typeof fetch;
    const err = await httpTransport({ fetch: f })
      .fetchContext('user', {})
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MizanError);
    expect(err).toMatchObject({ code: 'network', status: 0, message: 'fetch failed' });
  });

  it('lets an abort through as the signal reason, not as a network error', async () => {
    const ctl = new AbortController();
    const f = ((_: RequestInfo | URL, init?: RequestInit) =>
      new Promise((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(new TypeError('aborted'))))) as typeof fetch;
    const p = httpTransport({ fetch: f }).fetchContext('user', {}, ctl.signal).catch((e: unknown) => e);
    ctl.abort();
    const err = await p;
    expect(err).not.toBeInstanceOf(MizanError);
    expect(err).toMatchObject({ name: 'AbortError' });
  });

  it('a client retries a network failure of the transport, then has the data', async () => {
    let down = 2;
    const { f, seen } = fakeFetch((url) => {
      if (url.includes('/ctx/') && down-- > 0) throw new TypeError('fetch failed');
      return undefined;
    });
    const client = new MizanClient({ transport: httpTransport({ fetch: f }), retry: { attempts: 3, delay: 1 } });
    await expect(client.fetchContext('user', { user_id: 1 })).resolves.toStrictEqual({ user_profile: { name: 'Ada' } });
    expect(seen).toHaveLength(3);
  });

  it('a client does not retry a typed error of the transport', async () => {
    const { f, seen } = fakeFetch(() => Response.json({ error: { code: 'not_found', message: 'no' } }, { status: 404 }));
    const client = new MizanClient({ transport: httpTransport({ fetch: f }), retry: { attempts: 3, delay: 1 } });
    await expect(client.fetchContext('user', { user_id: 9 })).rejects.toMatchObject({ code: 'not_found', status: 404 });
    expect(seen).toHaveLength(1);
  });

  it('drives a client end to end: fetch, call, body targets, refetch', async () => {
    let name = 'Ada';
    const { f, seen } = fakeFetch((url, s) => {
      if (url.includes('/ctx/user/')) return Response.json({ user_profile: { name } });
      if (url.endsWith('/call/')) {
        name = (JSON.parse(s.body!) as { args: { name: string } }).args.name;
        return Response.json({ result: { ok: true }, invalidate: [{ context: 'user', params: { user_id: 1 } }] });
      }
      return undefined;
    });
    const client = new MizanClient({ transport: httpTransport({ fetch: f }) });
    const inst = client.instance<{ user_profile: { name: string } }>('user', { user_id: 1 });
    inst.subscribe(() => {});
    await tick();
    await client.call('update_profile', { user_id: 1, name: 'Ryth' });
    await tick();
    expect(inst.getSnapshot().data?.user_profile.name).toBe('Ryth');
    expect(seen.filter((s) => s.url.includes('/ctx/'))).toHaveLength(2);
  });
});
