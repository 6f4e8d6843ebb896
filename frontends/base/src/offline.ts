// @mizan/base/offline: the offline queue (docs/client.md, "Offline queue").
// enableOffline(client) puts a transport in front of the client's own: every
// call gets an idempotency key (docs/spec.md §12); a call made while offline,
// or failing with a network error, is queued in a store (memory, or
// IndexedDB so that a reload keeps it) and replayed in order, with the same
// key, on reconnect. Reads made while offline wait for the connection and
// the instances keep their last data, marked stale.
import type { MizanClient } from './client.js';
import { MizanError } from './errors.js';
import type { CallResult, Transport } from './transport.js';

/** One queued call, as a store keeps it. */
export interface QueuedCall {
  /** Its idempotency key, sent as `Idempotency-Key` on every attempt. */
  key: string;
  fn: string;
  args: unknown;
  /** When it was queued (milliseconds since the epoch, increasing within a page): the replay order. */
  t: number;
}

/** Where queued calls are persisted. load returns them in any order; enableOffline sorts them by t. */
export interface QueueStore {
  load(): Promise<QueuedCall[]>;
  put(call: QueuedCall): Promise<void>;
  delete(key: string): Promise<void>;
}

/** The connection state, and its changes; default navigator.onLine and the window's online/offline events. */
export interface OnlineSignal {
  get(): boolean;
  subscribe(listener: () => void): () => void;
}

/** Options of enableOffline. */
export interface OfflineOptions {
  /** Default memoryQueue(): the queue lasts as long as the page. */
  store?: QueueStore;
  online?: OnlineSignal;
  /** Called when the server refuses a replayed call (after its promise, if any, rejected). */
  onError?(call: QueuedCall, err: MizanError): void;
  /**
   * How long to wait before replaying again after `409
   * idempotency_in_flight`, in milliseconds, and before the first retry
   * after a network failure while the signal says online (doubled for each
   * next one, up to 30 s). Default 1000.
   */
  retryDelay?: number;
}

/** The controller enableOffline returns. */
export interface OfflineController {
  /** The queued calls, in replay order. */
  pending(): QueuedCall[];
  /** Whether the online signal says online. */
  online(): boolean;
  /** flush replays the queue now, one call at a time; it resolves when done or stopped, never rejects. */
  flush(): Promise<void>;
  /** subscribe adds a listener of changes of pending() and online(); it returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
  /** dispose gives the client its own transport back and stops listening; the queue stays in the store. */
  dispose(): void;
}

/** memoryQueue is a QueueStore in memory. */
export function memoryQueue(): QueueStore {
  const m = new Map<string, QueuedCall>();
  return {
    load: async () => [...m.values()],
    put: async (c) => void m.set(c.key, c),
    delete: async (k) => void m.delete(k),
  };
}

/** req resolves with the result of an IndexedDB request. */
const req = <T>(r: IDBRequest<T>): Promise<T> =>
  new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });

/**
 * indexedDBQueue is a QueueStore in the IndexedDB database name (object
 * store "calls", keyed by idempotency key), so that a reload keeps the
 * queue. The arguments must be structured-cloneable (JSON is).
 */
export function indexedDBQueue(name = 'mizan-offline', idb: IDBFactory = globalThis.indexedDB): QueueStore {
  let db: Promise<IDBDatabase> | undefined;
  const store = async (mode: IDBTransactionMode): Promise<IDBObjectStore> => {
    db ??= new Promise((resolve, reject) => {
      const r = idb.open(name, 1);
      r.onupgradeneeded = () => r.result.createObjectStore('calls', { keyPath: 'key' });
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    return (await db).transaction('calls', mode).objectStore('calls');
  };
  return {
    load: async () => req((await store('readonly')).getAll() as IDBRequest<QueuedCall[]>),
    put: async (c) => void (await req((await store('readwrite')).put(c))),
    delete: async (k) => void (await req((await store('readwrite')).delete(k))),
  };
}

/** browserOnline is the default OnlineSignal; without navigator it is always online. */
function browserOnline(): OnlineSignal {
  const g = globalThis as unknown as {
    navigator?: { onLine?: boolean };
    addEventListener?: (t: string, f: () => void) => void;
    removeEventListener?: (t: string, f: () => void) => void;
  };
  return {
    get: () => g.navigator?.onLine ?? true,
    subscribe(f) {
      g.addEventListener?.('online', f);
      g.addEventListener?.('offline', f);
      return () => {
        g.removeEventListener?.('online', f);
        g.removeEventListener?.('offline', f);
      };
    },
  };
}

/** uuid returns a random idempotency key: crypto.randomUUID where there is one (it needs a secure context). */
function uuid(): string {
  const c = globalThis.crypto;
  if (typeof c?.randomUUID === 'function') return c.randomUUID();
  const b = new Uint8Array(16);
  if (c?.getRandomValues) c.getRandomValues(b);
  else for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

/** isNetwork reports whether e is a failure after which the call may not have reached the server's function. */
const isNetwork = (e: unknown): boolean => e instanceof MizanError && (e.code === 'network' || e.code === 'unavailable');

/** Where the promise of a call made in this page waits. */
interface Waiter {
  resolve(r: CallResult<unknown>): void;
  reject(e: unknown): void;
}

/**
 * enableOffline installs the offline queue on client (docs/client.md,
 * "Offline queue"): it replaces the client's transport with one that gives
 * every call an idempotency key (`Idempotency-Key`) and queues, in opts.store,
 * a call made while offline, or made while calls are queued, or failing with
 * code `network` or `unavailable`. Such a call's promise stays pending (and
 * its optimistic layer applied) until it is replayed: in order, one at a
 * time, with the same key, on the online signal turning online or on
 * flush(). A replay the server refuses rejects the call's promise (rolling
 * back its optimistic layer) and calls onError, and the replay goes on with
 * the next call; `409 idempotency_in_flight` retries after retryDelay; a
 * network failure stops the replay until the next reconnect. Calls found in
 * the store (a reload) are queued first; their replayed targets are applied
 * to the client's instances, and they show nothing optimistic (updaters are
 * functions, which no store keeps). A read made while offline waits for the
 * connection: the instances keep their last data and turn stale when the
 * signal goes offline.
 */
export function enableOffline(client: MizanClient, opts: OfflineOptions = {}): OfflineController {
  const store = opts.store ?? memoryQueue();
  const signal = opts.online ?? browserOnline();
  const inner = client.transport;
  const queue: QueuedCall[] = [];
  const waiters = new Map<string, Waiter>();
  const listeners = new Set<() => void>();
  const wakes = new Set<() => void>();
  let last = 0;
  let flushing: Promise<void> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let disposed = false;
  let failures = 0;
  const delay = opts.retryDelay ?? 1000;
  /** later replays after ms. */
  const later = (ms: number): void => {
    clearTimeout(timer);
    if (!disposed) timer = setTimeout(() => void flush(), ms);
  };
  /**
   * failed schedules a replay after a network failure while the signal
   * says online (the server, not the device, is out of reach), with
   * exponential backoff; an offline signal waits for its online event.
   */
  const failed = (): void => {
    if (signal.get()) later(Math.min(delay * 2 ** failures++, 30_000));
  };

  const emit = (): void => {
    for (const f of [...listeners]) f();
  };
  const quiet = (p: Promise<unknown>): void => void p.catch(() => {});

  // Calls a previous page left in the store go first.
  const ready = store.load().then(
    (cs) => {
      cs.sort((a, b) => a.t - b.t);
      const mine = new Set(queue.map((c) => c.key));
      queue.unshift(...cs.filter((c) => !mine.has(c.key)));
      for (const c of cs) last = Math.max(last, c.t);
      if (cs.length) emit();
    },
    () => {},
  );

  /** waitOnline resolves when the signal says online, or rejects when signal aborts. */
  const waitOnline = (abort?: AbortSignal): Promise<void> =>
    new Promise((resolve, reject) => {
      if (abort?.aborted) return reject(abort.reason);
      const wake = (): void => {
        wakes.delete(wake);
        resolve();
      };
      wakes.add(wake);
      abort?.addEventListener(
        'abort',
        () => {
          wakes.delete(wake);
          reject(abort.reason);
        },
        { once: true },
      );
    });

  const send = (c: QueuedCall, s?: AbortSignal): Promise<CallResult<unknown>> =>
    inner.call(c.fn, c.args, s, { 'Idempotency-Key': c.key });

  /** settle removes c from the queue and the store. */
  const settle = (c: QueuedCall): void => {
    const i = queue.indexOf(c);
    if (i >= 0) queue.splice(i, 1);
    waiters.delete(c.key);
    quiet(store.delete(c.key));
    emit();
  };

  const enqueue = (c: QueuedCall): Promise<CallResult<unknown>> => {
    queue.push(c);
    quiet(store.put(c));
    emit();
    return new Promise((resolve, reject) => waiters.set(c.key, { resolve, reject }));
  };

  const replay = async (): Promise<void> => {
    await ready;
    while (!disposed && queue.length && signal.get()) {
      const c = queue[0]!;
      let r: CallResult<unknown>;
      try {
        r = await send(c);
      } catch (e) {
        if (isNetwork(e)) return failed();
        const err = e instanceof MizanError ? e : new MizanError('unknown', String(e));
        if (err.status === 409 && err.code === 'idempotency_in_flight') return later(delay);
        const w = waiters.get(c.key);
        settle(c);
        w?.reject(err);
        opts.onError?.(c, err);
        continue;
      }
      failures = 0;
      const w = waiters.get(c.key);
      settle(c);
      // A call of this page resolves (the kernel applies its targets); one
      // from the store has no caller: its targets are applied here.
      if (w) w.resolve(r);
      else client.invalidate(r.invalidate ?? []);
    }
  };

  const flush = (): Promise<void> =>
    (flushing ??= replay().finally(() => {
      flushing = undefined;
    }));

  const transport: Transport = {
    async fetchContext(context, params, abort) {
      for (;;) {
        if (!signal.get()) await waitOnline(abort);
        try {
          return await inner.fetchContext(context, params, abort);
        } catch (e) {
          // Gone offline meanwhile: wait and read again.
          if (!isNetwork(e) || signal.get()) throw e;
        }
      }
    },
    async call(fn, args, abort, headers) {
      const c: QueuedCall = { key: headers?.['Idempotency-Key'] ?? uuid(), fn, args, t: (last = Math.max(Date.now(), last + 1)) };
      if (!signal.get() || queue.length) {
        const p = enqueue(c);
        if (signal.get()) void flush();
        return p;
      }
      try {
        return await send(c, abort);
      } catch (e) {
        if (!isNetwork(e)) throw e;
        const p = enqueue(c);
        failed();
        return p;
      }
    },
  };
  // The client has connected the inner transport already; instances created
  // from now on watch through this one.
  if (inner.watch) transport.watch = (c, p, on) => inner.watch!(c, p, on);
  client.transport = transport;

  let was = signal.get();
  const off = signal.subscribe(() => {
    const now = signal.get();
    if (now === was) return;
    was = now;
    if (now) {
      for (const w of [...wakes]) w();
      void flush();
    } else {
      // What is shown may be out of date from now on.
      for (const inst of client.instances.values()) inst.invalidate();
    }
    emit();
  });
  void ready.then(() => {
    if (queue.length && signal.get()) void flush();
  });

  return {
    pending: () => queue.slice(),
    online: () => signal.get(),
    flush,
    subscribe(f) {
      listeners.add(f);
      return () => void listeners.delete(f);
    },
    dispose() {
      disposed = true;
      off();
      clearTimeout(timer);
      if (client.transport === transport) client.transport = inner;
    },
  };
}
