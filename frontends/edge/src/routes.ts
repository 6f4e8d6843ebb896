// Go 1.22 net/http.ServeMux patterns, as the manifest's page_routes and
// mutation routes hold them: `[METHOD ][HOST]/path`, with `{name}` (one
// segment), `{name...}` (the rest, last only), `{$}` (the end, after a
// trailing slash only) and a trailing slash meaning "this prefix".

type Segment =
  | { readonly kind: 'literal'; readonly value: string }
  | { readonly kind: 'wild'; readonly name: string }
  | { readonly kind: 'multi'; readonly name: string };

/** A parsed route pattern (see {@link parseRoute}). */
export interface RoutePattern {
  /** The pattern as written. */
  readonly source: string;
  /** The method the pattern names, if any (a GET pattern also matches HEAD). */
  readonly method?: string;
  /** The host the pattern names, if any (the edge ignores it). */
  readonly host?: string;
  /** The path segments. */
  readonly segments: readonly Segment[];
}

const wildRe = /^\{([A-Za-z_][A-Za-z0-9_]*)(\.\.\.)?\}$/;

function unescapePath(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

/**
 * parseRoute parses a ServeMux pattern. It throws for what Go refuses: no
 * path, a wildcard that is not a whole segment, `{x...}` or `{$}` not at
 * the end, or a repeated wildcard name.
 */
export function parseRoute(source: string): RoutePattern {
  let rest = source.trim();
  let method: string | undefined;
  const sp = rest.search(/[ \t]/);
  if (sp >= 0) {
    method = rest.slice(0, sp);
    rest = rest.slice(sp).trim();
    if (!/^[A-Z]+$/.test(method)) throw new Error(`route ${JSON.stringify(source)}: bad method`);
  }
  const slash = rest.indexOf('/');
  if (slash < 0) throw new Error(`route ${JSON.stringify(source)}: no path`);
  const host = slash > 0 ? rest.slice(0, slash) : undefined;
  const parts = rest.slice(slash + 1).split('/');
  const segments: Segment[] = [];
  const names = new Set<string>();
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const last = i === parts.length - 1;
    if (part === '') {
      // A trailing slash: an anonymous "rest of the path" wildcard. An empty
      // segment elsewhere ("//") is a literal empty segment.
      segments.push(last ? { kind: 'multi', name: '' } : { kind: 'literal', value: '' });
      continue;
    }
    if (part === '{$}') {
      if (!last) throw new Error(`route ${JSON.stringify(source)}: {$} not at the end`);
      // "/a/{$}" matches "/a/" exactly: the final segment is the trailing slash.
      segments.push({ kind: 'literal', value: '/' });
      continue;
    }
    const m = wildRe.exec(part);
    if (m) {
      const name = m[1]!;
      if (names.has(name)) throw new Error(`route ${JSON.stringify(source)}: wildcard ${name} twice`);
      names.add(name);
      if (m[2]) {
        if (!last) throw new Error(`route ${JSON.stringify(source)}: {${name}...} not at the end`);
        segments.push({ kind: 'multi', name });
      } else {
        segments.push({ kind: 'wild', name });
      }
      continue;
    }
    if (part.includes('{') || part.includes('}')) {
      throw new Error(`route ${JSON.stringify(source)}: a wildcard must be a whole segment`);
    }
    const value = unescapePath(part);
    if (value === null) throw new Error(`route ${JSON.stringify(source)}: bad escape`);
    segments.push({ kind: 'literal', value });
  }
  const out: { -readonly [K in keyof RoutePattern]: RoutePattern[K] } = { source, segments };
  if (method !== undefined) out.method = method;
  if (host !== undefined) out.host = host;
  return out;
}

// firstSegment is Go's: "/a/b" gives ("a", "/b"); "/" gives ("/", "") (the
// trailing slash); segments are unescaped.
function firstSegment(path: string): [string | null, string] {
  if (path === '/') return ['/', ''];
  const i = path.indexOf('/', 1);
  const end = i < 0 ? path.length : i;
  return [unescapePath(path.slice(1, end)), path.slice(end)];
}

function matchFrom(segs: readonly Segment[], i: number, path: string, out: Record<string, string>): boolean {
  if (path === '') return i === segs.length;
  const seg = segs[i];
  if (!seg) return false;
  if (seg.kind === 'multi') {
    if (seg.name) {
      const rest = unescapePath(path.slice(1));
      if (rest === null) return false;
      out[seg.name] = rest;
    }
    return true;
  }
  const [s, rest] = firstSegment(path);
  if (s === null) return false;
  if (seg.kind === 'literal') return s === seg.value && matchFrom(segs, i + 1, rest, out);
  // A single wildcard never matches the trailing slash, nor an empty
  // segment (ServeMux redirects such unclean paths before matching).
  if (s === '/' || s === '') return false;
  out[seg.name] = s;
  return matchFrom(segs, i + 1, rest, out);
}

/**
 * matchRoute returns the wildcard values when pattern matches the request
 * path (and method, when both are given), else null. `path` is the URL's
 * pathname as sent (escaped); segments are compared unescaped, as
 * ServeMux does. The host part of a pattern is not checked.
 */
export function matchRoute(pattern: RoutePattern, path: string, method?: string): Record<string, string> | null {
  if (pattern.method !== undefined && method !== undefined) {
    const ok = pattern.method === method || (pattern.method === 'GET' && method === 'HEAD');
    if (!ok) return null;
  }
  if (!path.startsWith('/')) return null;
  const out: Record<string, string> = {};
  return matchFrom(pattern.segments, 0, path, out) ? out : null;
}
