import { describe, expect, it } from 'vitest';
import { ReplayMemory, replayExpiry, signPurge, verifyPurge, type ReplayStorage } from '../src/signature.js';
import { purgeHeaders } from './helpers.js';

const secret = 'purge-secret-32-bytes-long-00000';
const body = '{"id":"1","targets":["user"],"mutation":"reset_all","caller":null}';

describe('purge signature', () => {
  const now = 1_800_000_000;

  it('accepts a valid signature (and signPurge agrees with node:crypto)', async () => {
    const h = purgeHeaders(secret, body, now);
    expect(await signPurge(secret, now, body)).toBe(h['X-Mizan-Signature']);
    const r = await verifyPurge(secret, h['X-Mizan-Timestamp']!, h['X-Mizan-Signature']!, body, now + 10);
    expect(r).toEqual({ ok: true, signature: h['X-Mizan-Signature']!.slice(3), timestamp: now });
    // Upper-case hex, and a second (rotated) signature beside a wrong one.
    const upper = 'v1=' + h['X-Mizan-Signature']!.slice(3).toUpperCase();
    expect((await verifyPurge(secret, String(now), upper, body, now)).ok).toBe(true);
    expect((await verifyPurge(secret, String(now), 'v1=' + '0'.repeat(64) + ', ' + h['X-Mizan-Signature'], body, now)).ok).toBe(true);
  });

  it('refuses a wrong signature, another body, another timestamp, another secret', async () => {
    const h = purgeHeaders(secret, body, now);
    expect(await verifyPurge(secret, String(now), 'v1=' + '0'.repeat(64), body, now)).toEqual({ ok: false, reason: 'wrong' });
    expect((await verifyPurge(secret, String(now), h['X-Mizan-Signature']!, body + ' ', now)).ok).toBe(false);
    expect((await verifyPurge(secret, String(now + 1), h['X-Mizan-Signature']!, body, now)).ok).toBe(false);
    expect((await verifyPurge('other', String(now), h['X-Mizan-Signature']!, body, now)).ok).toBe(false);
    expect((await verifyPurge(secret, String(now), h['X-Mizan-Signature']!.slice(3), body, now)).ok).toBe(false);
    expect((await verifyPurge(secret, String(now), 'v2=' + h['X-Mizan-Signature']!.slice(3), body, now)).ok).toBe(false);
    expect(await verifyPurge(secret, null, h['X-Mizan-Signature']!, body, now)).toEqual({ ok: false, reason: 'missing' });
    expect(await verifyPurge(secret, String(now), null, body, now)).toEqual({ ok: false, reason: 'missing' });
    expect(await verifyPurge(secret, '1.5', h['X-Mizan-Signature']!, body, now)).toEqual({ ok: false, reason: 'malformed' });
    expect((await verifyPurge('', String(now), h['X-Mizan-Signature']!, body, now)).ok).toBe(false);
  });

  it('refuses a stale or future timestamp beyond 300 s', async () => {
    const h = purgeHeaders(secret, body, now);
    const at = (t: number) => verifyPurge(secret, String(now), h['X-Mizan-Signature']!, body, t);
    expect((await at(now + 300)).ok).toBe(true);
    expect(await at(now + 301)).toEqual({ ok: false, reason: 'stale' });
    expect((await at(now - 300)).ok).toBe(true);
    expect(await at(now - 301)).toEqual({ ok: false, reason: 'stale' });
  });
});

class MapStorage implements ReplayStorage {
  readonly map = new Map<string, unknown>();
  async get(key: string) {
    return this.map.get(key);
  }
  async put(entries: Record<string, unknown>) {
    for (const [k, v] of Object.entries(entries)) this.map.set(k, v);
  }
  async delete(keys: string[]) {
    for (const k of keys) this.map.delete(k);
    return keys.length;
  }
  async list(o: { prefix: string; end: string; limit: number }) {
    const keys = [...this.map.keys()].filter((k) => k.startsWith(o.prefix) && k < o.end).sort().slice(0, o.limit);
    return new Map(keys.map((k) => [k, this.map.get(k)]));
  }
}

describe('replay memory', () => {
  it('remembers a signature until it could no longer verify, then forgets it', async () => {
    let now = 1_000_000_000_000;
    const storage = new MapStorage();
    const mem = new ReplayMemory(storage, () => now);
    const ts = now / 1000;
    expect(await mem.seen('abc')).toBe(false);
    await mem.record('abc', replayExpiry(ts));
    expect(await mem.seen('abc')).toBe(true);
    expect(await mem.seen('abd')).toBe(false);
    now += 300_000;
    expect(await mem.seen('abc')).toBe(true);
    now += 2_000;
    expect(await mem.seen('abc')).toBe(false);
    // Recording another prunes the expired one.
    await mem.record('def', replayExpiry(now / 1000));
    expect([...storage.map.keys()].some((k) => k.includes('abc'))).toBe(false);
    expect(await mem.seen('def')).toBe(true);
    expect(storage.map.size).toBe(2);
  });
});
