import type { CallResult, Params, TargetInput, Transport } from '../src/index.js';

/** A request the fake transport has seen, with the means to answer it by hand. */
export interface Pending {
  context: string;
  params: Params;
  signal: AbortSignal | undefined;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

type CtxHandler = (context: string, params: Params) => unknown;
type CallHandler = (fn: string, args: unknown) => { result: unknown; invalidate: TargetInput[] };

/**
 * FakeTransport answers fetchContext from a handler (after a macrotask, like
 * a network), or leaves it pending when manual is set; it records every
 * request.
 */
export class FakeTransport implements Transport {
  fetches: { context: string; params: Params; signal: AbortSignal | undefined }[] = [];
  calls: { fn: string; args: unknown }[] = [];
  pending: Pending[] = [];
  manual = false;
  honorAbort = true;

  constructor(
    public onContext: CtxHandler = () => ({}),
    public onCall: CallHandler = () => ({ result: null, invalidate: [] }),
  ) {}

  fetchContext(context: string, params: Params, signal?: AbortSignal): Promise<unknown> {
    this.fetches.push({ context, params, signal });
    return new Promise((resolve, reject) => {
      if (this.honorAbort) signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
      if (this.manual) {
        this.pending.push({ context, params, signal, resolve, reject });
        return;
      }
      setTimeout(() => {
        try {
          resolve(this.onContext(context, params));
        } catch (e) {
          reject(e);
        }
      }, 0);
    });
  }

  async call(fn: string, args: unknown): Promise<CallResult<unknown>> {
    this.calls.push({ fn, args });
    await new Promise((r) => setTimeout(r, 0));
    return this.onCall(fn, args);
  }

  count(context?: string): number {
    return this.fetches.filter((f) => context === undefined || f.context === context).length;
  }
}

/** tick lets pending timers and promise callbacks run. */
export async function tick(n = 3): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setTimeout(r, 0));
}

/** A small in-memory fixture server in the shape of docs/spec.md §7. */
export function fixtureServer() {
  const users: Record<string, { id: number; name: string; email: string }> = {
    '1': { id: 1, name: 'Ada', email: 'ada@example.com' },
    '2': { id: 2, name: 'Grace', email: 'grace@example.com' },
  };
  const orders: Record<string, { id: number; total: number }[]> = {
    '1': [{ id: 11, total: 5 }],
    '2': [{ id: 21, total: 7 }],
  };
  const onContext: CtxHandler = (context, params) => {
    const id = String(params.user_id);
    if (context === 'user') return { user_profile: { ...users[id] }, user_orders: (orders[id] ?? []).map((o) => ({ ...o })) };
    if (context === 'orders') return { order_page: { items: [], page: Number(params.page ?? 1) } };
    return {};
  };
  const onCall: CallHandler = (fn, args) => {
    const a = args as { user_id: number; name: string };
    const u = users[String(a.user_id)];
    if (fn === 'update_profile' && u) {
      u.name = a.name;
      return { result: { ok: true }, invalidate: [{ context: 'user', params: { user_id: a.user_id } }] };
    }
    if (fn === 'update_name' && u) {
      u.name = a.name;
      return {
        result: { ok: true },
        invalidate: [{ context: 'user', function: 'user_profile', params: { user_id: a.user_id } }],
      };
    }
    if (fn === 'reset_all') return { result: { ok: true }, invalidate: ['user', 'orders'] };
    throw new Error('unknown function ' + fn);
  };
  return { users, orders, onContext, onCall };
}
