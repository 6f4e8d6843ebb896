// The edge's fetch handler (docs/spec.md §11): caches context fetches and
// psr pages per caller, checked against the context's freshness object on
// every hit; passes everything else through, purging on the way back when a
// response carries X-Mizan-Invalidate; and answers the origin's signed purge
// posts.
import { parseInvalidateHeader, type Target } from '@mizan/base';
import { base64urlDecode, base64urlEncode, utf8 } from './crypto.js';
import type { MizanFreshness } from './durable.js';
import {
  freshnessName,
  isInstanceItem,
  REPLAY_OBJECT,
  type CheckItem,
  type FreshnessToken,
  type InstanceItem,
  type PurgeItem,
} from './freshness.js';
import { contextKey, pageKey, userHash } from './keys.js';
import { EdgeManifest, parseManifest, type Manifest, type ManifestMutation } from './manifest.js';
import { verifyMWT } from './mwt.js';
import { broadTargets, parseBodyTargets, planPurge } from './purge.js';
import { replayExpiry, verifyPurge } from './signature.js';

/** The Worker's environment: vars, secrets and the Durable Object binding. */
export interface EdgeEnv {
  /** The origin's base URL, e.g. `https://origin.example` or `http://127.0.0.1:8766`. */
  MIZAN_ORIGIN: string;
  /** The manifest (JSON text, or the object itself); used when createEdge got none. */
  MIZAN_MANIFEST?: string | object;
  /** Verifies MWTs (`X-Mizan-Token` or the `mizan_mwt` cookie). */
  MIZAN_MWT_SECRET?: string;
  /** Keys the cache entries and hashes user ids. */
  MIZAN_EDGE_KEY_SECRET?: string;
  /** Authenticates the origin's purge posts. */
  MIZAN_EDGE_PURGE_SECRET?: string;
  /** The name of the cache (`caches.open`); absent: `caches.default`. */
  MIZAN_EDGE_CACHE?: string;
  /** Seconds an entry lives when its context has no `cache_ttl`; default 60. */
  MIZAN_EDGE_DEFAULT_TTL?: string | number;
  /** The session cookie's name (a credential); default `mizan_session`. */
  MIZAN_SESSION_COOKIE?: string;
  /** The app's API prefix; default `/api/mizan/`. */
  MIZAN_PREFIX?: string;
  /** The freshness objects (class MizanFreshness). */
  MIZAN_FRESHNESS: DurableObjectNamespace<MizanFreshness>;
}

/** Options of {@link createEdge}. */
export interface EdgeOptions {
  /** The manifest, parsed or as JSON text; without it the Worker reads `MIZAN_MANIFEST`. */
  manifest?: Manifest | string | object;
}

/** The response header saying what the edge did: `hit`, `miss` or `bypass`. */
export const EDGE_HEADER = 'X-Mizan-Edge';
/** The request header asking the origin to name the instance it serves (X-Mizan-Instance). */
export const EDGE_REQUEST_HEADER = 'X-Mizan-Edge-Request';
/** The header of stored entries holding their metadata; never sent to clients. */
export const META_HEADER = 'X-Mizan-Edge-Meta';
/** Set to `failed` when a purge could not be recorded before answering. */
export const PURGE_FAILED_HEADER = 'X-Mizan-Edge-Purge';
/** The path of the purge endpoint. */
export const PURGE_PATH = '/__mizan/purge';
/** The cookie the MWT may travel in, instead of `X-Mizan-Token`. */
export const MWT_COOKIE = 'mizan_mwt';
/** The largest purge post body, bytes. */
export const MAX_PURGE_BODY = 1 << 20;
/** The largest call/ body the edge reads to learn the mutation's name, bytes. */
export const MAX_CALL_PEEK = 64 << 10;

const DEFAULT_TTL = 60;
const CACHE_ORIGIN = 'https://mizan-edge.invalid/';
// Stripped from every response to a client.
const ORIGIN_ONLY = ['x-mizan-identity', 'x-mizan-instance', 'x-mizan-edge-meta', 'x-mizan-edge-purge'];
// Replaced in stored copies (the Cache API obeys them), restored on hits.
const KEPT_ASIDE = ['cache-control', 'expires', 'pragma', 'vary'];

type Outcome = 'hit' | 'miss' | 'bypass';

interface Config {
  readonly origin: string;
  readonly manifest: EdgeManifest | null;
  readonly mwtSecret: string;
  readonly keySecret: string;
  readonly purgeSecret: string;
  readonly cacheName: string | undefined;
  readonly defaultTtl: number;
  readonly sessionCookie: string;
  readonly prefix: string;
}

// Entry metadata, stored base64url(JSON) in META_HEADER.
interface EntryMeta {
  readonly v: 1;
  /** The instances the origin said it served. */
  readonly i: { readonly c: string; readonly p: Record<string, string> }[];
  /** The user hash of a per-user entry. */
  readonly u?: string;
  /** Freshness tokens by context. */
  readonly t: Record<string, FreshnessToken>;
  /** The origin's values of KEPT_ASIDE headers. */
  readonly h: Record<string, string>;
}

let loggedManifest = '';

function loadManifest(input: unknown): EdgeManifest | null {
  if (input === undefined || input === null || input === '') return null;
  try {
    if (input instanceof EdgeManifest) return input;
    return new EdgeManifest(parseManifest(input));
  } catch (e) {
    const msg = (e as Error).message;
    if (msg !== loggedManifest) {
      loggedManifest = msg;
      console.error(`mizan-edge: the manifest cannot be read, passing every request through: ${msg}`);
    }
    return null;
  }
}

function positiveInt(v: unknown, dflt: number): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
  return Number.isSafeInteger(n) && n > 0 ? n : dflt;
}

function buildConfig(env: EdgeEnv, manifest: EdgeManifest | null): Config {
  let prefix = env.MIZAN_PREFIX || '/api/mizan/';
  if (!prefix.startsWith('/')) prefix = '/' + prefix;
  if (!prefix.endsWith('/')) prefix += '/';
  return {
    origin: String(env.MIZAN_ORIGIN ?? '').replace(/\/+$/, ''),
    manifest,
    mwtSecret: env.MIZAN_MWT_SECRET ?? '',
    keySecret: env.MIZAN_EDGE_KEY_SECRET ?? '',
    purgeSecret: env.MIZAN_EDGE_PURGE_SECRET ?? '',
    cacheName: env.MIZAN_EDGE_CACHE || undefined,
    defaultTtl: positiveInt(env.MIZAN_EDGE_DEFAULT_TTL, DEFAULT_TTL),
    sessionCookie: env.MIZAN_SESSION_COOKIE || 'mizan_session',
    prefix,
  };
}

/**
 * createEdge returns the edge's Worker handler. With `opts.manifest` the
 * manifest is fixed (bundle it: `import manifest from './manifest.json'`);
 * without it, it is read from `env.MIZAN_MANIFEST` (once per isolate). The
 * Worker module must also export {@link MizanFreshness}, bound as
 * `MIZAN_FRESHNESS`.
 */
export function createEdge(opts: EdgeOptions = {}): ExportedHandler<EdgeEnv> {
  const fixed = opts.manifest !== undefined ? loadManifest(opts.manifest) : undefined;
  if (opts.manifest !== undefined && fixed === null) throw new Error('mizan-edge: the manifest given to createEdge cannot be read');
  const configs = new WeakMap<object, Config>();
  let envManifest: { raw: unknown; parsed: EdgeManifest | null } | undefined;
  const config = (env: EdgeEnv): Config => {
    let c = configs.get(env);
    if (!c) {
      let m: EdgeManifest | null;
      if (fixed !== undefined) m = fixed;
      else {
        if (!envManifest || envManifest.raw !== env.MIZAN_MANIFEST) {
          envManifest = { raw: env.MIZAN_MANIFEST, parsed: loadManifest(env.MIZAN_MANIFEST) };
        }
        m = envManifest.parsed;
      }
      c = buildConfig(env, m);
      configs.set(env, c);
    }
    return c;
  };
  return {
    async fetch(request, env): Promise<Response> {
      const cfg = config(env);
      const url = new URL(request.url);
      try {
        if (url.pathname === PURGE_PATH) return await purgeEndpoint(request, cfg, env);
        if ((request.method === 'GET' || request.method === 'HEAD') && cfg.manifest) {
          const c = cfg.manifest.cacheable(url.pathname);
          if (c) return await cached(request, url, c, cfg, env);
        }
        return await passThrough(request, url, cfg, env);
      } catch (e) {
        // In practice: the origin cannot be reached (fetch threw).
        console.error(`mizan-edge: ${request.method} ${url.pathname}: ${String(e)}`);
        return errorResponse(503, 'unavailable', 'The origin cannot be reached.');
      }
    },
  };
}

// ---------------------------------------------------------------------------
// Talking to the origin, answering the client.

function originURL(cfg: Config, url: URL): string {
  return cfg.origin + url.pathname + url.search;
}

function forwardHeaders(request: Request, url: URL): Headers {
  const h = new Headers(request.headers);
  h.set('X-Forwarded-Host', url.host);
  h.set('X-Forwarded-Proto', url.protocol.replace(/:$/, ''));
  // Asks the origin for X-Mizan-Instance (docs/spec.md §13.8).
  h.set(EDGE_REQUEST_HEADER, '1');
  return h;
}

function clientHeaders(from: Headers, outcome: Outcome): Headers {
  const h = new Headers(from);
  for (const k of ORIGIN_ONLY) h.delete(k);
  h.set(EDGE_HEADER, outcome);
  return h;
}

function answer(res: Response, outcome: Outcome, purgeFailed = false, body: BodyInit | null = res.body): Response {
  const headers = clientHeaders(res.headers, outcome);
  if (purgeFailed) headers.set(PURGE_FAILED_HEADER, 'failed');
  if (res.status === 101 && res.webSocket) {
    return new Response(null, { status: 101, webSocket: res.webSocket, headers });
  }
  return new Response(body, { status: res.status, statusText: res.statusText, headers });
}

function errorResponse(status: number, code: string, message: string): Response {
  return new Response(JSON.stringify({ error: { code, message } }), {
    status,
    headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', [EDGE_HEADER]: 'bypass' },
  });
}

function parseCookies(header: string | null): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (name && !out.has(name)) out.set(name, part.slice(eq + 1).trim());
  }
  return out;
}

// ---------------------------------------------------------------------------
// Freshness objects.

function freshness(env: EdgeEnv, name: string): DurableObjectStub<MizanFreshness> {
  return env.MIZAN_FRESHNESS.get(env.MIZAN_FRESHNESS.idFromName(name));
}

async function begin(env: EdgeEnv, context: string): Promise<FreshnessToken | null> {
  try {
    const t = await freshness(env, freshnessName(context)).begin();
    return { epoch: t.epoch, seq: t.seq };
  } catch (e) {
    console.error(`mizan-edge: freshness begin for context ${context} failed: ${String(e)}`);
    return null;
  }
}

async function isFresh(env: EdgeEnv, meta: EntryMeta): Promise<boolean> {
  const byContext = new Map<string, CheckItem[]>();
  for (const inst of meta.i) {
    const tok = Object.prototype.hasOwnProperty.call(meta.t, inst.c) ? meta.t[inst.c] : undefined;
    if (!tok) return false;
    const item: CheckItem =
      meta.u === undefined
        ? { context: inst.c, params: inst.p, epoch: tok.epoch, seq: tok.seq }
        : { context: inst.c, params: inst.p, uid: meta.u, epoch: tok.epoch, seq: tok.seq };
    let g = byContext.get(inst.c);
    if (!g) byContext.set(inst.c, (g = []));
    g.push(item);
  }
  if (byContext.size === 0) return false;
  try {
    const answers = await Promise.all(
      [...byContext].map(([c, items]) => freshness(env, freshnessName(c)).check(items)),
    );
    return answers.every((a) => a === true);
  } catch (e) {
    console.error(`mizan-edge: freshness check failed: ${String(e)}`);
    return false;
  }
}

const PURGE_ATTEMPTS = 4; // the first try and three retries

/** applyPurges records every group in its context's freshness object, in parallel; false when one failed for good. */
async function applyPurges(env: EdgeEnv, groups: Map<string, PurgeItem[]>): Promise<boolean> {
  const results = await Promise.all(
    [...groups].map(async ([context, items]) => {
      let last: unknown;
      for (let i = 0; i < PURGE_ATTEMPTS; i++) {
        try {
          await freshness(env, freshnessName(context)).purge(items);
          return true;
        } catch (e) {
          last = e;
        }
      }
      console.error(`mizan-edge: purging context ${context} failed ${PURGE_ATTEMPTS} times: ${String(last)}`);
      return false;
    }),
  );
  return results.every(Boolean);
}

async function callerUid(cfg: Config, caller: string | null | undefined): Promise<string | undefined> {
  if (!caller || caller === 'anonymous' || !cfg.keySecret) return undefined;
  return userHash(cfg.keySecret, caller);
}

/**
 * purgeForResponse applies the X-Mizan-Invalidate header of an origin
 * response before it is answered. It returns false when a purge failed.
 */
async function purgeForResponse(
  res: Response,
  cfg: Config,
  env: EdgeEnv,
  mutation: ManifestMutation | undefined,
): Promise<boolean> {
  const header = res.headers.get('x-mizan-invalidate');
  if (header === null) return true;
  let targets: Target[];
  try {
    targets = parseInvalidateHeader(header);
  } catch (e) {
    // Never skip: a header that cannot be read purges every context broadly.
    console.error(`mizan-edge: unreadable X-Mizan-Invalidate, purging every context: ${(e as Error).message}`);
    targets = broadTargets(cfg.manifest?.contextNames() ?? []);
    mutation = undefined;
  }
  const uid = await callerUid(cfg, res.headers.get('x-mizan-identity'));
  return applyPurges(env, planPurge(targets, mutation, uid));
}

// ---------------------------------------------------------------------------
// Pass-through.

function readFn(body: ArrayBuffer): string | undefined {
  try {
    const v = JSON.parse(new TextDecoder().decode(body)) as unknown;
    if (typeof v === 'object' && v !== null && typeof (v as { fn?: unknown }).fn === 'string') {
      return (v as { fn: string }).fn;
    }
  } catch {
    // not JSON: no narrowing
  }
  return undefined;
}

async function passThrough(request: Request, url: URL, cfg: Config, env: EdgeEnv): Promise<Response> {
  let body: BodyInit | null = request.method === 'GET' || request.method === 'HEAD' ? null : request.body;
  let mutation: ManifestMutation | undefined;
  if (cfg.manifest && request.method === 'POST' && url.pathname === cfg.prefix + 'call/') {
    const len = request.headers.get('content-length');
    if (len !== null && /^\d+$/.test(len) && Number(len) <= MAX_CALL_PEEK) {
      const buf = await request.arrayBuffer();
      body = buf;
      const fn = readFn(buf);
      if (fn !== undefined) mutation = cfg.manifest.mutation(fn);
    }
  } else if (cfg.manifest && request.method !== 'GET' && request.method !== 'HEAD') {
    mutation = cfg.manifest.mutationAt(request.method, url.pathname);
  }
  const res = await fetch(originURL(cfg, url), {
    method: request.method,
    headers: forwardHeaders(request, url),
    body,
    redirect: 'manual',
  });
  const ok = await purgeForResponse(res, cfg, env, mutation);
  return answer(res, 'bypass', !ok);
}

// ---------------------------------------------------------------------------
// Cacheable requests.

function encodeMeta(m: EntryMeta): string {
  return base64urlEncode(utf8(JSON.stringify(m)));
}

function decodeMeta(v: string | null): EntryMeta | null {
  if (!v) return null;
  const bytes = base64urlDecode(v);
  if (!bytes) return null;
  try {
    const m = JSON.parse(new TextDecoder().decode(bytes)) as EntryMeta;
    if (m.v !== 1 || !Array.isArray(m.i) || typeof m.t !== 'object' || m.t === null) return null;
    if (typeof m.h !== 'object' || m.h === null) return null;
    if (m.u !== undefined && typeof m.u !== 'string') return null;
    for (const i of m.i) if (!isInstanceItem({ context: i.c, params: i.p })) return null;
    return m;
  } catch {
    return null;
  }
}

/**
 * queryParams returns the query as a map, decoded as the origin (Go's
 * url.ParseQuery) decodes it, or null when the edge should not key it: a
 * name repeats, a ';' (which the origin refuses), or an escape that is
 * malformed or not UTF-8 (URLSearchParams would read `%zz` as itself and
 * `%FF` as U+FFFD, so two queries the origin tells apart would share an
 * entry).
 */
function queryParams(url: URL): Record<string, string> | null {
  const out: Record<string, string> = {};
  const raw = url.search.startsWith('?') ? url.search.slice(1) : url.search;
  for (const pair of raw.split('&')) {
    if (pair === '') continue;
    if (pair.includes(';')) return null;
    const eq = pair.indexOf('=');
    const k = strictDecode(eq < 0 ? pair : pair.slice(0, eq));
    const v = strictDecode(eq < 0 ? '' : pair.slice(eq + 1));
    if (k === null || v === null || Object.prototype.hasOwnProperty.call(out, k)) return null;
    out[k] = v;
  }
  return out;
}

/** strictDecode percent-decodes a query component ('+' is a space), or null when it is malformed or not UTF-8. */
function strictDecode(s: string): string | null {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return null;
  }
}

async function openCache(cfg: Config): Promise<Cache> {
  return cfg.cacheName ? caches.open(cfg.cacheName) : caches.default;
}

async function cached(
  request: Request,
  url: URL,
  c: NonNullable<ReturnType<EdgeManifest['cacheable']>>,
  cfg: Config,
  env: EdgeEnv,
): Promise<Response> {
  const bypass = (): Promise<Response> => passThrough(request, url, cfg, env);
  if (!cfg.keySecret || request.headers.has('range') || request.headers.has('upgrade')) return bypass();
  const cookies = parseCookies(request.headers.get('cookie'));
  const token = request.headers.get('x-mizan-token') ?? cookies.get(MWT_COOKIE);
  const claims = token && cfg.mwtSecret ? await verifyMWT(token, cfg.mwtSecret) : null;
  const credentials = request.headers.has('authorization') || cookies.has(cfg.sessionCookie);
  if (credentials && !claims) return bypass();
  const params = queryParams(url);
  if (!params) return bypass();
  if (c.kind === 'ctx' && Object.keys(params).some((k) => !c.entry.params.includes(k))) return bypass();

  const identity = claims ? claims.sub : 'anonymous';
  // Per caller: a user-scoped or not shared context, a guarded one (the
  // edge cannot run the guard: an entry is only ever served to the caller
  // the origin let read it), and every page (a view may read the caller
  // even in a shared context).
  const userKeyed = c.kind === 'page' || c.entry.user_scoped || !c.entry.shared || c.entry.guard === 'caller';
  const user = userKeyed && claims ? claims.sub : undefined;
  const key =
    c.kind === 'ctx'
      ? await contextKey(cfg.keySecret, c.context, params, c.entry.rev, user)
      : await pageKey(cfg.keySecret, c.context, url.pathname, params, c.entry.rev, user);
  const uid = user !== undefined ? await userHash(cfg.keySecret, user) : undefined;
  const cacheReq = new Request(CACHE_ORIGIN + key);

  let cache: Cache | null = null;
  try {
    cache = await openCache(cfg);
    const hit = await cache.match(cacheReq);
    if (hit) {
      const meta = decodeMeta(hit.headers.get(META_HEADER));
      if (meta && meta.u === uid && (await isFresh(env, meta))) return serveHit(hit, meta, request.method);
      await cache.delete(cacheReq);
    }
  } catch (e) {
    console.error(`mizan-edge: cache lookup failed: ${String(e)}`);
  }

  // Miss. A HEAD is passed on as it is, and not stored.
  if (request.method === 'HEAD') {
    const res = await fetch(originURL(cfg, url), { method: 'HEAD', headers: forwardHeaders(request, url), redirect: 'manual' });
    const ok = await purgeForResponse(res, cfg, env, undefined);
    return answer(res, 'miss', !ok);
  }
  const tok = cache ? await begin(env, c.context) : null;
  const res = await fetch(originURL(cfg, url), { method: 'GET', headers: forwardHeaders(request, url), redirect: 'manual' });
  if (res.headers.has('x-mizan-invalidate')) {
    const ok = await purgeForResponse(res, cfg, env, undefined);
    return answer(res, 'miss', !ok);
  }
  const instances = tok && cache ? storableInstances(res, identity, c.context) : null;
  if (!instances || !cache || !tok) return answer(res, 'miss');

  const body = await res.arrayBuffer();
  const kept: Record<string, string> = {};
  const stored = new Headers(res.headers);
  for (const k of KEPT_ASIDE) {
    const v = stored.get(k);
    if (v !== null) kept[k] = v;
    stored.delete(k);
  }
  for (const k of ORIGIN_ONLY) stored.delete(k);
  stored.delete('set-cookie');
  stored.delete('content-length');
  const ttl = c.entry.cache_ttl > 0 ? c.entry.cache_ttl : cfg.defaultTtl;
  stored.set('Cache-Control', `max-age=${ttl}`);
  const meta: EntryMeta = {
    v: 1,
    i: instances.map((i) => ({ c: i.context, p: { ...i.params } })),
    ...(uid !== undefined ? { u: uid } : {}),
    t: { [c.context]: tok },
    h: kept,
  };
  stored.set(META_HEADER, encodeMeta(meta));
  try {
    await cache.put(cacheReq, new Response(body, { status: 200, headers: stored }));
  } catch (e) {
    console.error(`mizan-edge: cache put failed: ${String(e)}`);
  }
  const headers = clientHeaders(res.headers, 'miss');
  headers.delete('content-length');
  return new Response(body, { status: res.status, statusText: res.statusText, headers });
}

/**
 * storableInstances returns the instances the origin says it served when
 * the response may be stored: a 200, X-Mizan-Identity equal to the
 * request's identity, and an X-Mizan-Instance that parses and names only
 * context (the one a token was taken for). Otherwise null.
 */
function storableInstances(res: Response, identity: string, context: string): InstanceItem[] | null {
  if (res.status !== 200) return null;
  if (res.headers.get('x-mizan-identity') !== identity) return null;
  const inst = res.headers.get('x-mizan-instance');
  if (inst === null) return null;
  let targets: Target[];
  try {
    targets = parseInvalidateHeader(inst);
  } catch {
    return null;
  }
  if (targets.some((t) => t.context !== context)) return null;
  return targets.map((t) => ({ context: t.context, params: t.params }));
}

function serveHit(hit: Response, meta: EntryMeta, method: string): Response {
  const headers = clientHeaders(hit.headers, 'hit');
  for (const k of KEPT_ASIDE) headers.delete(k);
  headers.delete('cf-cache-status');
  headers.delete('age');
  for (const [k, v] of Object.entries(meta.h)) headers.set(k, v);
  return new Response(method === 'HEAD' ? null : hit.body, { status: hit.status, headers });
}

// ---------------------------------------------------------------------------
// The purge endpoint.

/** readLimited reads the body as UTF-8 text: null when larger than max bytes, undefined when not UTF-8. */
async function readLimited(request: Request, max: number): Promise<string | null | undefined> {
  const len = request.headers.get('content-length');
  if (len !== null && /^\d+$/.test(len) && Number(len) > max) return null;
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.byteLength;
  }
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(all);
  } catch {
    return undefined;
  }
}

interface PurgePost {
  readonly targets: Target[];
  readonly mutation: string;
  readonly caller: string | null;
}

function parsePurgePost(raw: string): PurgePost | null {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  if (typeof o.id !== 'string') return null;
  const targets = parseBodyTargets(o.targets);
  if (!targets) return null;
  const mutation = o.mutation ?? '';
  if (typeof mutation !== 'string') return null;
  const caller = o.caller ?? null;
  if (caller !== null && typeof caller !== 'string') return null;
  return { targets, mutation, caller };
}

async function purgeEndpoint(request: Request, cfg: Config, env: EdgeEnv): Promise<Response> {
  if (request.method !== 'POST') {
    const r = errorResponse(405, 'method_not_allowed', 'The purge endpoint takes POST only.');
    r.headers.set('Allow', 'POST');
    return r;
  }
  const raw = await readLimited(request, MAX_PURGE_BODY);
  if (raw === null) return errorResponse(413, 'payload_too_large', 'The purge body is larger than 1 MiB.');
  if (raw === undefined) return errorResponse(400, 'invalid_args', 'The purge body is not UTF-8.');
  const auth = await verifyPurge(
    cfg.purgeSecret,
    request.headers.get('x-mizan-timestamp'),
    request.headers.get('x-mizan-signature'),
    raw,
  );
  if (!auth.ok) return errorResponse(401, 'unauthorized', 'The purge signature is missing, wrong or stale.');
  const post = parsePurgePost(raw);
  if (!post) return errorResponse(400, 'invalid_args', 'The purge body is not a purge.');
  const replay = freshness(env, REPLAY_OBJECT);
  try {
    if (await replay.replaySeen(auth.signature)) {
      return errorResponse(409, 'replayed', 'This purge was already applied.');
    }
  } catch (e) {
    console.error(`mizan-edge: replay memory failed: ${String(e)}`);
    return errorResponse(503, 'unavailable', 'The purge could not be recorded; retry.');
  }
  const mutation = post.mutation && cfg.manifest ? cfg.manifest.mutation(post.mutation) : undefined;
  const uid = await callerUid(cfg, post.caller);
  if (!(await applyPurges(env, planPurge(post.targets, mutation, uid)))) {
    return errorResponse(503, 'unavailable', 'The purge could not be recorded; retry.');
  }
  try {
    await replay.replayRecord(auth.signature, replayExpiry(auth.timestamp));
  } catch (e) {
    // The purge is applied: a replay would only purge again.
    console.error(`mizan-edge: recording the purge signature failed: ${String(e)}`);
  }
  return new Response(JSON.stringify({ purged: post.targets.length }), {
    status: 200,
    headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', [EDGE_HEADER]: 'bypass' },
  });
}
