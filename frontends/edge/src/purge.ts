// From invalidation targets to freshness-log purges: body-form targets (the
// purge post), tier-2 narrowing to the caller (docs/spec.md §3, §11) and the
// grouping by context (one freshness object per context).
import { toTarget, type ParamValue, type Target } from '@mizan/base';
import type { PurgeItem } from './freshness.js';
import type { ManifestMutation } from './manifest.js';

const nameRe = /^[A-Za-z0-9_.-]+$/;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * parseBodyTarget reads one body-form target (docs/spec.md §3): `"user"`,
 * `{"context": "user", "params": {...}}` or the function-level form. It
 * returns null for anything else. A number that is not a safe integer
 * (JSON.parse may have rounded it, so its string could name another
 * instance) is dropped from the params, which widens the target: a purge
 * may purge more than asked, never less.
 */
export function parseBodyTarget(v: unknown): Target | null {
  if (typeof v === 'string') return nameRe.test(v) ? { context: v, params: {} } : null;
  if (!isObject(v)) return null;
  const { context, function: fn, params } = v;
  if (typeof context !== 'string' || !nameRe.test(context)) return null;
  if (fn !== undefined && fn !== null && (typeof fn !== 'string' || !nameRe.test(fn))) return null;
  const kept: Record<string, ParamValue> = {};
  if (params !== undefined && params !== null) {
    if (!isObject(params)) return null;
    for (const [k, val] of Object.entries(params)) {
      if (!nameRe.test(k)) return null;
      if (typeof val === 'string' || typeof val === 'boolean') kept[k] = val;
      else if (typeof val === 'number') {
        if (Number.isSafeInteger(val)) kept[k] = val;
      } else return null;
    }
  }
  return toTarget(typeof fn === 'string' ? { context, function: fn, params: kept } : { context, params: kept });
}

/** parseBodyTargets reads a list of body-form targets, or returns null when it is not one. */
export function parseBodyTargets(v: unknown): Target[] | null {
  if (!Array.isArray(v)) return null;
  const out: Target[] = [];
  for (const t of v) {
    const p = parseBodyTarget(t);
    if (!p) return null;
    out.push(p);
  }
  return out;
}

/** broadTargets returns a broad target for each context named. */
export function broadTargets(contexts: readonly string[]): Target[] {
  return contexts.map((context) => ({ context, params: {} }));
}

/**
 * planPurge turns targets into the purges of each context's freshness log.
 * A target whose context the mutation declares `caller_scoped` narrows to
 * the caller's user hash when the caller is known (tier 2); a
 * function-level target never narrows (docs/manifest.md: a caller-scoped
 * context's declared targets are never function-level) and purges its
 * context's instances. Everything else stays as it is. Exact duplicates
 * collapse.
 */
export function planPurge(
  targets: readonly Target[],
  mutation: ManifestMutation | undefined,
  callerUid: string | undefined,
): Map<string, PurgeItem[]> {
  const groups = new Map<string, PurgeItem[]>();
  const seen = new Set<string>();
  for (const t of targets) {
    const narrow =
      callerUid !== undefined && t.function === undefined && mutation !== undefined && mutation.caller_scoped.includes(t.context);
    const item: PurgeItem = narrow
      ? { context: t.context, params: { ...t.params }, uid: callerUid }
      : { context: t.context, params: { ...t.params } };
    const id = JSON.stringify([item.context, Object.entries(item.params).sort(), item.uid ?? null]);
    if (seen.has(id)) continue;
    seen.add(id);
    let g = groups.get(t.context);
    if (!g) groups.set(t.context, (g = []));
    g.push(item);
  }
  return groups;
}
