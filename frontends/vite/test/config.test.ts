// The plugin's config hook: what it adds for vite build, vite dev and
// vite preview, which option wins, and that a user's own settings are
// kept (through Vite's real config resolution, not only the hook).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { resolveConfig, type ProxyOptions } from 'vite';
import mizan, { DEDUPE, DEFAULT_PREFIX, DEFAULT_TARGET, mizanConfig, TARGET_ENV } from '../src/index.js';

const serve = { command: 'serve' as const, mode: 'development' };
const build = { command: 'build' as const, mode: 'production' };

describe('mizanConfig', () => {
  test('build: dedupes React and the Mizan packages, and proxies nothing', () => {
    expect(mizanConfig({}, build)).toEqual({
      resolve: { dedupe: ['react', 'react-dom', '@mizan/base', '@mizan/react'] },
    });
  });

  test('dev: proxies /api/mizan/ (HTTP and WebSocket) to the default target, Host unchanged', () => {
    const out = mizanConfig({}, serve);
    expect(out.resolve).toEqual({ dedupe: [...DEDUPE] });
    const proxy = out.server?.proxy;
    expect(Object.keys(proxy ?? {})).toEqual([DEFAULT_PREFIX]);
    const entry = proxy?.[DEFAULT_PREFIX] as ProxyOptions;
    expect(entry.target).toBe('http://127.0.0.1:8080');
    expect(entry.target).toBe(DEFAULT_TARGET);
    expect(entry.ws).toBe(true);
    expect(entry.changeOrigin).toBe(false);
    expect(typeof entry.configure).toBe('function');
  });

  test('preview serves a build: no proxy', () => {
    expect(mizanConfig({}, { ...serve, isPreview: true }).server).toBeUndefined();
  });

  test('target: the option, else $MIZAN_TARGET, else the default; a trailing slash is dropped', () => {
    const target = (o: Parameters<typeof mizanConfig>[0], env: Record<string, string> = {}) =>
      (mizanConfig(o, serve, {}, env).server?.proxy?.[DEFAULT_PREFIX] as ProxyOptions).target;
    expect(target({})).toBe(DEFAULT_TARGET);
    expect(target({}, { [TARGET_ENV]: 'http://127.0.0.1:9001' })).toBe('http://127.0.0.1:9001');
    expect(target({}, { [TARGET_ENV]: '' })).toBe(DEFAULT_TARGET);
    expect(target({ target: 'http://localhost:9002/' }, { [TARGET_ENV]: 'http://127.0.0.1:9001' })).toBe(
      'http://localhost:9002',
    );
  });

  test('prefix: the app’s Config.Prefix', () => {
    const out = mizanConfig({ prefix: '/rpc/' }, serve);
    expect(Object.keys(out.server?.proxy ?? {})).toEqual(['/rpc/']);
  });

  test('bad options fail with a message', () => {
    expect(() => mizan({ prefix: 'api/mizan' })).toThrow(/must start and end with "\/"/);
    expect(() => mizanConfig({ target: 'localhost:8080' }, serve)).toThrow(/http: or https:/);
    expect(() => mizanConfig({ target: 'not a url' }, serve)).toThrow(/not a URL/);
  });

  test('proxy: false, or a proxy entry of the user’s for the prefix, leaves server.proxy alone', () => {
    expect(mizanConfig({ proxy: false }, serve).server).toBeUndefined();
    const user = { server: { proxy: { [DEFAULT_PREFIX]: 'http://elsewhere:1' } } };
    expect(mizanConfig({}, serve, user).server).toBeUndefined();
  });

  test('dedupe: extra packages are added, and ones the user lists are not repeated', () => {
    const out = mizanConfig({ dedupe: ['react-router', 'react'] }, build, { resolve: { dedupe: ['react-dom'] } });
    expect(out.resolve?.dedupe).toEqual(['react', '@mizan/base', '@mizan/react', 'react-router']);
  });
});

describe('the plugin in Vite’s config resolution', () => {
  const root = mkdtempSync(join(tmpdir(), 'mizan-vite-config-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  test('vite dev: the resolved config has the dedupe list and the proxy', async () => {
    const config = await resolveConfig({ root, configFile: false, logLevel: 'silent', plugins: [mizan()] }, 'serve');
    for (const p of DEDUPE) expect(config.resolve.dedupe).toContain(p);
    const entry = config.server.proxy?.[DEFAULT_PREFIX] as ProxyOptions;
    expect(entry).toMatchObject({ target: DEFAULT_TARGET, ws: true, changeOrigin: false });
    expect(config.resolve.preserveSymlinks).toBe(false);
  });

  test('vite build: no proxy; the user’s dedupe and proxy entries survive', async () => {
    const config = await resolveConfig(
      {
        root,
        configFile: false,
        logLevel: 'silent',
        plugins: [mizan({ target: 'http://127.0.0.1:1' })],
        resolve: { dedupe: ['lodash'] },
        server: { proxy: { '/other/': 'http://127.0.0.1:2' } },
      },
      'build',
    );
    expect(config.resolve.dedupe).toEqual(expect.arrayContaining(['lodash', ...DEDUPE]));
    expect(Object.keys(config.server.proxy ?? {})).toEqual(['/other/']);
  });

  test('vite dev: a proxy entry of the user’s for the prefix wins', async () => {
    const config = await resolveConfig(
      {
        root,
        configFile: false,
        logLevel: 'silent',
        plugins: [mizan()],
        server: { proxy: { [DEFAULT_PREFIX]: { target: 'http://127.0.0.1:3', ws: false } } },
      },
      'serve',
    );
    expect(config.server.proxy?.[DEFAULT_PREFIX]).toEqual({ target: 'http://127.0.0.1:3', ws: false });
  });
});
