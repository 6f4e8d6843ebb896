// @mizan/tanstack-query: TanStack Query over the Mizan client kernel
// (docs/tanstack.md). Query options for context fetches, mutation options
// whose targets invalidate the matching queries, and pushed invalidations
// from the live transport, all decided by the kernel's one matching rule
// (matchTarget, docs/spec.md §3).
import {
  getClient,
  matchTarget,
  toTarget,
  type CallResult,
  type MizanClient,
  type MizanError,
  type ParamValue,
  type Params,
  type Target,
  type TargetInput,
  type Transport,
} from '@mizan/base';
import type {
  DataTag,
  MutationFunctionContext,
  MutationOptions,
  Query,
  QueryClient,
  QueryFunctionContext,
} from '@tanstack/query-core';

/**
 * The query key of a context instance: `['mizan', context, params]`, the
 * params stringified as the protocol says (docs/spec.md §4: integers in
 * decimal, booleans `true`/`false`, undefined values dropped), so that
 * `{ user_id: 1 }` and `{ user_id: '1' }` are the same query, as they are
 * the same instance.
 */
export type MizanQueryKey<C extends string = string> = readonly ['mizan', C, Readonly<Record<string, string>>];

/** Options of the query and mutation helpers. */
export interface ClientOption {
  /** The client whose transport (HTTP or WebSocket, auth) fetches and calls. Default getClient(), looked up at each fetch or call. */
  client?: MizanClient;
}

/**
 * What contextQueryOptions returns: TanStack query options (spread them
 * into useQuery, useSuspenseQuery, prefetchQuery, ensureQueryData, …),
 * the key tagged with the bundle's type so that getQueryData(key) is typed.
 */
export interface ContextQueryOptions<T, C extends string = string> {
  queryKey: DataTag<MizanQueryKey<C>, T, MizanError>;
  queryFn: (ctx: QueryFunctionContext<MizanQueryKey<C>>) => Promise<T>;
}

/** stringify is the kernel's stringification of params (toTarget applies it). */
const stringify = (params: unknown): Record<string, string> =>
  toTarget({ context: '', params: (params ?? {}) as Record<string, ParamValue> }).params;

/** mizanQueryKey returns the query key of the instance of context with params (MizanQueryKey). */
export function mizanQueryKey<C extends string>(context: C, params?: Params): MizanQueryKey<C> {
  return ['mizan', context, stringify(params)];
}

/**
 * contextQueryOptions returns the query options of the instance of context
 * with params: its MizanQueryKey, and a queryFn that fetches the whole
 * bundle through client.fetchContext (the client's transport, its retries
 * of `unavailable` and `network` failures, and TanStack's abort signal).
 * T is the bundle's type; with a generated client use mizanQueries, which
 * infers it.
 */
export function contextQueryOptions<T = unknown, C extends string = string>(
  context: C,
  params?: Params,
  opts?: ClientOption,
): ContextQueryOptions<T, C> {
  const p = stringify(params);
  return {
    queryKey: ['mizan', context, p] as unknown as DataTag<MizanQueryKey<C>, T, MizanError>,
    queryFn: ({ signal }) => (opts?.client ?? getClient()).fetchContext<T>(context, p, signal),
  };
}

/** A generated client's context fetch (fetchUser(params, client) of `mizan generate --target ts`). */
export type ContextFetch<P, T> = (params: P, client: MizanClient) => Promise<T>;

/** The query options of one context for its params; params may be left out when they are all optional. */
export type ContextQuery<C extends string, P, T> = undefined extends P
  ? (params?: P) => ContextQueryOptions<T, C>
  : (params: P) => ContextQueryOptions<T, C>;

type AnyFetch = (params: never, client: MizanClient) => Promise<unknown>;
type ParamsOf<F> = F extends (params: infer P, client: MizanClient) => Promise<unknown> ? P : never;
type BundleOf<F> = F extends (params: never, client: MizanClient) => Promise<infer T> ? T : never;

/** What mizanQueries returns: one ContextQuery per context given. */
export type MizanQueries<M extends Record<string, AnyFetch>> = {
  readonly [K in keyof M & string]: ContextQuery<K, ParamsOf<M[K]>, BundleOf<M[K]>>;
};

/**
 * contextQuery returns the query options of context for any params, typed
 * by fetch, the generated client's fetch of that context (fetchUser for
 * `user`): its params type is the params', its bundle type the data's. The
 * queryFn runs fetch with a client that passes TanStack's abort signal on
 * and refuses, with an error naming both, a fetch of any context but
 * `context` (a fetch given under the wrong name).
 */
export function contextQuery<C extends string, P, T>(context: C, fetch: ContextFetch<P, T>, opts?: ClientOption): ContextQuery<C, P, T> {
  const query = (params?: P): ContextQueryOptions<T, C> => {
    const p = stringify(params);
    return {
      queryKey: ['mizan', context, p] as unknown as DataTag<MizanQueryKey<C>, T, MizanError>,
      queryFn: ({ signal }) => fetch(params as P, scoped(opts?.client ?? getClient(), context, signal)),
    };
  };
  return query as ContextQuery<C, P, T>;
}

/** scoped returns client with a fetchContext that adds signal and refuses contexts other than context. */
function scoped(client: MizanClient, context: string, signal: AbortSignal): MizanClient {
  const fetchContext = <T>(c: string, params?: Params, s?: AbortSignal): Promise<T> =>
    c === context
      ? client.fetchContext<T>(c, params, s ?? signal)
      : Promise.reject(new Error(`@mizan/tanstack-query: the fetch given for context "${context}" fetched context "${c}"`));
  return Object.create(client, { fetchContext: { value: fetchContext } }) as MizanClient;
}

/**
 * mizanQueries returns, for a map from context names to the generated
 * client's fetches (`{ user: fetchUser, tasks: fetchTasks }`), a
 * ContextQuery per context: `queries.user({ user_id: 1 })` is the typed
 * query options of that instance (contextQuery).
 */
export function mizanQueries<M extends Record<string, AnyFetch>>(fetches: M, opts?: ClientOption): MizanQueries<M> {
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(fetches)) {
    out[name] = contextQuery(name, fetches[name] as unknown as ContextFetch<unknown, unknown>, opts);
  }
  return out as MizanQueries<M>;
}

/**
 * setInitialData puts data rendered on the server into queryClient: each
 * entry of initialData, keyed by instanceKey(context, params) as
 * ClientOptions.initialData is (readInitialData() of @mizan/base returns
 * the page's), becomes the data of the query of that instance, updated
 * now. Give the queries a staleTime, or they refetch as they mount.
 */
export function setInitialData(queryClient: QueryClient, initialData: Readonly<Record<string, unknown>>): void {
  for (const key of Object.keys(initialData)) {
    const i = key.indexOf('?');
    const params = i < 0 ? {} : Object.fromEntries(new URLSearchParams(key.slice(i + 1)));
    queryClient.setQueryData(mizanQueryKey(i < 0 ? key : key.slice(0, i), params), initialData[key]);
  }
}

/** isTarget reports whether t has one of the three body forms (the kernel skips any other entry). */
const isTarget = (t: unknown): t is TargetInput =>
  typeof t === 'string' ||
  (t !== null && typeof t === 'object' && typeof (t as { context?: unknown }).context === 'string');

/** instanceOf returns the context and stringified params a query key names, or undefined if it is not a MizanQueryKey. */
function instanceOf(key: readonly unknown[]): { context: string; params: Record<string, string> } | undefined {
  const [root, context, params] = key;
  if (root !== 'mizan' || typeof context !== 'string') return undefined;
  if (params !== undefined && (params === null || typeof params !== 'object')) return undefined;
  return { context, params: stringify(params) };
}

/** apply invalidates, in one invalidateQueries, the queries that any of ts matches. */
function apply(queryClient: QueryClient, ts: readonly Target[]): Promise<void> {
  if (!ts.length) return Promise.resolve();
  return queryClient.invalidateQueries({
    queryKey: ['mizan'],
    predicate: (q) => {
      const inst = instanceOf(q.queryKey);
      return !!inst && ts.some((t) => matchTarget(t, inst) !== null);
    },
  });
}

/**
 * invalidateTargets applies targets (any of the three body forms of
 * docs/spec.md §3; entries of no known form are skipped, as the kernel
 * skips them) to the Mizan queries of queryClient, each decided by the
 * kernel's matchTarget: a broad target hits every query of its context, a
 * scoped one those whose params agree, a function-level one the same
 * queries as its context (a query holds the whole bundle: it is refetched,
 * and TanStack's structural sharing keeps the other functions' data by
 * reference). The matching queries are invalidated: the active ones
 * refetch now, the others when next used. It resolves when the refetches
 * have settled.
 */
export function invalidateTargets(queryClient: QueryClient, targets: readonly unknown[]): Promise<void> {
  return apply(queryClient, targets.filter(isTarget).map(toTarget));
}

/**
 * The promise of the invalidation each connection (connectInvalidations)
 * started for a targets array a client applied, so that the onSuccess of
 * mizanMutationOptions joins it instead of invalidating twice (a second
 * invalidateQueries would cancel the refetch and start another).
 */
const applied = new WeakMap<QueryClient, WeakMap<object, Promise<void>>>();

/** A generated client's call of one function (callUpdateProfile(args, client) of `mizan generate --target ts`). */
export type CallFn<A, R> = (args: A, client: MizanClient) => Promise<CallResult<R>>;

/** The mutation options mizanMutationOptions returns. */
export type MizanMutationOptions<R, A, TOnMutateResult = unknown> = MutationOptions<CallResult<R>, MizanError, A, TOnMutateResult> & {
  mutationFn: (args: A) => Promise<CallResult<R>>;
  onSuccess: (data: CallResult<R>, args: A, onMutateResult: TOnMutateResult, context: MutationFunctionContext) => Promise<void>;
};

/** Options of mizanMutationOptions: the client, and any TanStack mutation option but mutationFn (an onSuccess runs after the invalidation has started). */
export type MizanMutationConfig<R, A, TOnMutateResult = unknown> = ClientOption &
  Omit<MutationOptions<CallResult<R>, MizanError, A, TOnMutateResult>, 'mutationFn'>;

/**
 * mizanMutationOptions returns TanStack mutation options (for useMutation
 * or a MutationObserver) whose mutationFn calls fn, a function name (sent
 * with client.call) or a generated call (callUpdateProfile), through the
 * client, and whose onSuccess feeds the call's targets, function-level
 * ones included, to the mutation's QueryClient (invalidateTargets). The
 * mutation stays pending until the active queries it invalidated have
 * refetched. An onSuccess in config runs too, beside the invalidation.
 * With a name, give the types: mizanMutationOptions<Result, Args>('fn').
 */
export function mizanMutationOptions<R = unknown, A = unknown, TOnMutateResult = unknown>(
  fn: string | CallFn<A, R>,
  config: MizanMutationConfig<R, A, TOnMutateResult> = {},
): MizanMutationOptions<R, A, TOnMutateResult> {
  const { client, onSuccess, ...rest } = config;
  return {
    ...rest,
    mutationFn: (args: A) => {
      const c = client ?? getClient();
      return typeof fn === 'string' ? c.call<R>(fn, args) : fn(args, c);
    },
    async onSuccess(data, args, onMutateResult, context) {
      const qc = context.client;
      const list: unknown = data?.invalidate;
      const targets = Array.isArray(list) ? list : [];
      const done = applied.get(qc)?.get(targets) ?? invalidateTargets(qc, targets);
      await Promise.all([done, onSuccess?.(data, args, onMutateResult, context)]);
    },
  };
}

type Listener = (ts: Target[], targets: TargetInput[]) => void;

/** The listeners of each client's invalidate, and the function that takes the hook off. */
const hooked = new WeakMap<MizanClient, { listeners: Set<Listener>; restore: () => void }>();

/**
 * listen runs l after every client.invalidate, which the client calls with
 * every call's targets (client.call) and every pushed invalidation (the
 * function it gave transport.connect), and returns the function that stops.
 */
function listen(client: MizanClient, l: Listener): () => void {
  let h = hooked.get(client);
  if (!h) {
    const listeners = new Set<Listener>();
    const own = Object.hasOwn(client, 'invalidate');
    const prev = client.invalidate;
    const hook = function (this: MizanClient, targets: TargetInput[]): Target[] {
      const ts = prev.call(this, targets);
      for (const f of [...listeners]) f(ts, targets);
      return ts;
    };
    client.invalidate = hook;
    h = {
      listeners,
      restore() {
        if (client.invalidate === hook) {
          if (own) client.invalidate = prev;
          else Reflect.deleteProperty(client, 'invalidate');
        }
      },
    };
    hooked.set(client, h);
  }
  const entry = h;
  entry.listeners.add(l);
  return () => {
    entry.listeners.delete(l);
    if (!entry.listeners.size && hooked.get(client) === entry) {
      hooked.delete(client);
      entry.restore();
    }
  };
}

interface Watched {
  query: Query;
  transport: Transport;
  context: string;
  params: Record<string, string>;
}

/**
 * connectInvalidations applies to queryClient's Mizan queries every
 * invalidation client applies: the targets of its calls (a generated
 * callXxx, client.call, the kernel's hooks), and those its live transport
 * pushes (wsTransport of @mizan/base/ws). With a transport that pushes, it
 * subscribes to every Mizan query that has observers (a mounted useQuery)
 * as the kernel subscribes to its watched instances, unsubscribes when the
 * last observer has gone (a microtask later, so React StrictMode's
 * remount keeps the subscription) and then marks the query invalidated,
 * since nothing tells it about changes any more. It returns the function
 * that disconnects.
 */
export function connectInvalidations(queryClient: QueryClient, client: MizanClient = getClient()): () => void {
  let mine = applied.get(queryClient);
  if (!mine) applied.set(queryClient, (mine = new WeakMap()));
  const record = mine;
  const stopListening = listen(client, (ts, targets) => {
    record.set(targets, apply(queryClient, ts));
  });

  const cache = queryClient.getQueryCache();
  const watched = new Map<string, Watched>();
  const sync = (q: Query): void => {
    const inst = instanceOf(q.queryKey);
    if (!inst) return;
    const on = q.getObserversCount() > 0 && cache.get(q.queryHash) === q;
    const w = watched.get(q.queryHash);
    if (on) {
      if (w) {
        w.query = q; // the same instance, in a query that replaced a removed one
        return;
      }
      const transport = client.transport;
      if (!transport.watch) return;
      watched.set(q.queryHash, { query: q, transport, ...inst });
      transport.watch(inst.context, inst.params, true);
    } else if (w?.query === q) {
      watched.delete(q.queryHash);
      w.transport.watch?.(w.context, w.params, false);
      if (cache.get(q.queryHash) === q) q.invalidate();
    }
  };
  const stopCache = cache.subscribe((ev) => {
    if (ev.type === 'observerAdded') sync(ev.query);
    else if (ev.type === 'observerRemoved' || ev.type === 'removed') {
      const q = ev.query;
      queueMicrotask(() => sync(q));
    }
  });
  for (const q of cache.getAll()) sync(q);

  let connected = true;
  return () => {
    if (!connected) return;
    connected = false;
    stopListening();
    stopCache();
    for (const w of watched.values()) w.transport.watch?.(w.context, w.params, false);
    watched.clear();
  };
}
