import { retryable, toMizanError } from './errors.js';
import { Instance, type ContextInstance } from './instance.js';
import { instanceKey, matchTarget, stringifyParams, toTarget, type Params, type Target, type TargetInput } from './targets.js';
import { httpTransport, type CallResult, type Transport } from './transport.js';

/** How context fetches are retried: only `unavailable` and `network` failures are. */
export interface RetryOptions {
  /** Retries after the first try. Default 3; 0 turns retrying off. */
  attempts?: number;
  /** Delay before the first retry in milliseconds, doubled for each next one. Default 300. */
  delay?: number;
}

/** Options of MizanClient; the zero value talks HTTP to /api/mizan/ on the same origin. */
export interface ClientOptions {
  /** Default httpTransport(). */
  transport?: Transport;
  /** Data to start instances with (hydration), keyed by instanceKey(context, params). */
  initialData?: Record<string, unknown>;
  retry?: RetryOptions;
}

/** An optimistic updater: the new data of one context function, from its data and the call's arguments. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Updater = (data: any, args: any) => unknown;

/** Options of MizanClient.call. */
export interface CallOptions<U extends object = Record<string, Updater>> {
  /**
   * Updaters by context function name, applied at once to the cached
   * instances the call's predicted targets match, rolled back when it
   * fails and dropped when the refetch its targets cause lands
   * (@mizan/base/optimistic: a generated client registers the targets it
   * predicts from; without them this option does nothing).
   */
  optimistic?: U;
}

/**
 * The kernel's hook for @mizan/base/optimistic (set by its
 * registerMutationTargets): o applies a call's updaters before it is sent
 * and returns what runs when it settles, with its targets or, when it
 * failed, without.
 * @internal
 */
export const hooks: {
  o?: (c: MizanClient, fn: string, args: unknown, opts?: CallOptions<object>) => ((targets?: Target[]) => void) | undefined;
} = {};

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

/**
 * MizanClient holds one ContextInstance per (context, params), runs
 * functions through its transport and applies the targets they return.
 */
export class MizanClient {
  /** @internal (replaced by @mizan/base/offline's enableOffline) */
  transport: Transport;
  private readonly initialData: Record<string, unknown>;
  private readonly attempts: number;
  private readonly delay: number;
  /** @internal */
  readonly instances = new Map<string, Instance<unknown>>();

  constructor(opts: ClientOptions = {}) {
    this.transport = opts.transport ?? httpTransport();
    this.initialData = opts.initialData ?? {};
    this.attempts = opts.retry?.attempts ?? 3;
    this.delay = opts.retry?.delay ?? 300;
    this.transport.connect?.((targets) => this.invalidate(targets));
  }

  /** instance returns the one instance for (context, params), created on first use. */
  instance<T>(context: string, params?: Params): ContextInstance<T> {
    const key = instanceKey(context, params);
    let inst = this.instances.get(key);
    if (!inst) {
      const p = stringifyParams(params);
      const init = Object.hasOwn(this.initialData, key)
        ? { data: this.initialData[key] }
        : undefined;
      const t = this.transport;
      inst = new Instance<unknown>(
        context,
        p,
        (signal) => this.fetchContext(context, p, signal),
        init,
        t.watch && ((on) => t.watch!(context, p, on)),
      );
      this.instances.set(key, inst);
    }
    return inst as ContextInstance<unknown> as ContextInstance<T>;
  }

  /**
   * fetchContext fetches a context bundle through the transport, without
   * caching; `unavailable` and `network` failures are retried with
   * exponential backoff. It rejects with a MizanError, or with the signal's
   * reason when aborted.
   */
  async fetchContext<T>(context: string, params?: Params, signal?: AbortSignal): Promise<T> {
    for (let n = 0; ; n++) {
      try {
        return (await this.transport.fetchContext(context, params ?? {}, signal)) as T;
      } catch (e) {
        if (signal?.aborted) throw signal.reason;
        const err = toMizanError(e);
        if (n >= this.attempts || !retryable(err)) throw err;
      }
      await sleep(this.delay * 2 ** n, signal);
    }
  }

  /**
   * call runs function fn and applies the targets it returns to the
   * instances before it resolves. It rejects with a MizanError and is never
   * retried (a mutation may have happened). With opts.optimistic, the
   * updaters are applied first (CallOptions).
   */
  async call<R>(fn: string, args?: unknown, opts?: CallOptions<object>): Promise<CallResult<R>> {
    const done = hooks.o?.(this, fn, args, opts);
    let r: CallResult<unknown>;
    try {
      r = await this.transport.call(fn, args);
    } catch (e) {
      done?.();
      throw toMizanError(e);
    }
    const ts = this.invalidate(r.invalidate ?? []);
    done?.(ts);
    return r as CallResult<R>;
  }

  /**
   * invalidate applies targets (body forms, or parsed from the header) to
   * the instances, each decided by matchTarget (docs/spec.md §3): a broad
   * target hits every instance of its context, a scoped or function-level
   * one those whose params agree with its params. A hit instance is marked
   * stale and refetched if watched, else when next subscribed. A
   * function-level hit (refetch 'function') refetches the whole bundle too,
   * as the spec allows a consumer that cannot refresh one function: the
   * protocol reads contexts whole (§2). Unchanged functions keep their data
   * by reference, so their subscribers are not notified. It returns the
   * targets normalised.
   */
  invalidate(targets: TargetInput[]): Target[] {
    // Entries of no known form (a server bug) are skipped, not thrown on:
    // the mutation that returned them has happened.
    const ts = targets
      .filter((t) => typeof t === 'string' || (t !== null && typeof t === 'object' && typeof t.context === 'string'))
      .map(toTarget);
    for (const inst of this.instances.values()) {
      if (ts.some((t) => matchTarget(t, inst) !== null)) inst.invalidate();
    }
    return ts;
  }
}

let defaultClient: MizanClient | undefined;

/** configure creates a client with opts, makes it the default and returns it. */
export function configure(opts?: ClientOptions): MizanClient {
  return (defaultClient = new MizanClient(opts));
}

/** getClient returns the default client, creating one with no options on first use. */
export function getClient(): MizanClient {
  return (defaultClient ??= new MizanClient());
}
