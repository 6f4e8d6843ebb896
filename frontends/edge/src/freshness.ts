// The freshness log of one context: the pure logic of the MizanFreshness
// Durable Object (one per context), kept apart so that it can be tested in
// Node.
//
// Soundness: an entry is stored with the token {epoch, seq} that begin()
// gave *before* the origin was asked. A purge recorded after that begin()
// has a larger seq, so check() finds it and calls the entry stale; a purge
// recorded before it was already applied at the origin when the origin
// answered. The log lives in memory only: the epoch is random per object
// life, so when the object restarts (eviction, a new deployment) every
// entry stored under the old epoch is stale. When the bounded log drops its
// oldest purges, `floor` remembers the largest dropped seq and every entry
// whose token is older is stale.
import { matchTarget } from '@mizan/base';

/** freshnessName is the Durable Object name (idFromName) of context's freshness object. */
export const freshnessName = (context: string): string => 'ctx:' + context;

/** The Durable Object name (idFromName) of the object holding the purge post's replay memory. */
export const REPLAY_OBJECT = '__mizan_replay';

/** What begin() returns and an entry is stored with. */
export interface FreshnessToken {
  /** The object's life: random, made when the object starts. */
  readonly epoch: string;
  /** The seq of the last purge recorded before the token was taken. */
  readonly seq: number;
}

/** An instance as the edge knows it: a context, its normalized params, the user hash of a per-user entry. */
export interface InstanceItem {
  /** The context name. */
  readonly context: string;
  /** Normalized string params (docs/spec.md §4), as the origin reported them. */
  readonly params: Readonly<Record<string, string>>;
  /** The user hash of a per-user entry; absent for entries shared by callers. */
  readonly uid?: string;
}

/**
 * A purge as the log holds it: a target (context and string params) and,
 * when narrowed to a caller (tier 2), the caller's user hash: it then
 * applies only to that caller's entries.
 */
export type PurgeItem = InstanceItem;

/** An instance of a stored entry with the token the entry was stored with. */
export interface CheckItem extends InstanceItem, FreshnessToken {}

interface LogEntry {
  readonly seq: number;
  readonly item: PurgeItem;
}

/**
 * appliesTo reports whether purge p makes the entry of instance stale: the
 * matching rule of docs/spec.md §3 (`matchTarget` of @mizan/base, the one
 * rule every consumer calls), and for a purge narrowed to a user hash, the
 * entry must carry the same hash (entries without one are untouched).
 */
export function appliesTo(p: PurgeItem, instance: InstanceItem): boolean {
  if (p.uid !== undefined && p.uid !== instance.uid) return false;
  return matchTarget({ context: p.context, params: { ...p.params } }, instance) !== null;
}

/** The default bound of the log, in purges. */
export const DEFAULT_LOG_LIMIT = 4096;

/**
 * The largest params a logged purge keeps, in characters of their JSON:
 * a purge scoped by more is logged broad (it purges more, never less), so
 * that the log's memory and the cost of a check stay bounded whatever
 * values mutations scope by.
 */
export const MAX_LOGGED_PARAMS = 512;

const randomEpoch = (): string => crypto.randomUUID();

const isStringMap = (v: unknown): v is Record<string, string> =>
  typeof v === 'object' &&
  v !== null &&
  !Array.isArray(v) &&
  Object.values(v as Record<string, unknown>).every((x) => typeof x === 'string');

/** isInstanceItem checks the shape of an item received over RPC. */
export function isInstanceItem(v: unknown): v is InstanceItem {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return (
    typeof o.context === 'string' && isStringMap(o.params) && (o.uid === undefined || typeof o.uid === 'string')
  );
}

/** FreshnessLog is the in-memory state of one context's freshness object. */
export class FreshnessLog {
  /** This life's epoch. */
  readonly epoch: string;
  readonly #limit: number;
  #seq = 0;
  #floor = 0;
  // The log is #entries[#head...]; dropped entries are compacted away in batches.
  #entries: LogEntry[] = [];
  #head = 0;

  /** A new log: a fresh random epoch unless one is given, holding at most limit purges. */
  constructor(options: { epoch?: string; limit?: number } = {}) {
    this.epoch = options.epoch ?? randomEpoch();
    this.#limit = Math.max(1, options.limit ?? DEFAULT_LOG_LIMIT);
  }

  /** The seq of the last purge recorded. */
  get seq(): number {
    return this.#seq;
  }

  /** The largest seq dropped from the log: entries with older tokens are stale. */
  get floor(): number {
    return this.#floor;
  }

  /** The number of purges held. */
  get size(): number {
    return this.#entries.length - this.#head;
  }

  /** begin returns the token to store an entry with; take it before asking the origin. */
  begin(): FreshnessToken {
    return { epoch: this.epoch, seq: this.#seq };
  }

  /**
   * purge records the purges, each with the next seq, and returns the last
   * seq. A malformed item becomes a broad purge of its context (or, without
   * a context, of everything: the floor rises), never nothing.
   */
  purge(items: readonly unknown[]): number {
    for (const raw of items) {
      const seq = ++this.#seq;
      if (!isInstanceItem(raw)) {
        const ctx = typeof raw === 'object' && raw !== null ? (raw as { context?: unknown }).context : undefined;
        if (typeof ctx === 'string') this.#push({ seq, item: { context: ctx, params: {} } });
        else this.#floor = Math.max(this.#floor, seq);
        continue;
      }
      const params = JSON.stringify(raw.params).length > MAX_LOGGED_PARAMS ? {} : { ...raw.params };
      const item: PurgeItem =
        raw.uid === undefined ? { context: raw.context, params } : { context: raw.context, params, uid: raw.uid };
      this.#push({ seq, item });
    }
    return this.#seq;
  }

  #push(e: LogEntry): void {
    this.#entries.push(e);
    while (this.size > this.#limit) {
      const dropped = this.#entries[this.#head++]!;
      this.#floor = Math.max(this.#floor, dropped.seq);
    }
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
  }

  /**
   * check reports whether every item is still fresh: taken in this epoch,
   * not older than the floor, and matched by no purge recorded after its
   * token. A malformed item is stale.
   */
  check(items: readonly unknown[]): boolean {
    for (const raw of items) {
      if (!isInstanceItem(raw)) return false;
      const { epoch, seq } = raw as Partial<FreshnessToken>;
      if (epoch !== this.epoch || typeof seq !== 'number' || !Number.isInteger(seq)) return false;
      if (seq < this.#floor || seq > this.#seq) return false;
      for (let i = this.#entries.length - 1; i >= this.#head; i--) {
        const e = this.#entries[i]!;
        if (e.seq <= seq) break;
        if (appliesTo(e.item, raw)) return false;
      }
    }
    return true;
  }
}
