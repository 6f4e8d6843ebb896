import type { CallOptions, MizanClient, Updater } from './client.js';
import { toMizanError, type MizanError } from './errors.js';
import { slice, type ContextInstance, type Status } from './instance.js';

/** Observer is what a framework adapter binds to (e.g. useSyncExternalStore). */
export interface Observer<S> {
  subscribe(listener: () => void): () => void;
  /** getSnapshot returns the state, referentially stable until it changes. */
  getSnapshot(): S;
}

/** The state of a context (or one of its functions) as a component reads it. */
export interface QueryView<T> {
  data: T | undefined;
  status: Status;
  error: MizanError | undefined;
  /** Whether there is no data yet and none has failed: idle or loading without data. */
  isLoading: boolean;
  refetch: () => Promise<void>;
}

/**
 * observe returns an observer of inst, or of its function fn: its snapshot
 * changes only when the data read (the bundle, or data[fn]), the status or
 * the error changes.
 */
export function observe<T>(inst: ContextInstance<unknown>, fn?: string): Observer<QueryView<T>> {
  const refetch = (): Promise<void> => inst.refetch();
  let view: QueryView<T> | undefined;
  return {
    subscribe: (listener) => inst.subscribe(listener, fn),
    getSnapshot() {
      const s = inst.getSnapshot();
      const data = (fn === undefined ? s.data : slice(s.data, fn)) as T | undefined;
      if (!view || view.data !== data || view.status !== s.status || view.error !== s.error) {
        const isLoading = data === undefined && (s.status === 'idle' || s.status === 'loading');
        view = { data, status: s.status, error: s.error, isLoading, refetch };
      }
      return view;
    },
  };
}

const pending = new WeakMap<ContextInstance<unknown>, Promise<void>>();

/**
 * settled resolves once inst has data or an error, subscribing meanwhile so
 * that it fetches; callers share one promise per instance. Suspense
 * adapters throw it.
 */
export function settled(inst: ContextInstance<unknown>): Promise<void> {
  let p = pending.get(inst);
  if (p) return p;
  let over = false;
  p = new Promise<void>((resolve) => {
    let unsubscribe: (() => void) | undefined;
    const check = (): void => {
      const { status } = inst.getSnapshot();
      if (over || (status !== 'success' && status !== 'error')) return;
      over = true;
      pending.delete(inst);
      unsubscribe?.();
      resolve();
    };
    unsubscribe = inst.subscribe(check);
    if (over) unsubscribe();
    else check();
  });
  if (!over) pending.set(inst, p);
  return p;
}

/** The state of a mutation as a component reads it. */
export interface MutationView<A, R, U extends object = Record<string, Updater>> {
  /** mutate calls the function (with opts as MizanClient.call takes them); it rejects with a MizanError (also kept in error). */
  mutate: (args: A, opts?: CallOptions<U>) => Promise<R>;
  /** Whether a call is in flight. */
  isPending: boolean;
  /** The error of the latest call, until reset or the next call. */
  error: MizanError | undefined;
  reset: () => void;
}

/** observeMutation returns an observer of calls of function fn through client. */
export function observeMutation<A, R, U extends object = Record<string, Updater>>(
  client: MizanClient,
  fn: string,
): Observer<MutationView<A, R, U>> {
  const listeners = new Set<() => void>();
  let inFlight = 0;
  let latest = 0;
  const set = (patch: Partial<MutationView<A, R, U>>): void => {
    const cur = view as unknown as Record<string, unknown>;
    if (Object.entries(patch).every(([k, v]) => Object.is(v, cur[k]))) return;
    view = { ...view, ...patch };
    listeners.forEach((l) => l());
  };
  const mutate = async (args: A, opts?: CallOptions<U>): Promise<R> => {
    const id = ++latest;
    inFlight++;
    set({ isPending: true, error: undefined });
    let error: MizanError | undefined;
    try {
      return (await client.call<R>(fn, args, opts)).result;
    } catch (e) {
      throw (error = toMizanError(e));
    } finally {
      inFlight--;
      set(id === latest ? { isPending: inFlight > 0, error } : { isPending: inFlight > 0 });
    }
  };
  const reset = (): void => {
    latest++;
    set({ error: undefined });
  };
  let view: MutationView<A, R, U> = { mutate, isPending: false, error: undefined, reset };
  return {
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    getSnapshot: () => view,
  };
}
