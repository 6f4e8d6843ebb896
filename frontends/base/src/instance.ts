import { toMizanError, type MizanError } from './errors.js';

/** The state of a context instance. */
export type Status = 'idle' | 'loading' | 'success' | 'error';

/** What an instance shows; a new object each time something in it changes. */
export interface Snapshot<T> {
  data: T | undefined;
  status: Status;
  error: MizanError | undefined;
  /** Whether data is known to be out of date (invalidated, not yet refetched). */
  stale: boolean;
}

/** The one state machine for a context and its parameters. */
export interface ContextInstance<T> {
  readonly context: string;
  readonly params: Record<string, string>;
  /**
   * subscribe adds a listener that runs when the snapshot changes; with fn,
   * only when that function's data (or the status or error) changes. The
   * first subscriber starts a fetch when the instance has no data yet, is
   * stale or failed. It returns the unsubscribe function; the last one to
   * leave aborts a fetch in flight.
   */
  subscribe(listener: () => void, fn?: string): () => void;
  /** getSnapshot returns the snapshot, referentially stable until it changes. */
  getSnapshot(): Snapshot<T>;
  /** refetch fetches now (or joins the fetch in flight); it resolves when settled and never rejects. */
  refetch(): Promise<void>;
}

interface Sub {
  listener: () => void;
  fn: string | undefined;
  seen: unknown[];
}

type Loader = (signal: AbortSignal) => Promise<unknown>;

/** slice returns data[fn] when data is an object. */
export function slice(data: unknown, fn: string): unknown {
  return data !== null && typeof data === 'object' ? (data as Record<string, unknown>)[fn] : undefined;
}

/** Instance implements ContextInstance; MizanClient creates and keeps them. */
export class Instance<T> implements ContextInstance<T> {
  private snap: Snapshot<T>;
  private subs: Sub[] = [];
  private ctl: AbortController | undefined;
  private done: { promise: Promise<void>; resolve: () => void } | undefined;
  private watched = false;
  /**
   * Set by @mizan/base/optimistic while the instance has optimistic
   * layers: it maps the data a fetch lands to the data shown.
   * @internal
   */
  declare over?: (data: unknown) => unknown;

  /**
   * With watch, the instance reports when it gains its first subscriber
   * (true) and has lost its last (false), and its data turns stale when
   * unwatched: a pushing transport stops telling it about changes.
   */
  constructor(
    readonly context: string,
    readonly params: Record<string, string>,
    private readonly load: Loader,
    initial?: { data: unknown },
    private readonly watch?: (on: boolean) => void,
  ) {
    this.snap = initial
      ? { data: initial.data as T, status: 'success', error: undefined, stale: false }
      : { data: undefined, status: 'idle', error: undefined, stale: false };
  }

  getSnapshot(): Snapshot<T> {
    return this.snap;
  }

  subscribe(listener: () => void, fn?: string): () => void {
    const sub: Sub = { listener, fn, seen: this.seen(fn) };
    this.subs.push(sub);
    if (this.watch && !this.watched) {
      this.watched = true;
      this.watch(true);
    }
    const { status, stale } = this.snap;
    if (!this.ctl && (status === 'idle' || status === 'error' || stale)) void this.fetch();
    return () => {
      const i = this.subs.indexOf(sub);
      if (i < 0) return;
      this.subs.splice(i, 1);
      // Deferred, so that an unsubscribe followed at once by a subscribe
      // (React StrictMode, a re-keyed effect) keeps the fetch.
      if (!this.subs.length) queueMicrotask(() => this.subs.length || this.unwatch());
    };
  }

  refetch(): Promise<void> {
    return this.ctl && this.done ? this.done.promise : this.fetch();
  }

  /**
   * invalidate marks the data stale; a watched instance (or one with a fetch
   * in flight, which may predate the change) refetches now, an unwatched one
   * when it is next subscribed.
   */
  invalidate(): void {
    if (this.snap.status === 'idle') return;
    if (!this.snap.stale) this.set({ stale: true });
    if (this.subs.length || this.ctl) void this.fetch();
  }

  /** fetch starts a fetch, superseding (aborting) one in flight. */
  private fetch(): Promise<void> {
    this.ctl?.abort();
    const ctl = (this.ctl = new AbortController());
    let resolve = (): void => {};
    this.done ??= { promise: new Promise<void>((r) => (resolve = r)), resolve };
    const { promise } = this.done;
    if (this.snap.data === undefined && this.snap.status !== 'loading') this.set({ status: 'loading', error: undefined });
    this.load(ctl.signal).then(
      (data) => {
        if (this.ctl !== ctl) return;
        this.ctl = undefined;
        this.set({ data: share(this.snap.data, this.over ? this.over(data) : data) as T, status: 'success', error: undefined, stale: false });
        this.settle();
      },
      (e: unknown) => {
        if (this.ctl !== ctl) return;
        this.ctl = undefined;
        this.set({ status: 'error', error: toMizanError(e) });
        this.settle();
      },
    );
    return promise;
  }

  /** unwatch runs when the last subscriber has gone: abort, and with watch, report it and turn stale. */
  private unwatch(): void {
    this.abort();
    if (this.watched) {
      this.watched = false;
      this.watch!(false);
      this.invalidate();
    }
  }

  private abort(): void {
    const ctl = this.ctl;
    if (!ctl) return;
    this.ctl = undefined;
    ctl.abort();
    // Without data the instance is back to never fetched (an invalidation
    // during that first fetch left nothing stale to show).
    if (this.snap.status === 'loading') this.set({ status: 'idle', stale: false });
    this.settle();
  }

  private settle(): void {
    const d = this.done;
    this.done = undefined;
    d?.resolve();
  }

  /** seen is what a subscriber to fn (or to the whole snapshot) is notified about. */
  private seen(fn: string | undefined): unknown[] {
    const s = this.snap;
    return fn === undefined ? [s] : [slice(s.data, fn), s.status, s.error];
  }

  /** @internal */
  set(patch: Partial<Snapshot<T>>): void {
    const cur = this.snap as unknown as Record<string, unknown>;
    if (Object.entries(patch).every(([k, v]) => Object.is(v, cur[k]))) return;
    this.snap = { ...this.snap, ...patch };
    for (const sub of this.subs.slice()) {
      const now = this.seen(sub.fn);
      if (now.every((v, i) => Object.is(v, sub.seen[i]))) continue;
      sub.seen = now;
      if (this.subs.includes(sub)) sub.listener();
    }
  }
}

const isPlain = (v: unknown): v is Record<string, unknown> => {
  if (v === null || typeof v !== 'object') return false;
  const p = Object.getPrototypeOf(v) as unknown;
  return p === Object.prototype || p === null;
};

/**
 * share returns next with every part that deep-equals the same part of prev
 * replaced by prev's (structural sharing), or prev itself when all is equal,
 * so that unchanged functions keep their data by reference.
 */
export function share(prev: unknown, next: unknown): unknown {
  if (Object.is(prev, next)) return prev;
  if (Array.isArray(prev) && Array.isArray(next)) {
    const out = next.map((v, i) => share(prev[i], v));
    return out.length === prev.length && out.every((v, i) => v === prev[i]) ? prev : out;
  }
  if (isPlain(prev) && isPlain(next)) {
    const keys = Object.keys(next);
    let same = keys.length === Object.keys(prev).length;
    const out = Object.fromEntries(
      keys.map((k) => {
        const had = Object.hasOwn(prev, k);
        const v = share(had ? prev[k] : undefined, next[k]);
        if (!had || v !== prev[k]) same = false;
        return [k, v];
      }),
    );
    return same ? prev : out;
  }
  return next;
}
