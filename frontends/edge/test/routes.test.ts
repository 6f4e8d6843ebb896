import { describe, expect, it } from 'vitest';
import { EdgeManifest, parseManifest } from '../src/manifest.js';
import { matchRoute, parseRoute } from '../src/routes.js';
import { readJSON } from './helpers.js';

const m = (pattern: string, path: string, method?: string) => matchRoute(parseRoute(pattern), path, method);

describe('ServeMux patterns', () => {
  it('a wildcard matches one segment; a trailing slash matches the subtree', () => {
    expect(m('/profile/{user_id}/', '/profile/1/')).toEqual({ user_id: '1' });
    expect(m('/profile/{user_id}/', '/profile/1/more/x')).toEqual({ user_id: '1' });
    expect(m('/profile/{user_id}/', '/profile/1')).toBeNull();
    expect(m('/profile/{user_id}/', '/profile//')).toBeNull();
    expect(m('/profile/{user_id}/', '/profile/')).toBeNull();
    expect(m('/profile/{user_id}/', '/other/1/')).toBeNull();
  });

  it('{$} matches the trailing slash only', () => {
    expect(m('/profile/{id}/{$}', '/profile/1/')).toEqual({ id: '1' });
    expect(m('/profile/{id}/{$}', '/profile/1/x')).toBeNull();
    expect(m('/{$}', '/')).toEqual({});
    expect(m('/{$}', '/a')).toBeNull();
    expect(m('/', '/anything/at/all')).toEqual({});
  });

  it('{name...} takes the rest, unescaped', () => {
    expect(m('/files/{path...}', '/files/a/b%20c')).toEqual({ path: 'a/b c' });
    expect(m('/files/{path...}', '/files/')).toEqual({ path: '' });
    expect(m('/files/{path...}', '/files')).toBeNull();
  });

  it('exact paths, escapes, methods', () => {
    expect(m('/webhooks/stripe', '/webhooks/stripe')).toEqual({});
    expect(m('/webhooks/stripe', '/webhooks/stripe/')).toBeNull();
    expect(m('/a/{x}', '/a/b%2Fc')).toEqual({ x: 'b/c' });
    expect(m('/caf%C3%A9/', '/café/'.replace('é', '%C3%A9'))).toEqual({});
    expect(m('GET /x/{id}', '/x/1', 'GET')).toEqual({ id: '1' });
    expect(m('GET /x/{id}', '/x/1', 'HEAD')).toEqual({ id: '1' });
    expect(m('GET /x/{id}', '/x/1', 'POST')).toBeNull();
    expect(m('POST example.com/x/', '/x/', 'POST')).toEqual({});
  });

  it('refuses what Go refuses', () => {
    expect(() => parseRoute('x')).toThrow();
    expect(() => parseRoute('/a/{b...}/c')).toThrow();
    expect(() => parseRoute('/a/{$}/c')).toThrow();
    expect(() => parseRoute('/a/x{b}')).toThrow();
    expect(() => parseRoute('/a/{b}/{b}')).toThrow();
  });
});

describe('the manifest (conformance/testdata/manifest.json)', () => {
  const em = new EdgeManifest(parseManifest(readJSON('conformance/testdata/manifest.json')));

  it('knows context fetches', () => {
    expect(em.cacheable('/api/mizan/ctx/user/')).toMatchObject({ kind: 'ctx', context: 'user' });
    expect(em.cacheable('/api/mizan/ctx/user')).toBeNull();
    expect(em.cacheable('/api/mizan/ctx/nope/')).toBeNull();
  });

  it('caches pages of psr contexts only', () => {
    // user is dynamic_cached: its page is not cached.
    expect(em.cacheable('/profile/1/')).toBeNull();
    const psr = new EdgeManifest(
      parseManifest({
        contexts: { page: { render_strategy: 'psr', page_routes: ['/p/{id}/'], unknown_member: 1 } },
        mutations: {},
        extra: true,
      }),
    );
    expect(psr.cacheable('/p/1/')).toMatchObject({ kind: 'page', context: 'page' });
    expect(psr.cacheable('/q/1/')).toBeNull();
  });

  it('finds mutations by route and method, and by name', () => {
    expect(em.mutationAt('POST', '/profile/1/update/')).toBe(em.manifest.mutations.update_profile_view);
    expect(em.mutationAt('GET', '/profile/1/update/')).toBeUndefined();
    expect(em.mutationAt('POST', '/webhooks/stripe/')).toBe(em.manifest.mutations.stripe_webhook);
    expect(em.mutation('update_my_name')?.caller_scoped).toEqual(['global']);
    expect(em.mutation('nope')).toBeUndefined();
    expect(em.mutation('__proto__')).toBeUndefined();
  });

  it('reads cache_ttl and no_cache, and defaults absent members', () => {
    const p = parseManifest('{"contexts": {"c": {"cache_ttl": 5}}, "mutations": {"m": {}}}');
    expect(p.contexts.c).toMatchObject({ cache_ttl: 5, rev: 0, params: [], shared: false, user_scoped: false, no_cache: false });
    const nc = new EdgeManifest(
      parseManifest({
        contexts: {
          a: { endpoints: ['/a/'], render_strategy: 'psr', page_routes: ['/pa/'], no_cache: true },
          b: { endpoints: ['/b/'], render_strategy: 'psr', page_routes: ['/pb/'], no_cache: false },
        },
        mutations: {},
      }),
    );
    expect(nc.cacheable('/a/')).toBeNull();
    expect(nc.cacheable('/pa/')).toBeNull();
    expect(nc.cacheable('/b/')).not.toBeNull();
    expect(nc.cacheable('/pb/')).not.toBeNull();
    expect(p.mutations.m).toEqual({ affects: [], auto_scoped_params: [], caller_scoped: [] });
    expect(() => parseManifest('{"contexts": {}}')).toThrow();
    expect(() => parseManifest('{"contexts": {"c": {"rev": "1"}}, "mutations": {}}')).toThrow();
  });

  it('routes of several mutations that match are ambiguous: no mutation', () => {
    const amb = new EdgeManifest(
      parseManifest({
        contexts: {},
        mutations: { a: { route: '/x/', caller_scoped: [] }, b: { route: '/x/{id}/', caller_scoped: [] } },
      }),
    );
    expect(amb.mutationAt('POST', '/x/1/')).toBeUndefined();
    expect(amb.mutationAt('POST', '/x/')).toBe(amb.manifest.mutations.a);
  });
});
