// Cache keys (docs/spec.md §6; vectors testdata/vectors/cache-keys.json) and
// the user hash the freshness objects see instead of user ids.
import { hmacHex } from './crypto.js';

function sortedParams(params: Readonly<Record<string, string>>): string {
  return (
    '{' +
    Object.keys(params)
      .sort()
      .map((k) => JSON.stringify(k) + ':' + JSON.stringify(params[k]))
      .join(',') +
    '}'
  );
}

const userPart = (user: string | null | undefined): string =>
  user === null || user === undefined ? '' : ',"u":' + JSON.stringify(user);

/**
 * canonicalKey is the canonical form of docs/spec.md §6, exactly:
 * `{"c":<context>,"p":{<params sorted by name>},"r":<rev>}`, with
 * `,"u":<user>` before the closing brace when user is given; strings
 * escaped as JSON.stringify does.
 */
export function canonicalKey(
  context: string,
  params: Readonly<Record<string, string>>,
  rev: number,
  user?: string | null,
): string {
  return '{"c":' + JSON.stringify(context) + ',"p":' + sortedParams(params) + ',"r":' + String(rev) + userPart(user) + '}';
}

/** contextKey is the cache key of a context fetch: `ctx:<context>:<hex HMAC-SHA256(secret, canonicalKey(...))>`. */
export async function contextKey(
  secret: string,
  context: string,
  params: Readonly<Record<string, string>>,
  rev: number,
  user?: string | null,
): Promise<string> {
  return 'ctx:' + context + ':' + (await hmacHex(secret, canonicalKey(context, params, rev, user)));
}

/**
 * canonicalPageKey is the canonical form of a page entry (an edge-only
 * key, in the shape of §6): `{"c":<context>,"path":<path>,"p":{<query
 * sorted by name>},"r":<rev>}`, with `,"u":<user>` before the closing brace
 * when user is given.
 */
export function canonicalPageKey(
  context: string,
  path: string,
  params: Readonly<Record<string, string>>,
  rev: number,
  user?: string | null,
): string {
  return (
    '{"c":' +
    JSON.stringify(context) +
    ',"path":' +
    JSON.stringify(path) +
    ',"p":' +
    sortedParams(params) +
    ',"r":' +
    String(rev) +
    userPart(user) +
    '}'
  );
}

/** pageKey is the cache key of a page: `page:<context>:<hex HMAC-SHA256(secret, canonicalPageKey(...))>`. */
export async function pageKey(
  secret: string,
  context: string,
  path: string,
  params: Readonly<Record<string, string>>,
  rev: number,
  user?: string | null,
): Promise<string> {
  return 'page:' + context + ':' + (await hmacHex(secret, canonicalPageKey(context, path, params, rev, user)));
}

/**
 * userHash is what stands for a user id in entries and purges: the first
 * 32 hex digits of HMAC-SHA256(secret, "u:" + id). The freshness objects
 * never see raw ids.
 */
export async function userHash(secret: string, id: string): Promise<string> {
  return (await hmacHex(secret, 'u:' + id)).slice(0, 32);
}
