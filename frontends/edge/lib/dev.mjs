// @ts-check
// The local run of the edge in workerd, through Miniflare's programmatic API:
// shared by `mizan-edge dev` (bin/mizan-edge.mjs) and the integration tests,
// so that both run the same topology:
//
// - K location workers `loc0` … `loc<K-1>`, each the bundled edge, each with
//   its own cache (MIZAN_EDGE_CACHE=loc<i>), each listening on its own socket
//   (Miniflare's unsafeDirectSockets: port N+i, straight to the worker, no
//   Miniflare entry worker in between);
// - one worker `mizan-freshness` hosting the MizanFreshness Durable Object
//   class (the same bundle), which every location binds as MIZAN_FRESHNESS
//   with `scriptName`: one namespace, so all locations share the freshness
//   objects, as all Cloudflare locations share one Durable Object.
//
// Miniflare's own entry socket listens on a random loopback port and is not
// used. Nothing is downloaded: workerd is the `workerd` npm package.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The compatibility date the edge is written for. */
export const COMPATIBILITY_DATE = '2026-07-01';
/** The name of the worker hosting the Durable Object class. */
export const FRESHNESS_WORKER = 'mizan-freshness';
/** The environment variables holding the edge's secrets. */
export const SECRET_ENV = /** @type {const} */ (['MIZAN_MWT_SECRET', 'MIZAN_EDGE_KEY_SECRET', 'MIZAN_EDGE_PURGE_SECRET']);

const here = dirname(fileURLToPath(import.meta.url));

/**
 * The worker's entry module: src/worker.ts in a checkout (always current),
 * else the built dist/worker.js.
 * @returns {string}
 */
export function workerEntry() {
  const src = join(here, '..', 'src', 'worker.ts');
  if (existsSync(src)) return src;
  const dist = join(here, '..', 'dist', 'worker.js');
  if (existsSync(dist)) return dist;
  throw new Error('mizan-edge: neither src/worker.ts nor dist/worker.js exists (run npm run build -w @mizan/edge)');
}

/**
 * bundleWorker bundles the edge Worker into one ES module (esbuild,
 * @mizan/base included; `cloudflare:*` stays an import of the runtime).
 * @param {string} [entry]
 * @returns {Promise<string>}
 */
export async function bundleWorker(entry = workerEntry()) {
  const esbuild = await import('esbuild');
  const out = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    mainFields: ['module', 'main'],
    conditions: ['workerd', 'worker', 'browser'],
    external: ['cloudflare:*'],
    write: false,
    logLevel: 'silent',
  });
  const file = out.outputFiles[0];
  if (!file) throw new Error('mizan-edge: esbuild produced no output');
  return file.text;
}

/**
 * secretsFromEnv reads the three secrets, or throws an Error naming the
 * missing ones.
 * @param {Record<string, string | undefined>} [env]
 * @returns {import('./dev.d.mts').EdgeSecrets}
 */
export function secretsFromEnv(env = process.env) {
  const missing = SECRET_ENV.filter((k) => !env[k]);
  if (missing.length > 0) {
    throw new Error(`mizan-edge: set ${missing.join(', ')} in the environment (the edge's secrets; the origin must use the same MWT and purge secrets)`);
  }
  return {
    mwt: /** @type {string} */ (env.MIZAN_MWT_SECRET),
    key: /** @type {string} */ (env.MIZAN_EDGE_KEY_SECRET),
    purge: /** @type {string} */ (env.MIZAN_EDGE_PURGE_SECRET),
  };
}

/**
 * edgeOptions builds the Miniflare options of the topology described at the
 * top of this file.
 * @param {import('./dev.d.mts').EdgeTopology} o
 * @returns {import('miniflare').MiniflareOptions}
 */
export function edgeOptions(o) {
  const locations = o.locations ?? 1;
  if (!Number.isInteger(locations) || locations < 1) throw new Error('mizan-edge: locations must be a positive integer');
  const host = o.host ?? '127.0.0.1';
  const port = o.port ?? 0;
  const modules = [{ type: /** @type {const} */ ('ESModule'), path: 'worker.mjs', contents: o.script }];
  /** @type {Record<string, string>} */
  const vars = {
    MIZAN_ORIGIN: o.origin,
    MIZAN_MANIFEST: o.manifest,
    MIZAN_MWT_SECRET: o.secrets.mwt,
    MIZAN_EDGE_KEY_SECRET: o.secrets.key,
    MIZAN_EDGE_PURGE_SECRET: o.secrets.purge,
  };
  if (o.defaultTtl !== undefined) vars.MIZAN_EDGE_DEFAULT_TTL = String(o.defaultTtl);
  if (o.prefix !== undefined) vars.MIZAN_PREFIX = o.prefix;
  if (o.sessionCookie !== undefined) vars.MIZAN_SESSION_COOKIE = o.sessionCookie;
  /** @type {import('miniflare').WorkerOptions[]} */
  const workers = [];
  for (let i = 0; i < locations; i++) {
    workers.push({
      name: `loc${i}`,
      modules,
      compatibilityDate: COMPATIBILITY_DATE,
      bindings: { ...vars, MIZAN_EDGE_CACHE: `loc${i}` },
      durableObjects: { MIZAN_FRESHNESS: { className: 'MizanFreshness', scriptName: FRESHNESS_WORKER } },
      unsafeDirectSockets: [{ host, port: port === 0 ? 0 : port + i }],
    });
  }
  workers.push({
    name: FRESHNESS_WORKER,
    modules,
    compatibilityDate: COMPATIBILITY_DATE,
    bindings: vars,
    durableObjects: { MIZAN_FRESHNESS: 'MizanFreshness' },
  });
  return {
    host: '127.0.0.1',
    port: 0,
    workers,
    handleRuntimeStdio:
      o.stdio ??
      ((stdout, stderr) => {
        // stdout is the dev command's (one line per location); the
        // workers' console output goes to stderr.
        stdout.pipe(process.stderr);
        stderr.pipe(process.stderr);
      }),
  };
}

/**
 * startEdge bundles the worker, starts workerd and waits until every
 * location listens.
 * @param {Omit<import('./dev.d.mts').EdgeTopology, 'script'> & { script?: string }} o
 * @returns {Promise<import('./dev.d.mts').RunningEdge>}
 */
export async function startEdge(o) {
  const { Miniflare } = await import('miniflare');
  const script = o.script ?? (await bundleWorker());
  const mf = new Miniflare(edgeOptions({ ...o, script }));
  try {
    await mf.ready;
    const host = o.host ?? '127.0.0.1';
    const urls = [];
    const directURLs = [];
    for (let i = 0; i < (o.locations ?? 1); i++) {
      const direct = await mf.unsafeGetDirectURL(`loc${i}`);
      directURLs.push(direct);
      // Report the host as configured (0.0.0.0, ::), with the bound port.
      const u = new URL(direct.href);
      u.hostname = host.includes(':') ? `[${host}]` : host;
      urls.push(u);
    }
    return { mf, urls, directURLs, dispose: () => mf.dispose() };
  } catch (e) {
    await mf.dispose().catch(() => {});
    throw e;
  }
}
