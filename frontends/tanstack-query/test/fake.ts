// A fake transport for the unit tests: it answers context fetches from an
// in-memory store, counts them per instance key, returns the targets a
// test sets for each call, and records what a pushing transport is asked
// to watch.
import { instanceKey, type CallResult, type Params, type TargetInput, type Transport } from '@mizan/base';

export class FakeTransport implements Transport {
  /** The name of user <id>, for context user. */
  names: Record<string, string> = { '1': 'Ada', '2': 'Grace' };
  /** Fetches per instanceKey. */
  fetches = new Map<string, number>();
  /** The signals of the fetches, in order. */
  signals: (AbortSignal | undefined)[] = [];
  /** The targets call returns, by function name. */
  targets: Record<string, TargetInput[]> = {};
  /** The calls made, in order. */
  calls: { fn: string; args: unknown }[] = [];
  /** The push function the client connected with. */
  push: ((targets: TargetInput[]) => void) | undefined;
  /** watch(…) calls, as 'on user?user_id=1' / 'off …'. */
  watches: string[] = [];

  constructor(readonly pushing = false) {
    if (pushing) {
      this.connect = (p) => {
        this.push = p;
      };
      this.watch = (context, params, on) => {
        this.watches.push((on ? 'on ' : 'off ') + instanceKey(context, params));
      };
    }
  }

  connect?: (push: (targets: TargetInput[]) => void) => void;
  watch?: (context: string, params: Record<string, string>, on: boolean) => void;

  count(context: string, params?: Params): number {
    return this.fetches.get(instanceKey(context, params)) ?? 0;
  }

  async fetchContext(context: string, params: Params, signal?: AbortSignal): Promise<unknown> {
    const key = instanceKey(context, params);
    this.fetches.set(key, (this.fetches.get(key) ?? 0) + 1);
    this.signals.push(signal);
    await new Promise((r) => setTimeout(r, 1));
    if (context === 'user') return { user_profile: { name: this.names[String(params.user_id)] }, user_orders: [] };
    return { [context + '_data']: { params } };
  }

  async call(fn: string, args: unknown): Promise<CallResult<unknown>> {
    this.calls.push({ fn, args });
    await new Promise((r) => setTimeout(r, 1));
    const a = args as { user_id?: number; name?: string };
    if (a.user_id !== undefined && a.name !== undefined) this.names[String(a.user_id)] = a.name;
    return { result: { ok: true }, invalidate: this.targets[fn] ?? [] };
  }
}

/** tick waits for timers and promises started so far to settle. */
export const tick = (ms = 10): Promise<void> => new Promise((r) => setTimeout(r, ms));
