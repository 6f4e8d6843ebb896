// A MizanClient over the real httpTransport to the Go fixture (docs/spec.md
// §7, served for the run by ../base/test/fixture-server.ts), recording what
// it sends and what the kernel watches.
import { MizanClient, httpTransport, instanceKey, type Transport } from '@mizan/base';

export interface Live {
  client: MizanClient;
  /** Every request, in order: "GET ctx/user/?user_id=1", "POST call/ update_profile". */
  sent: string[];
  /** Every watch call of the kernel: "+user?user_id=1" (first subscriber), "-user?user_id=1" (last one gone). */
  watched: string[];
  /** The context requests sent since the last clear, sorted. */
  reads(): string[];
  clear(): void;
}

/**
 * live returns a client of the fixture at origin. In happy-dom, the page is
 * first moved to the fixture's origin, so that requests are same-origin and
 * the page keeps the session cookie, as a browser would.
 */
export function live(origin: string, o: { initialData?: Record<string, unknown>; user?: string } = {}): Live {
  const root = origin + '/api/mizan/';
  const sent: string[] = [];
  const watched: string[] = [];
  const f = (async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = new URL(String(input), origin).href;
    const method = init?.method ?? 'GET';
    const fn = method === 'POST' ? ' ' + String((JSON.parse(String(init?.body ?? '{}')) as { fn?: string }).fn) : '';
    sent.push(`${method} ${url.slice(root.length)}${fn}`);
    return fetch(url, init);
  }) as typeof fetch;
  const http = httpTransport({
    baseUrl: origin,
    fetch: f,
    headers: (): Record<string, string> => (o.user ? { 'X-Test-User': o.user } : {}),
  });
  const transport: Transport = {
    fetchContext: (c, p, s) => http.fetchContext(c, p, s),
    call: (fn, args, s) => http.call(fn, args, s),
    watch: (c, p, on) => watched.push((on ? '+' : '-') + instanceKey(c, p)),
  };
  const client = new MizanClient({ transport, retry: { attempts: 0 }, ...(o.initialData ? { initialData: o.initialData } : {}) });
  return {
    client,
    sent,
    watched,
    reads: () => sent.filter((s) => s.startsWith('GET ctx/')).sort(),
    clear: () => void (sent.length = 0),
  };
}

/** reset puts the fixture's data back (reset_all). */
export async function reset(origin: string): Promise<void> {
  const res = await fetch(origin + '/api/mizan/call/', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: '{"fn":"reset_all"}',
  });
  if (res.status !== 200) throw new Error(`reset_all: HTTP ${res.status}`);
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
