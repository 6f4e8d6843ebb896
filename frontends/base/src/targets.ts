/** A context parameter value on the wire (docs/spec.md §4). */
export type ParamValue = string | number | boolean;
/** Context parameters; an undefined value is omitted. */
export type Params = Record<string, ParamValue | undefined>;

/** An invalidation target in any of the three body forms (docs/spec.md §3). */
export type TargetInput =
  | string
  | { context: string; function?: string; params?: Record<string, ParamValue> };

/** A target normalised by the kernel: params stringified. */
export interface Target {
  context: string;
  function?: string;
  params: Record<string, string>;
}

/**
 * stringifyParams returns params with undefined values dropped and every
 * value stringified as docs/spec.md §4 says (integers in decimal, booleans
 * `true`/`false`, strings unchanged), keys in sorted order.
 */
export function stringifyParams(params?: Params | null): Record<string, string> {
  const entries: [string, string][] = [];
  if (params) {
    for (const k of Object.keys(params).sort()) {
      const v = params[k];
      if (v !== undefined && v !== null) entries.push([k, String(v)]);
    }
  }
  // fromEntries defines own properties, so a "__proto__" key stays data.
  return Object.fromEntries(entries);
}

/** queryString formats stringified params as `a=1&b=x%20y`, sorted by name. */
export function queryString(params: Record<string, string>): string {
  return Object.keys(params)
    .sort()
    .map((k) => encodeURIComponent(k) + '=' + encodeURIComponent(params[k] as string))
    .join('&');
}

/**
 * instanceKey is the key of the context instance for (context, params): the
 * context name, then `?` and the stringified params sorted by name and
 * percent-encoded as in a query string when there are any, for example
 * `user?user_id=5`. ClientOptions.initialData is keyed by it.
 */
export function instanceKey(context: string, params?: Params): string {
  const q = queryString(stringifyParams(params));
  return q ? context + '?' + q : context;
}

/** toTarget normalises a target given in any body form (or already parsed). */
export function toTarget(t: TargetInput): Target {
  if (typeof t === 'string') return { context: t, params: {} };
  const out: Target = { context: t.context, params: stringifyParams(t.params) };
  if (t.function) out.function = t.function;
  return out;
}

/** What a matching target asks a consumer to refresh (docs/spec.md §3, "Matching"). */
export type Refetch =
  | { readonly refetch: 'instance' }
  | { readonly refetch: 'function'; readonly function: string };

/** The instance side of matching: a context and its params, stringified (a ContextInstance is one). */
export interface InstanceRef {
  readonly context: string;
  readonly params: Readonly<Record<string, string>>;
}

const wholeInstance: Refetch = { refetch: 'instance' };

/**
 * matchTarget is the kernel's one matching rule (docs/spec.md §3,
 * "Matching"; vectors testdata/vectors/target-match.json): it returns null
 * when target t does not apply to instance, else what to refresh. t applies
 * iff it names the instance's context (case-sensitive) and the instance
 * agrees with every target param, compared as strings byte for byte; an
 * instance that omits a target param matches (it may well show the affected
 * rows: a filter left out shows them all), so a broad target matches every
 * instance of its context. A function-level target matches the same
 * instances and asks for that function's part only; a consumer that cannot
 * refresh one function refreshes the instance.
 */
export function matchTarget(t: Target, instance: InstanceRef): Refetch | null {
  if (t.context !== instance.context) return null;
  const p = instance.params;
  for (const k of Object.keys(t.params)) {
    if (Object.hasOwn(p, k) && p[k] !== t.params[k]) return null;
  }
  return t.function ? { refetch: 'function', function: t.function } : wholeInstance;
}

/** matches reports whether target t applies to the instance of context with params: matchTarget(...) !== null. */
export function matches(t: Target, context: string, params: Record<string, string>): boolean {
  return matchTarget(t, { context, params }) !== null;
}
