import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalKey, canonicalPageKey, contextKey, pageKey, userHash } from '../src/keys.js';
import { readJSON } from './helpers.js';

interface KeyCase {
  name: string;
  secret: string;
  context: string;
  params: Record<string, string>;
  user: string | null;
  rev: number;
  canonical: string;
  key: string;
}

const vectors = readJSON<{ cases: KeyCase[] }>('testdata/vectors/cache-keys.json');

describe('cache keys (testdata/vectors/cache-keys.json)', () => {
  it('has vectors', () => expect(vectors.cases.length).toBeGreaterThan(10));
  for (const v of vectors.cases) {
    it(v.name, async () => {
      expect(canonicalKey(v.context, v.params, v.rev, v.user)).toBe(v.canonical);
      expect(await contextKey(v.secret, v.context, v.params, v.rev, v.user)).toBe(v.key);
    });
  }
});

describe('page keys and user hashes', () => {
  it('canonical page key: sorted query, path, rev and user', () => {
    expect(canonicalPageKey('page', '/p/1/', { b: '2', a: '"' }, 3, '7')).toBe(
      '{"c":"page","path":"/p/1/","p":{"a":"\\"","b":"2"},"r":3,"u":"7"}',
    );
    expect(canonicalPageKey('page', '/p/1/', {}, 0)).toBe('{"c":"page","path":"/p/1/","p":{},"r":0}');
  });

  it('page key is page:<context>:<hex HMAC>', async () => {
    const canon = canonicalPageKey('page', '/p/1/', { q: 'x' }, 0, null);
    const mac = createHmac('sha256', 's').update(canon).digest('hex');
    expect(await pageKey('s', 'page', '/p/1/', { q: 'x' }, 0, null)).toBe('page:page:' + mac);
    expect(await pageKey('s', 'page', '/p/2/', { q: 'x' }, 0, null)).not.toBe('page:page:' + mac);
  });

  it('user hash is the first 32 hex of HMAC(secret, "u:" + id)', async () => {
    const mac = createHmac('sha256', 'k').update('u:42').digest('hex');
    expect(await userHash('k', '42')).toBe(mac.slice(0, 32));
    expect(await userHash('k', '43')).not.toBe(mac.slice(0, 32));
  });
});
