// @mizan/svelte: thin Svelte 5 bindings over @mizan/base (docs/kernel-api.md).
// Every state machine lives in the kernel; these functions only bind its
// observers to svelte/store readables, whose first subscriber subscribes to
// the kernel and whose last one leaving unsubscribes. A readable store works
// the same in runes mode ($store, fromStore) and in classic mode.
import {
  getClient,
  observe,
  observeMutation,
  type CallOptions,
  type MizanClient,
  type MizanError,
  type Observer,
  type Params,
  type Status,
  type Updater,
} from '@mizan/base';
import { getContext, onDestroy, setContext } from 'svelte';
import { readable, type Readable } from 'svelte/store';

const key = Symbol('mizan');

/**
 * setMizanClient makes client (default: getClient()) the one the calling
 * component and its descendants use, and returns it. Call it during
 * component initialisation, in the root component. It does not change the
 * default client: call configure() for that.
 */
export function setMizanClient(client: MizanClient = getClient()): MizanClient {
  return setContext(key, client);
}

/**
 * getMizanClient returns the client of the nearest setMizanClient, or the
 * default client (also outside component initialisation: in a module, an
 * event handler).
 */
export function getMizanClient(): MizanClient {
  try {
    return getContext<MizanClient | undefined>(key) ?? getClient();
  } catch {
    return getClient();
  }
}

/** The state of a context, or of one of its functions. */
export interface QueryState<T> {
  data: T | undefined;
  status: Status;
  error: MizanError | undefined;
  /** Whether there is no data yet and no error. */
  isLoading: boolean;
  refetch: () => Promise<void>;
}

/** A readable store of a context instance (or of one of its functions); subscribing to it fetches what is missing or stale. */
export interface QueryStore<T> extends Readable<QueryState<T>> {
  /** refetch fetches now (or joins the fetch in flight); it resolves when settled and never rejects. */
  refetch: () => Promise<void>;
}

/** The state of a mutation. mutate rejects with a MizanError, which error also holds. */
export interface MutationState<A, R, U extends object = Record<string, Updater>> {
  mutate: (args: A, options?: CallOptions<U>) => Promise<R>;
  /** Whether a call is in flight. */
  isPending: boolean;
  /** The error of the latest call, until reset or the next call. */
  error: MizanError | undefined;
  reset: () => void;
}

/** A readable store of a mutation's state, with its mutate and reset. */
export interface MutationStore<A, R, U extends object = Record<string, Updater>> extends Readable<MutationState<A, R, U>> {
  mutate: (args: A, options?: CallOptions<U>) => Promise<R>;
  reset: () => void;
}

/**
 * bind returns a readable of obs's snapshots. In a browser its start
 * subscribes to obs (for a query: the instance's subscription, which
 * fetches) and its stop unsubscribes. On the server (no document) it only
 * reads the snapshot: a render fetches nothing and leaves no subscription,
 * its data coming from the client's initialData.
 */
function bind<S>(obs: Observer<S>): Readable<S> {
  let last = obs.getSnapshot();
  return readable(last, (set) => {
    const push = (): void => {
      const s = obs.getSnapshot();
      if (s !== last) set((last = s));
    };
    push();
    if (typeof document == 'undefined') return;
    const off = obs.subscribe(push);
    push();
    return off;
  });
}

function query<T>(context: string, params: Params | undefined, fn: string | undefined, client: MizanClient): QueryStore<T> {
  const inst = client.instance<unknown>(context, params);
  return { ...bind(observe<T>(inst, fn)), refetch: () => inst.refetch() };
}

/**
 * contextQuery returns a store of the whole bundle of a context instance.
 * client defaults to getMizanClient(): call it during component
 * initialisation, or in a $derived or $: for params that change.
 */
export function contextQuery<T>(context: string, params?: Params, client: MizanClient = getMizanClient()): QueryStore<T> {
  return query<T>(context, params, undefined, client);
}

/** contextFunction returns a store of one function of a context bundle: it changes only when that function's data, the status or the error does. */
export function contextFunction<T, K extends keyof T & string>(
  context: string,
  params: Params | undefined,
  fn: K,
  client: MizanClient = getMizanClient(),
): QueryStore<T[K]> {
  return query<T[K]>(context, params, fn, client);
}

/**
 * mountContext subscribes to a context instance for the lifetime of the
 * calling component (call it during its initialisation), so that it stays
 * fetched and watched while nothing else reads it, and returns its store.
 * The root component mounts global with it: mountContext('global').
 */
export function mountContext<T>(context: string, params?: Params, client: MizanClient = getMizanClient()): QueryStore<T> {
  const store = contextQuery<T>(context, params, client);
  onDestroy(store.subscribe(() => {}));
  return store;
}

/** mutation returns a store of calls of function fn through the client, which applies the targets they return. */
export function mutation<A, R, U extends object = Record<string, Updater>>(
  fn: string,
  client: MizanClient = getMizanClient(),
): MutationStore<A, R, U> {
  const obs = observeMutation<A, R, U>(client, fn);
  const { mutate, reset } = obs.getSnapshot();
  return { ...bind(obs), mutate, reset };
}
