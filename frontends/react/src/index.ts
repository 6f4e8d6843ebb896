// @mizan/react: thin React bindings over @mizan/base (docs/kernel-api.md).
// Every state machine lives in the kernel; these hooks only bind its
// observers to useSyncExternalStore.
import {
  getClient,
  observe,
  observeMutation,
  settled,
  type CallOptions,
  type MizanClient,
  type MizanError,
  type Params,
  type Status,
  type Updater,
} from '@mizan/base';
import { createContext, createElement, useContext, useMemo, useSyncExternalStore, type JSX, type ReactNode } from 'react';

const ClientContext = /* @__PURE__ */ createContext<MizanClient | undefined>(undefined);

/** MizanProvider makes client (default: getClient()) the one its subtree's hooks use. */
export function MizanProvider(props: { client?: MizanClient; children?: ReactNode }): JSX.Element {
  return createElement(ClientContext, { value: props.client ?? getClient() }, props.children);
}

/** useMizan returns the client of the nearest MizanProvider, or the default client. */
export function useMizan(): MizanClient {
  return useContext(ClientContext) ?? getClient();
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

/** Options of the query hooks. */
export interface QueryOptions {
  /** Suspend (throw the fetch promise) until data is there; throw the error when the first fetch fails. */
  suspense?: boolean;
}

function useQuery<T>(context: string, params: Params | undefined, fn: string | undefined, opts?: QueryOptions): QueryState<T> {
  const inst = useMizan().instance<unknown>(context, params);
  const obs = useMemo(() => observe<T>(inst, fn), [inst, fn]);
  const state = useSyncExternalStore(obs.subscribe, obs.getSnapshot, obs.getSnapshot);
  if (opts?.suspense && state.data === undefined) throw state.error ?? settled(inst);
  return state;
}

/** useContextQuery returns the whole bundle of a context instance. */
export function useContextQuery<T>(context: string, params?: Params, options?: QueryOptions): QueryState<T> {
  return useQuery<T>(context, params, undefined, options);
}

/** useContextFunction returns one function of a context bundle; it re-renders only when that function's data (or the status) changes. */
export function useContextFunction<T, K extends keyof T & string>(
  context: string,
  params: Params | undefined,
  fn: K,
  options?: QueryOptions,
): QueryState<T[K]> {
  return useQuery<T[K]>(context, params, fn, options);
}

/**
 * The state of a mutation. mutate rejects with a MizanError, which error
 * also holds; its options are those of MizanClient.call (optimistic: the
 * updaters U, typed by a generated hook).
 */
export interface MutationState<A, R, U extends object = Record<string, Updater>> {
  mutate: (args: A, options?: CallOptions<U>) => Promise<R>;
  isPending: boolean;
  error: MizanError | undefined;
  reset: () => void;
}

/** useMutation calls function fn through the client, which applies the targets it returns. */
export function useMutation<A, R, U extends object = Record<string, Updater>>(fn: string): MutationState<A, R, U> {
  const client = useMizan();
  const obs = useMemo(() => observeMutation<A, R, U>(client, fn), [client, fn]);
  return useSyncExternalStore(obs.subscribe, obs.getSnapshot, obs.getSnapshot);
}

export type { AuthView } from './auth.js';
export { AuthProvider, useAuth } from './auth.js';

// useForm is in the entry @mizan/react/forms (it bundles the rule checker
// of @mizan/base/forms); its types are here too.
export type { FieldPath, FormOptions, FormState, FormsetRow, FormsetState } from './form.js';
