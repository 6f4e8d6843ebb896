// The edge manifest (docs/manifest.md, manifest/manifest.go), read leniently:
// unknown members are ignored, absent lists are empty, so that a manifest of
// a newer or older server still reads.
import { matchRoute, parseRoute, type RoutePattern } from './routes.js';

/** One context of the manifest. */
export interface ManifestContext {
  /** The paths that fetch the context (`/api/mizan/ctx/<name>/`). */
  endpoints: string[];
  /** The context's parameters: the only query names a context fetch may carry. */
  params: string[];
  /** The parameters that are filters (they never scope a target). */
  filters: string[];
  /** Whether a parameter names a user. */
  user_scoped: boolean;
  /** `psr` or `dynamic_cached`; only `psr` pages are cached. */
  render_strategy: string;
  /** The routes (ServeMux patterns) of the context's views. */
  page_routes: string[];
  /** Whether signed-in callers share entries (no `u` in the key). */
  shared: boolean;
  /** The context's cache revision, the `r` of its keys. */
  rev: number;
  /** Seconds an edge entry lives; 0 means the edge's default. */
  cache_ttl: number;
  /** A function of the context says NoCache: no cache keeps its bundles, so the edge passes it through. */
  no_cache: boolean;
  /**
   * Who may read the context, when its functions have auth guards: `''`
   * anyone; `caller` a guard by who calls (entries are then kept per
   * caller even when shared); `request` a predicate of the request, which
   * the edge cannot run, so it passes the context through.
   */
  guard: '' | 'caller' | 'request';
}

/** One mutation of the manifest. */
export interface ManifestMutation {
  /** The contexts it invalidates. */
  affects: string[];
  /** The arguments that scope its targets. */
  auto_scoped_params: string[];
  /** The affected contexts whose targets narrow to the caller (tier 2). */
  caller_scoped: string[];
  /** The route of a view mutation or webhook, if any. */
  route?: string;
  /** The methods of that route (default POST). */
  methods?: string[];
  /** Whether it has no RPC endpoint. */
  private?: boolean;
}

/** The edge manifest. */
export interface Manifest {
  /** Contexts by name. */
  contexts: Record<string, ManifestContext>;
  /** Mutations by wire name. */
  mutations: Record<string, ManifestMutation>;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function strings(v: unknown, what: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) {
    throw new Error(`manifest: ${what} must be a list of strings`);
  }
  return v as string[];
}

function nonNegativeInt(v: unknown, what: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new Error(`manifest: ${what} must be a non-negative integer`);
  }
  return v;
}

// guardOf reads a context's guard; absent is none. An unknown guard is
// read as `request` (the strictest: never cached), not refused, so that an
// older edge stays safe in front of a newer origin.
function guardOf(v: unknown, what: string): ManifestContext['guard'] {
  if (v === undefined || v === null || v === '') return '';
  if (typeof v !== 'string') throw new Error(`manifest: ${what} must be a string`);
  return v === 'caller' ? 'caller' : 'request';
}

function bool(v: unknown, what: string): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw new Error(`manifest: ${what} must be a boolean`);
  return v;
}

function entries(v: unknown, what: string): [string, Record<string, unknown>][] {
  if (!isObject(v)) throw new Error(`manifest: "${what}" must be an object`);
  return Object.entries(v).map(([name, c]) => {
    if (!isObject(c)) throw new Error(`manifest: ${what}.${name} must be an object`);
    return [name, c];
  });
}

/**
 * parseManifest reads a manifest given as JSON text or as the decoded
 * object. It throws an Error when `contexts` or `mutations` is missing or a
 * known member has the wrong type; unknown members are ignored.
 */
export function parseManifest(input: unknown): Manifest {
  const doc: unknown = typeof input === 'string' ? (JSON.parse(input) as unknown) : input;
  if (!isObject(doc)) throw new Error('manifest: not a JSON object');
  const contexts: Record<string, ManifestContext> = Object.create(null) as Record<string, ManifestContext>;
  for (const [name, c] of entries(doc.contexts, 'contexts')) {
    const at = `contexts.${name}`;
    const rs = c.render_strategy ?? 'dynamic_cached';
    if (typeof rs !== 'string') throw new Error(`manifest: ${at}.render_strategy must be a string`);
    contexts[name] = {
      endpoints: strings(c.endpoints, at + '.endpoints'),
      params: strings(c.params, at + '.params'),
      filters: strings(c.filters, at + '.filters'),
      user_scoped: bool(c.user_scoped, at + '.user_scoped'),
      render_strategy: rs,
      page_routes: strings(c.page_routes, at + '.page_routes'),
      shared: bool(c.shared, at + '.shared'),
      rev: nonNegativeInt(c.rev, at + '.rev'),
      cache_ttl: nonNegativeInt(c.cache_ttl, at + '.cache_ttl'),
      no_cache: bool(c.no_cache, at + '.no_cache'),
      guard: guardOf(c.guard, at + '.guard'),
    };
  }
  const mutations: Record<string, ManifestMutation> = Object.create(null) as Record<string, ManifestMutation>;
  for (const [name, m] of entries(doc.mutations, 'mutations')) {
    const at = `mutations.${name}`;
    const mu: ManifestMutation = {
      affects: strings(m.affects, at + '.affects'),
      auto_scoped_params: strings(m.auto_scoped_params, at + '.auto_scoped_params'),
      caller_scoped: strings(m.caller_scoped, at + '.caller_scoped'),
    };
    if (m.route !== undefined && m.route !== null && m.route !== '') {
      if (typeof m.route !== 'string') throw new Error(`manifest: ${at}.route must be a string`);
      mu.route = m.route;
    }
    if (m.methods !== undefined && m.methods !== null) mu.methods = strings(m.methods, at + '.methods');
    if (m.private !== undefined && m.private !== null) mu.private = bool(m.private, at + '.private');
    mutations[name] = mu;
  }
  return { contexts, mutations };
}

/** What a cacheable GET is: a context fetch or a psr page, with its context. */
export type Cacheable =
  | { readonly kind: 'ctx'; readonly context: string; readonly entry: ManifestContext }
  | { readonly kind: 'page'; readonly context: string; readonly entry: ManifestContext };

interface PageRoute {
  readonly context: string;
  readonly entry: ManifestContext;
  readonly pattern: RoutePattern;
}

interface MutationRoute {
  readonly name: string;
  readonly mutation: ManifestMutation;
  readonly pattern: RoutePattern;
}

/**
 * EdgeManifest is a parsed manifest with its lookups built once: endpoints
 * by path, the psr page routes and the mutation routes parsed.
 */
export class EdgeManifest {
  /** The manifest. */
  readonly manifest: Manifest;
  readonly #endpoints = new Map<string, string>();
  readonly #pages: PageRoute[] = [];
  readonly #mutationRoutes: MutationRoute[] = [];

  /** Builds the lookups; it throws for a route pattern it cannot parse. */
  constructor(manifest: Manifest) {
    this.manifest = manifest;
    for (const [name, c] of Object.entries(manifest.contexts)) {
      if (c.no_cache || c.guard === 'request') continue;
      for (const ep of c.endpoints) this.#endpoints.set(ep, name);
      if (c.render_strategy !== 'psr') continue;
      for (const r of c.page_routes) this.#pages.push({ context: name, entry: c, pattern: parseRoute(r) });
    }
    for (const [name, m] of Object.entries(manifest.mutations)) {
      if (m.route) this.#mutationRoutes.push({ name, mutation: m, pattern: parseRoute(m.route) });
    }
  }

  /** The names of every context of the manifest. */
  contextNames(): string[] {
    return Object.keys(this.manifest.contexts);
  }

  /**
   * cacheable says what a GET or HEAD of path is: a context fetch (path is
   * one of a context's endpoints), a page (path matches a page route of a
   * psr context), or null (pass it through). Contexts marked `no_cache`
   * are never cacheable.
   */
  cacheable(path: string): Cacheable | null {
    const ctx = this.#endpoints.get(path);
    if (ctx !== undefined) {
      const entry = this.manifest.contexts[ctx]!;
      return { kind: 'ctx', context: ctx, entry };
    }
    for (const p of this.#pages) {
      if (matchRouteGET(p.pattern, path)) return { kind: 'page', context: p.context, entry: p.entry };
    }
    return null;
  }

  /** mutation returns the manifest entry of the mutation named name, if any. */
  mutation(name: string): ManifestMutation | undefined {
    return Object.prototype.hasOwnProperty.call(this.manifest.mutations, name)
      ? this.manifest.mutations[name]
      : undefined;
  }

  /**
   * mutationAt returns the mutation whose route and methods match the
   * request, when exactly one does (none, or several, give undefined: no
   * tier-2 narrowing is then safe).
   */
  mutationAt(method: string, path: string): ManifestMutation | undefined {
    const found = this.#mutationRoutes.filter((r) => {
      const methods = r.mutation.methods && r.mutation.methods.length > 0 ? r.mutation.methods : ['POST'];
      if (r.pattern.method === undefined && !methods.includes(method)) return false;
      return matchRoute(r.pattern, path, method) !== null;
    });
    return found.length === 1 ? found[0]!.mutation : undefined;
  }
}

function matchRouteGET(p: RoutePattern, path: string): boolean {
  return matchRoute(p, path, 'GET') !== null;
}
