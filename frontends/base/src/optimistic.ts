// @mizan/base/optimistic: predicted targets and optimistic updates
// (docs/client.md, "Optimistic updates"). A generated client registers its
// mutations' declared targets here (registerMutationTargets), which also
// installs the optimistic layer in the kernel: MizanClient.call(fn, args,
// { optimistic }) then applies the updaters to the instances the call's
// predicted targets match before it is sent.
import { hooks, type CallOptions, type MizanClient, type Updater } from './client.js';
import type { Instance } from './instance.js';
import { matchTarget, type Target } from './targets.js';

/**
 * One declared target of a mutation, as the IR has it (docs/ir.md,
 * `affects`): the context, the names of the mutation's arguments that scope
 * it (`scoped-by`, which equal parameters of the context), and the function
 * of a function-level target.
 */
export type TargetSpec = readonly [context: string, scopedBy?: readonly string[], fn?: string];

const table = new Map<string, readonly TargetSpec[]>();

/**
 * registerMutationTargets records the declared targets of mutations, by
 * function name (a generated client calls it with its IR's), and enables
 * the optimistic option of MizanClient.call.
 */
export function registerMutationTargets(targets: Record<string, readonly TargetSpec[]>): void {
  for (const fn of Object.keys(targets)) table.set(fn, targets[fn]!);
  hooks.o = layer;
}

/** scalar reports whether v stringifies the same in JavaScript and on the server (docs/spec.md §4). */
const scalar = (v: unknown): v is string | number | boolean =>
  typeof v === 'string' || typeof v === 'boolean' || Number.isSafeInteger(v);

/**
 * predictTargets returns the targets a call of mutation fn with args will
 * have, computed before it is sent from its registered declared targets
 * (undefined when fn is not registered): a scoped target takes the values
 * of its scoping arguments present in args, stringified (docs/spec.md §4); a
 * target none of whose scoping arguments is given is broad. An argument
 * that is absent, null or not a string, boolean or safe integer does not
 * scope: the prediction is broader, never narrower, than what tiers 1 and
 * explicit scope give. Run-time scopes (ScopeTo) and caller scoping only
 * narrow a target the prediction leaves broad, so the prediction matches
 * every instance the server's targets match, except where a run-time scope
 * replaces the values of scoping arguments the call gave (docs/client.md,
 * "What is predicted and what is not").
 */
export function predictTargets(fn: string, args?: unknown): Target[] | undefined {
  const specs = table.get(fn);
  if (!specs) return undefined;
  const a = (args !== null && typeof args === 'object' ? args : {}) as Record<string, unknown>;
  return specs.map(([context, by = [], f]) => {
    const entries: [string, string][] = [];
    for (const k of [...by].sort()) {
      const v = a[k];
      if (Object.hasOwn(a, k) && scalar(v)) entries.push([k, String(v)]);
    }
    const t: Target = { context, params: Object.fromEntries(entries) };
    if (f) t.function = f;
    return t;
  });
}

/** One call's updater on one instance. */
interface Layer {
  fn: string;
  up: Updater;
  args: unknown;
  /** The call succeeded and its targets hit the instance: drop the layer when the next fetch lands. */
  done: boolean;
}

/** The optimistic state of an instance: the server's data and the layers over it, in call order. */
interface State {
  base: unknown;
  layers: Layer[];
}

const states = new WeakMap<Instance<unknown>, State>();

/** hits reports whether target t applies to function fn of instance inst. */
const hits = (t: Target, fn: string, inst: Instance<unknown>): boolean =>
  (!t.function || t.function === fn) && matchTarget(t, inst) !== null;

/**
 * compute applies the layers to the server's data in call order; a layer
 * whose function is not in the data (no data yet) is skipped, and so is one
 * whose updater throws.
 */
function compute(s: State): unknown {
  let d = s.base;
  for (const l of s.layers) {
    if (d === null || typeof d !== 'object' || !Object.hasOwn(d, l.fn)) continue;
    const o = d as Record<string, unknown>;
    try {
      d = { ...o, [l.fn]: l.up(o[l.fn], l.args) };
    } catch {
      // An updater that throws shows nothing; the call goes on.
    }
  }
  return d;
}

/** show sets the data inst shows from its state, dropping the state once it has no layer. */
function show(inst: Instance<unknown>, s: State): void {
  if (!s.layers.length) {
    states.delete(inst);
    inst.over = undefined;
  }
  inst.set({ data: compute(s) });
}

/** stateOf returns the optimistic state of inst, starting one over its current data. */
function stateOf(inst: Instance<unknown>): State {
  let s = states.get(inst);
  if (!s) {
    const st: State = (s = { base: inst.getSnapshot().data, layers: [] });
    states.set(inst, st);
    // A fetch that lands is the server's new data: the layers of calls
    // that have settled are dropped, those of calls in flight stay on top.
    inst.over = (data) => {
      st.base = data;
      st.layers = st.layers.filter((l) => !l.done);
      if (!st.layers.length) {
        states.delete(inst);
        inst.over = undefined;
      }
      return compute(st);
    };
  }
  return s;
}

/** layer is the kernel's optimistic hook (hooks.o of client.ts). */
function layer(
  c: MizanClient,
  fn: string,
  args: unknown,
  opts?: CallOptions<object>,
): ((targets?: Target[]) => void) | undefined {
  const ups = opts?.optimistic as Record<string, Updater> | undefined;
  if (!ups) return undefined;
  const ts = predictTargets(fn, args) ?? [];
  const mine: [Instance<unknown>, Layer][] = [];
  for (const inst of c.instances.values()) {
    let hit = false;
    for (const name of Object.keys(ups)) {
      if (typeof ups[name] !== 'function' || !ts.some((t) => hits(t, name, inst))) continue;
      const l: Layer = { fn: name, up: ups[name], args, done: false };
      stateOf(inst).layers.push(l);
      mine.push([inst, l]);
      hit = true;
    }
    if (hit) show(inst, states.get(inst)!);
  }
  return (targets) => {
    for (const [inst, l] of mine) {
      const s = states.get(inst);
      if (!s) continue;
      // Hit by the call's targets: the refetch they cause replaces it.
      // Otherwise (the call failed, or its targets miss the instance) it
      // is rolled back now.
      if (targets?.some((t) => hits(t, l.fn, inst))) l.done = true;
      else {
        s.layers = s.layers.filter((x) => x !== l);
        show(inst, s);
      }
    }
  };
}
