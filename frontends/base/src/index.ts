// @mizan/base: the framework-agnostic Mizan client kernel (docs/kernel-api.md).
export { MizanError } from './errors.js';
export type { ParamValue, Params, TargetInput, Target, InstanceRef, Refetch } from './targets.js';
export { instanceKey, toTarget, matchTarget } from './targets.js';
export { parseInvalidateHeader } from './header.js';
export type { CallResult, Transport, HttpTransportOptions } from './transport.js';
export { httpTransport } from './transport.js';
export type { Status, Snapshot, ContextInstance } from './instance.js';
export type { CallOptions, ClientOptions, RetryOptions, Updater } from './client.js';
export { MizanClient, configure, getClient } from './client.js';
export { readInitialData } from './hydrate.js';
export type { Observer, QueryView, MutationView } from './observe.js';
export { observe, observeMutation, settled } from './observe.js';
