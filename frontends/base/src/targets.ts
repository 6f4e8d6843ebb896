/** A context parameter value on the wire (PROTOCOL.md §4). */
export type ParamValue = string | number | boolean;
/** Context parameters; an undefined value is omitted. */
export type Params = Record<string, ParamValue | undefined>;

/** An invalidation target in any of the three body forms (PROTOCOL.md §3). */
export type TargetInput =
  | string
  | { context: string; function?: string; params?: Record<string, ParamValue> };

/** A target normalised by the kernel: params stringified. */
export interface Target {
  context: string;
  function?: string;
  params: Record<string, string>;
}

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/**
 * stringifyParams returns params with undefined values dropped and every
 * value stringified as PROTOCOL.md §4 says (integers in decimal, booleans
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

/**
 * matches reports whether target t applies to the instance of context with
 * params: same context, and the instance agrees with every target param,
 * compared as strings. An instance that omits a target param matches: it
 * may well show the affected rows (a filter left out shows them all).
 */
export function matches(t: Target, context: string, params: Record<string, string>): boolean {
  if (t.context !== context) return false;
  for (const k of Object.keys(t.params)) {
    if (hasOwn(params, k) && params[k] !== t.params[k]) return false;
  }
  return true;
}
