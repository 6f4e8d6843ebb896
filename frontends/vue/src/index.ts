// @mizan/vue: thin Vue 3.5 bindings over @mizan/base (docs/kernel-api.md).
// Every state machine lives in the kernel; these composables only copy its
// observers' snapshots into shallow refs, subscribed for the lifetime of the
// calling effect scope (a component's setup, or an effectScope()).
import {
  getClient,
  instanceKey,
  observe,
  observeMutation,
  type CallOptions,
  type MizanClient,
  type MizanError,
  type Params,
  type Status,
  type Updater,
} from '@mizan/base';
import {
  hasInjectionContext,
  inject,
  onScopeDispose,
  shallowRef,
  toValue,
  watch,
  type App,
  type InjectionKey,
  type MaybeRefOrGetter,
  type ShallowRef,
} from 'vue';

const clientKey: InjectionKey<MizanClient> = Symbol('mizan');

/**
 * Whether this runs where nothing should be subscribed: no document (server
 * rendering, Node). There, snapshots are read (initialData) and nothing is
 * fetched.
 */
const server = (): boolean => typeof document === 'undefined';

/** Options of createMizan. */
export interface MizanOptions {
  /** The client the app's composables use. Default getClient(). */
  client?: MizanClient;
  /**
   * Keep the `global` context instance subscribed from app.use() to
   * app.unmount(), as the generated React MizanContext does. Default true;
   * pass false for an app without a `global` context.
   */
  global?: boolean;
}

/** The plugin createMizan returns: app.use(it). */
export interface MizanPlugin {
  readonly client: MizanClient;
  install(app: App): void;
}

/** createMizan returns the plugin that gives an app its client (default getClient()) and keeps `global` observed. */
export function createMizan(options: MizanOptions = {}): MizanPlugin {
  const client = options.client ?? getClient();
  return {
    client,
    install(app) {
      app.provide(clientKey, client);
      if (options.global !== false && !server()) app.onUnmount(client.instance('global').subscribe(() => {}));
    },
  };
}

/** useMizan returns the client the app's plugin provides, or the default client. */
export function useMizan(): MizanClient {
  return (hasInjectionContext() && inject(clientKey, null)) || getClient();
}

/** The state of a context, or of one of its functions, as shallow refs. */
export interface QueryState<T> {
  data: Readonly<ShallowRef<T | undefined>>;
  status: Readonly<ShallowRef<Status>>;
  error: Readonly<ShallowRef<MizanError | undefined>>;
  /** Whether there is no data yet and no error. */
  isLoading: Readonly<ShallowRef<boolean>>;
  /** Fetches the current instance again (or joins its fetch in flight); resolves when settled. */
  refetch: () => Promise<void>;
}

/** Parameters as a plain object, a ref or a getter; a change of their values observes the new instance. */
export type ParamsSource = MaybeRefOrGetter<Params | undefined>;

function useQuery<T>(context: string, params: ParamsSource, fn: string | undefined): QueryState<T> {
  const client = useMizan();
  const data = shallowRef<T>();
  const status = shallowRef<Status>('idle');
  const error = shallowRef<MizanError>();
  const isLoading = shallowRef(true);
  let refetchNow = (): Promise<void> => Promise.resolve();
  let stop: (() => void) | undefined;
  const bind = (): void => {
    stop?.();
    const obs = observe<T>(client.instance(context, toValue(params)), fn);
    const sync = (): void => {
      const v = obs.getSnapshot();
      data.value = v.data;
      status.value = v.status;
      error.value = v.error;
      isLoading.value = v.isLoading;
    };
    refetchNow = obs.getSnapshot().refetch;
    stop = server() ? undefined : obs.subscribe(sync);
    sync();
  };
  bind();
  // The key reads every param value, so a reactive params object, a ref or
  // a getter is tracked; only a change of the instance rebinds.
  watch(() => instanceKey(context, toValue(params)), bind);
  onScopeDispose(() => stop?.());
  return { data, status, error, isLoading, refetch: () => refetchNow() };
}

/** useContextQuery observes the whole bundle of a context instance. */
export function useContextQuery<T>(context: string, params?: ParamsSource): QueryState<T> {
  return useQuery<T>(context, params, undefined);
}

/** useContextFunction observes one function of a context bundle: its refs change only with that function's data, the status or the error. */
export function useContextFunction<T, K extends keyof T & string>(
  context: string,
  params: ParamsSource,
  fn: K,
): QueryState<T[K]> {
  return useQuery<T[K]>(context, params, fn);
}

/** The state of a mutation. mutate rejects with a MizanError, which error also holds. */
export interface MutationState<A, R, U extends object = Record<string, Updater>> {
  mutate: (args: A, options?: CallOptions<U>) => Promise<R>;
  isPending: Readonly<ShallowRef<boolean>>;
  error: Readonly<ShallowRef<MizanError | undefined>>;
  reset: () => void;
}

/** useMutation calls function fn through the client, which applies the targets it returns. */
export function useMutation<A, R, U extends object = Record<string, Updater>>(fn: string): MutationState<A, R, U> {
  const obs = observeMutation<A, R, U>(useMizan(), fn);
  const { mutate, reset } = obs.getSnapshot();
  const isPending = shallowRef(false);
  const error = shallowRef<MizanError>();
  onScopeDispose(
    obs.subscribe(() => {
      const v = obs.getSnapshot();
      isPending.value = v.isPending;
      error.value = v.error;
    }),
  );
  return { mutate, isPending, error, reset };
}
