// Live tests of @mizan/base/offline against the Go fixture (docs/spec.md §7
// and §12): calls queued offline land once each when the connection comes
// back, and a call whose first attempt reached the server but whose answer
// was lost is replayed by the server (Idempotent-Replayed: true) rather
// than run twice, thanks to its idempotency key. The calls bump the
// fixture's counter, so this file runs a fixture of its own, from the
// binary test/fixture-server.ts built. Without Go they fail when CI=true
// and are skipped elsewhere.
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { httpTransport, MizanClient } from '../src/index.js';
import { enableOffline, type OnlineSignal } from '../src/offline.js';
import { startFixture, stopFixture } from './fixture-server.js';

const bin = inject('fixtureBin');

function fakeSignal(on: boolean): OnlineSignal & { set(v: boolean): void } {
  const ls = new Set<() => void>();
  return {
    get: () => on,
    subscribe(f) {
      ls.add(f);
      return () => void ls.delete(f);
    },
    set(v) {
      on = v;
      for (const f of [...ls]) f();
    },
  };
}

describe.skipIf(!bin)('live: the offline queue against the Go fixture', () => {
  let child: ChildProcess | undefined;
  let origin = '';

  beforeAll(async () => {
    const s = await startFixture(bin);
    child = s.child;
    origin = s.url;
  }, 30_000);
  afterAll(async () => {
    if (child) await stopFixture(child);
  });

  /**
   * live returns a client over the fixture whose fetch records the
   * Idempotency-Key and Idempotent-Replayed of every call/ request, and
   * drops the answers of the next `drop` of them as network errors (after
   * the server has handled them).
   */
  function live() {
    const seen: { key: string | null; replayed: string | null; status: number }[] = [];
    const ctl = { drop: 0 };
    const f: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (String(input).endsWith('/call/')) {
        const key = new Headers(init?.headers).get('Idempotency-Key');
        seen.push({ key, replayed: res.headers.get('Idempotent-Replayed'), status: res.status });
        if (ctl.drop > 0) {
          ctl.drop--;
          await res.text();
          throw new TypeError('fetch failed (answer dropped by the test)');
        }
      }
      return res;
    };
    const client = new MizanClient({ retry: { attempts: 0 }, transport: httpTransport({ baseUrl: origin, fetch: f }) });
    return { client, seen, ctl };
  }

  async function count(client: MizanClient): Promise<number> {
    return (await client.fetchContext<{ count: { count: number } }>('counter')).count.count;
  }

  it('three bumps queued offline land exactly once each, in order, when back online', async () => {
    const { client, seen } = live();
    // Read before going offline: a read made offline waits for the connection.
    const before = await count(client);
    const sig = fakeSignal(false);
    const offline = enableOffline(client, { online: sig });
    const ps = [client.call<{ count: number }>('bump'), client.call<{ count: number }>('bump'), client.call<{ count: number }>('bump')];
    await new Promise((r) => setTimeout(r, 20));
    expect(seen).toHaveLength(0);
    expect(offline.pending()).toHaveLength(3);
    sig.set(true);
    const rs = await Promise.all(ps);
    expect(rs.map((r) => r.result.count)).toStrictEqual([before + 1, before + 2, before + 3]);
    expect(await count(client)).toBe(before + 3);
    expect(offline.pending()).toStrictEqual([]);
    expect(seen.every((s) => s.status === 200 && s.replayed === null && s.key)).toBe(true);
    expect(new Set(seen.map((s) => s.key)).size).toBe(3);
    offline.dispose();
  });

  it('a call whose answer was lost is replayed by the server, not run twice', async () => {
    const { client, seen, ctl } = live();
    const offline = enableOffline(client, { online: fakeSignal(true) });
    const before = await count(client);
    ctl.drop = 1;
    const p = client.call<{ count: number }>('bump');
    for (let k = 0; k < 100 && !offline.pending().length; k++) await new Promise((r) => setTimeout(r, 5));
    expect(offline.pending()).toHaveLength(1);
    expect(await count(client)).toBe(before + 1);
    await offline.flush();
    const { result } = await p;
    expect(result.count).toBe(before + 1);
    expect(await count(client)).toBe(before + 1);
    expect(seen).toHaveLength(2);
    expect(seen[1]!.key).toBe(seen[0]!.key);
    expect(seen[0]!.replayed).toBeNull();
    expect(seen[1]!.replayed).toBe('true');
    offline.dispose();
  });
});
