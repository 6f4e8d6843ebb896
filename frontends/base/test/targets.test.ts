import { describe, expect, it } from 'vitest';
import { instanceKey } from '../src/index.js';
import { matches, toTarget } from '../src/targets.js';

describe('instanceKey', () => {
  it('sorts and stringifies params, dropping undefined ones', () => {
    expect(instanceKey('user')).toBe('user');
    expect(instanceKey('user', {})).toBe('user');
    expect(instanceKey('orders', { user_id: 5, page: 2, status: undefined })).toBe('orders?page=2&user_id=5');
    expect(instanceKey('orders', { user_id: '5', page: '2' })).toBe('orders?page=2&user_id=5');
    expect(instanceKey('flags', { on: true, off: false })).toBe('flags?off=false&on=true');
    expect(instanceKey('search', { q: 'a&b=c d' })).toBe('search?q=a%26b%3Dc%20d');
  });
});

describe('toTarget', () => {
  it('normalises the three body forms', () => {
    expect(toTarget('user')).toStrictEqual({ context: 'user', params: {} });
    expect(toTarget({ context: 'user', params: { user_id: 5, on: true } })).toStrictEqual({
      context: 'user',
      params: { on: 'true', user_id: '5' },
    });
    expect(toTarget({ context: 'user', function: 'user_profile', params: { user_id: 5 } })).toStrictEqual({
      context: 'user',
      function: 'user_profile',
      params: { user_id: '5' },
    });
    expect(toTarget({ context: 'user' })).toStrictEqual({ context: 'user', params: {} });
  });
});

describe('matches', () => {
  const t = toTarget({ context: 'orders', params: { user_id: 1, status: 'open' } });
  it.each([
    ['all target params agree, extra instance params ignored', 'orders', { user_id: '1', page: '2', status: 'open' }, true],
    ['one target param differs', 'orders', { user_id: '1', page: '1', status: 'done' }, false],
    ['the other differs', 'orders', { user_id: '2', status: 'open' }, false],
    ['an omitted target param matches', 'orders', { user_id: '1' }, true],
    ['no params at all matches', 'orders', {}, true],
    ['another context never matches', 'user', { user_id: '1', status: 'open' }, false],
  ] as const)('%s', (_, context, params, want) => {
    expect(matches(t, context, { ...params })).toBe(want);
  });

  it('compares as strings: 5 and "5" agree, 5 and "05" do not', () => {
    const n = toTarget({ context: 'user', params: { user_id: 5 } });
    expect(matches(n, 'user', { user_id: '5' })).toBe(true);
    expect(matches(n, 'user', { user_id: '05' })).toBe(false);
  });

  it('a broad target matches every instance of its context', () => {
    expect(matches(toTarget('orders'), 'orders', { user_id: '9' })).toBe(true);
  });
});
