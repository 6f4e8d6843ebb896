// The MizanFreshness Durable Object: one per context (idFromName("ctx:" +
// context)) holding that context's freshness log in memory, and one more
// (idFromName("__mizan_replay")) holding the purge post's replay memory in
// its storage.
import { DurableObject } from 'cloudflare:workers';
import { FreshnessLog, type CheckItem, type FreshnessToken, type PurgeItem } from './freshness.js';
import { ReplayMemory } from './signature.js';

/**
 * MizanFreshness is the edge's Durable Object class. Its RPC methods:
 * begin, purge and check (the freshness log, in memory: see
 * freshness.ts for why that is sound), replaySeen and replayRecord (the
 * replay memory, persisted in ctx.storage).
 */
export class MizanFreshness extends DurableObject {
  readonly #log = new FreshnessLog();
  readonly #replay: ReplayMemory;

  /** Made by the runtime. */
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as Cloudflare.Env);
    const s = ctx.storage;
    this.#replay = new ReplayMemory({
      get: (key) => s.get(key),
      put: (entries) => s.put(entries),
      delete: (keys) => s.delete(keys),
      list: (options) => s.list(options),
    });
  }

  /** begin returns the token an entry is stored with; call it before asking the origin. */
  begin(): FreshnessToken {
    return this.#log.begin();
  }

  /** purge records purges (each with the next seq) and returns the last seq. */
  purge(items: PurgeItem[]): number {
    return this.#log.purge(Array.isArray(items) ? items : [{}]);
  }

  /** check reports whether every item (an instance and the token its entry was stored with) is still fresh. */
  check(items: CheckItem[]): boolean {
    return Array.isArray(items) && this.#log.check(items);
  }

  /** replaySeen reports whether the purge post signed signature was already applied. */
  replaySeen(signature: string): Promise<boolean> {
    return this.#replay.seen(signature);
  }

  /** replayRecord remembers that the purge post signed signature was applied, until expiresAt (ms). */
  replayRecord(signature: string, expiresAt: number): Promise<void> {
    return this.#replay.record(signature, expiresAt);
  }
}
