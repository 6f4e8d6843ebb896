// When the freshness objects cannot record a purge, the edge says so and
// never claims it did: a mutation's answer goes out with
// X-Mizan-Edge-Purge: failed, a purge post is refused with 503 (the origin
// retries it), and nothing is served from the cache without a check. The
// freshness worker is replaced by one whose Durable Object fails every
// purge and calls every entry stale, in real workerd.
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleWorker, edgeOptions, FRESHNESS_WORKER } from '../lib/dev.mjs';
import { purgeHeaders } from './helpers.js';
import { manifest, startOrigin, type Origin } from './origin.js';

const secrets = {
  mwt: 'mwt-secret-32-bytes-long-0000000',
  key: 'key-secret-32-bytes-long-0000000',
  purge: 'purge-secret-32-bytes-long-00000',
};

const failing = `import { DurableObject } from 'cloudflare:workers';
export class MizanFreshness extends DurableObject {
  begin() { return { epoch: 'e', seq: 0 }; }
  check() { return false; }
  purge() { throw new Error('freshness unavailable'); }
  replaySeen() { return false; }
  replayRecord() {}
}
export default { fetch() { return new Response('freshness stub'); } };
`;

let origin: Origin;
let mf: Miniflare;
let url: URL;
let logs = '';

beforeAll(async () => {
  origin = await startOrigin();
  const opts = edgeOptions({ origin: origin.url, manifest: JSON.stringify(manifest), secrets, script: await bundleWorker(), port: 0 });
  opts.handleRuntimeStdio = (out: NodeJS.ReadableStream, err: NodeJS.ReadableStream) => {
    out.on('data', (b: Buffer) => (logs += b.toString()));
    err.on('data', (b: Buffer) => (logs += b.toString()));
  };
  for (const w of opts.workers) {
    if (w.name === FRESHNESS_WORKER) w.modules = [{ type: 'ESModule', path: 'stub.mjs', contents: failing }];
  }
  mf = new Miniflare(opts);
  await mf.ready;
  url = await mf.unsafeGetDirectURL('loc0');
});

afterAll(async () => {
  await mf?.dispose();
  await origin?.close();
});

describe('freshness objects that fail', () => {
  it('a mutation answers with X-Mizan-Edge-Purge: failed', async () => {
    const res = await fetch(new URL('/api/mizan/call/', url), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ fn: 'update_profile', args: { user_id: 1 } }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mizan-edge-purge')).toBe('failed');
    await res.arrayBuffer();
  });

  it('a purge post is refused with 503, for the origin to retry', async () => {
    const body = JSON.stringify({ id: 'f1', targets: ['user'], mutation: '', caller: null });
    const res = await fetch(new URL('/__mizan/purge', url), { method: 'POST', headers: purgeHeaders(secrets.purge, body), body });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unavailable');
  });

  it('an entry that cannot be shown fresh is never a hit', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await fetch(new URL('/api/mizan/ctx/user/?user_id=5', url));
      expect(res.status).toBe(200);
      expect(res.headers.get('x-mizan-edge')).toBe('miss');
      await res.arrayBuffer();
    }
    expect(logs).toContain('failed');
  });
});
