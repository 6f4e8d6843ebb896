// @mizan/vite: the Vite settings a Mizan front end needs, as a plugin.
//
//   import { defineConfig } from 'vite';
//   import mizan from '@mizan/vite';
//   export default defineConfig({ plugins: [mizan()] });
//
// - resolve.dedupe: react, react-dom and the Mizan packages always resolve
//   from the project's own node_modules. A page must run exactly one React
//   and one kernel; without this, a package linked with `file:` (a symlink
//   to a directory with a node_modules of its own) brings a second React,
//   and the page fails with "Cannot read properties of null (reading
//   'useContext')". Packages installed from tarballs need nothing, and are
//   deduped all the same.
// - server.proxy (vite dev only): the app's API prefix, /api/mizan/, HTTP
//   and the ws/ WebSocket, goes to the Go server, so that the page and the
//   API share an origin as they do in production (no CORS, and the CSRF
//   cookie and cross-origin checks behave the same).
import type { ConfigEnv, Plugin, ProxyOptions, UserConfig } from 'vite';

/** The Go server `vite dev` proxies to when neither the option nor $MIZAN_TARGET names one. */
export const DEFAULT_TARGET = 'http://127.0.0.1:8080';

/** The API prefix of a Mizan app (`mizan.DefaultPrefix`, `Config.Prefix` in Go). */
export const DEFAULT_PREFIX = '/api/mizan/';

/** The environment variable that names the Go server (`mizan dev` sets it). */
export const TARGET_ENV = 'MIZAN_TARGET';

/** Packages the page must load exactly once: React, and the Mizan kernel and hooks. */
export const DEDUPE: readonly string[] = ['react', 'react-dom', '@mizan/base', '@mizan/react'];

/** Options of {@link mizan}. */
export interface MizanOptions {
  /**
   * The Go server's origin, where `vite dev` sends the API prefix. Default:
   * $MIZAN_TARGET when set (`mizan dev` sets it to the server it runs),
   * otherwise http://127.0.0.1:8080.
   */
  target?: string;
  /** The app's API prefix (`Config.Prefix`): it must start and end with "/". Default /api/mizan/. */
  prefix?: string;
  /** `false` leaves `server.proxy` alone (the API is served some other way). Default true. */
  proxy?: boolean;
  /** More packages to dedupe, besides {@link DEDUPE}. */
  dedupe?: string[];
}

/** The environment {@link mizanConfig} reads: only {@link TARGET_ENV}. */
export type Env = Readonly<Record<string, string | undefined>>;

/**
 * mizan returns the plugin. Its config hook returns {@link mizanConfig};
 * settings of the user's own config win: a `server.proxy` entry for the
 * prefix is kept as it is.
 */
export function mizan(options: MizanOptions = {}): Plugin {
  // Checked now, so that a wrong option fails when the config is loaded.
  resolvePrefix(options.prefix);
  return {
    name: 'mizan',
    config(config: UserConfig, env: ConfigEnv): UserConfig {
      return mizanConfig(options, env, config, process.env);
    },
  };
}

export default mizan;

/**
 * mizanConfig is what the plugin adds to the user's config: the dedupe list
 * (the packages of {@link DEDUPE} and options.dedupe that the user config
 * does not already dedupe) and, for `vite dev` (command "serve", not
 * preview, which serves a build), a proxy of the prefix, WebSocket
 * included, to the target. The Host header is passed on unchanged
 * (changeOrigin false): the Go server's cross-origin check compares the
 * browser's Origin with it, and the WebSocket's origin check does too.
 * When the Go server does not answer (not started yet, or restarting
 * under `mizan dev`), the page gets 502 with a Mizan error envelope
 * instead of Vite's empty 500.
 */
export function mizanConfig(
  options: MizanOptions,
  env: Pick<ConfigEnv, 'command'> & Partial<ConfigEnv>,
  user: UserConfig = {},
  environment: Env = {},
): UserConfig {
  const prefix = resolvePrefix(options.prefix);
  const have = new Set(user.resolve?.dedupe ?? []);
  const dedupe = [...new Set([...DEDUPE, ...(options.dedupe ?? [])])].filter((p) => !have.has(p));
  const out: UserConfig = { resolve: { dedupe } };
  if (env.command !== 'serve' || env.isPreview === true || options.proxy === false) return out;
  if (user.server?.proxy?.[prefix] !== undefined) return out;
  const target = resolveTarget(options.target, environment);
  out.server = { proxy: { [prefix]: proxyOptions(target) } };
  return out;
}

/** proxyOptions returns the proxy entry of the prefix: HTTP and WebSocket to target. */
export function proxyOptions(target: string): ProxyOptions {
  return {
    target,
    ws: true,
    changeOrigin: false,
    configure(proxy) {
      proxy.on('error', (err, _req, res) => {
        // An HTTP response (a WebSocket's socket has no writeHead): answer
        // before Vite's own handler writes an empty 500.
        if (!('writeHead' in res) || res.headersSent || res.writableEnded) return;
        const message = `the Go server at ${target} did not answer (${(err as NodeJS.ErrnoException).code ?? err.message}): is it running?`;
        res.writeHead(502, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
        res.end(JSON.stringify({ error: { code: 'unavailable', message } }));
      });
    },
  };
}

/** resolvePrefix returns the prefix option, or the default; it throws when it is not "/…/". */
export function resolvePrefix(prefix: string | undefined): string {
  const p = prefix ?? DEFAULT_PREFIX;
  if (!p.startsWith('/') || !p.endsWith('/')) {
    throw new Error(`@mizan/vite: prefix ${JSON.stringify(p)} must start and end with "/" (like ${DEFAULT_PREFIX})`);
  }
  return p;
}

/** resolveTarget returns the target option, else $MIZAN_TARGET, else {@link DEFAULT_TARGET}; it throws on a URL that is not http(s). */
export function resolveTarget(target: string | undefined, environment: Env): string {
  const t = target ?? (environment[TARGET_ENV] || DEFAULT_TARGET);
  let url: URL;
  try {
    url = new URL(t);
  } catch {
    throw new Error(`@mizan/vite: target ${JSON.stringify(t)} is not a URL (like ${DEFAULT_TARGET})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`@mizan/vite: target ${JSON.stringify(t)} must be an http: or https: URL`);
  }
  return t.replace(/\/+$/, '');
}
