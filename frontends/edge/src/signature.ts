// The purge post's authentication (docs/spec.md §11): X-Mizan-Timestamp
// (Unix seconds) and X-Mizan-Signature `v1=<hex HMAC-SHA256(secret,
// timestamp + "." + body)>`, refused when wrong or older (or newer) than five
// minutes; and the memory of signatures already applied, over a Durable
// Object's storage.
import { fromHex, hmacHex, hmacVerify, utf8 } from './crypto.js';

/** How far the timestamp may be from now, in seconds. */
export const PURGE_MAX_SKEW = 300;

/** signPurge returns the X-Mizan-Signature value for body at Unix time timestamp. */
export async function signPurge(secret: string, timestamp: number | string, body: string): Promise<string> {
  return 'v1=' + (await hmacHex(secret, String(timestamp) + '.' + body));
}

/** What {@link verifyPurge} decides. */
export type PurgeAuth =
  | { readonly ok: true; /** The verified signature, lower-case hex: the replay key. */ readonly signature: string; /** The timestamp, Unix seconds. */ readonly timestamp: number }
  | { readonly ok: false; readonly reason: 'missing' | 'malformed' | 'wrong' | 'stale' };

/**
 * verifyPurge checks the purge post's headers against the raw body, the
 * signature compared in constant time (crypto.subtle.verify). The header may
 * hold several comma-separated `v1=` signatures (a key rotation); one that
 * verifies is enough. now is Unix seconds.
 */
export async function verifyPurge(
  secret: string,
  timestampHeader: string | null,
  signatureHeader: string | null,
  body: string,
  now: number = Date.now() / 1000,
): Promise<PurgeAuth> {
  if (!secret || timestampHeader === null || signatureHeader === null) return { ok: false, reason: 'missing' };
  if (!/^[0-9]{1,12}$/.test(timestampHeader)) return { ok: false, reason: 'malformed' };
  const ts = Number(timestampHeader);
  const message = utf8(timestampHeader + '.' + body);
  let signature: string | undefined;
  for (const part of signatureHeader.split(',')) {
    const m = /^\s*v1=([0-9a-fA-F]{64})\s*$/.exec(part);
    if (!m) continue;
    const hex = m[1]!.toLowerCase();
    if (await hmacVerify(secret, message, fromHex(hex)!)) {
      signature = hex;
      break;
    }
  }
  if (signature === undefined) return { ok: false, reason: 'wrong' };
  if (Math.abs(now - ts) > PURGE_MAX_SKEW) return { ok: false, reason: 'stale' };
  return { ok: true, signature, timestamp: ts };
}

/** The part of a Durable Object's storage the replay memory uses. */
export interface ReplayStorage {
  /** Reads one value. */
  get(key: string): Promise<unknown>;
  /** Writes values. */
  put(entries: Record<string, unknown>): Promise<void>;
  /** Deletes keys. */
  delete(keys: string[]): Promise<unknown>;
  /** Lists keys with prefix, below end, at most limit. */
  list(options: { prefix: string; end: string; limit: number }): Promise<Map<string, unknown>>;
}

const pad = (ms: number): string => String(Math.max(0, Math.floor(ms))).padStart(15, '0');

/**
 * ReplayMemory remembers signatures until they expire: `s:<sig>` holds the
 * expiry (ms), `t:<expiry>:<sig>` orders them so that each record prunes the
 * expired ones.
 */
export class ReplayMemory {
  readonly #storage: ReplayStorage;
  readonly #now: () => number;

  /** A memory over storage; now returns milliseconds. */
  constructor(storage: ReplayStorage, now: () => number = Date.now) {
    this.#storage = storage;
    this.#now = now;
  }

  /** seen reports whether signature was recorded and has not expired. */
  async seen(signature: string): Promise<boolean> {
    const exp = await this.#storage.get('s:' + signature);
    return typeof exp === 'number' && exp > this.#now();
  }

  /** record remembers signature until expiresAt (ms), and forgets expired ones. */
  async record(signature: string, expiresAt: number): Promise<void> {
    await this.#storage.put({ ['s:' + signature]: expiresAt, ['t:' + pad(expiresAt) + ':' + signature]: signature });
    const old = await this.#storage.list({ prefix: 't:', end: 't:' + pad(this.#now()), limit: 256 });
    if (old.size === 0) return;
    const del: string[] = [];
    for (const [k, sig] of old) {
      del.push(k);
      if (typeof sig === 'string' && sig !== signature) del.push('s:' + sig);
    }
    await this.#storage.delete(del);
  }
}

/** replayExpiry is when a signature with timestamp ts (seconds) can no longer verify: ms. */
export function replayExpiry(ts: number): number {
  return (ts + PURGE_MAX_SKEW + 1) * 1000;
}
