import type { Target } from './targets.js';

const nameRe = /^[A-Za-z0-9_.-]+$/;
const hexRe = /^[0-9A-Fa-f]{2}$/;

const trim = (s: string): string => s.replace(/^[ \t]+|[ \t]+$/g, '');

/**
 * parseInvalidateHeader parses the value of the X-Mizan-Invalidate header
 * (docs/spec.md §3), for example `user;user_id=5, notifications`, into
 * targets in the order of the entries, params as decoded strings. It is
 * strict and throws an Error for an empty header or entry, a missing or
 * invalid name (names are A-Z a-z 0-9 _ - .), a parameter without `=`, a
 * repeated parameter, a malformed percent escape, a raw space, control or
 * non-ASCII character in a value, or a value that is not UTF-8 once
 * decoded. `+` is a literal plus.
 */
export function parseInvalidateHeader(value: string): Target[] {
  if (!trim(value)) throw new Error('mizan: empty invalidate header');
  return value.split(',').map((entry, i) => {
    try {
      return parseEntry(trim(entry));
    } catch (e) {
      throw new Error(`mizan: invalidate header entry ${i + 1}: ${(e as Error).message}`);
    }
  });
}

function parseEntry(entry: string): Target {
  if (!entry) throw new Error('empty entry');
  const [name = '', ...segments] = entry.split(';');
  const context = parseName(trim(name), 'context');
  const params: [string, string][] = [];
  for (let seg of segments) {
    seg = trim(seg);
    if (!seg) throw new Error('empty parameter');
    const eq = seg.indexOf('=');
    if (eq < 0) throw new Error(`parameter "${seg}" has no "="`);
    const k = parseName(trim(seg.slice(0, eq)), 'parameter');
    if (params.some(([p]) => p === k)) throw new Error(`repeated parameter "${k}"`);
    params.push([k, parseValue(trim(seg.slice(eq + 1)))]);
  }
  return { context, params: Object.fromEntries(params) };
}

function parseName(raw: string, what: string): string {
  if (!raw) throw new Error(`missing ${what} name`);
  const name = percentDecode(raw);
  if (!nameRe.test(name)) throw new Error(`invalid ${what} name "${raw}"`);
  return name;
}

function parseValue(raw: string): string {
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) throw new Error(`value "${raw}" holds an unencoded character`);
  }
  return percentDecode(raw);
}

/** percentDecode replaces each %XX by its byte and decodes the bytes as UTF-8. */
function percentDecode(s: string): string {
  if (!s.includes('%')) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      const hex = s.slice(i + 1, i + 3);
      if (!hexRe.test(hex)) {
        throw new Error(hex.length < 2 ? 'truncated percent escape' : `bad percent escape "%${hex}"`);
      }
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (c < 0x80) {
      bytes.push(c);
    } else {
      throw new Error(`"${s}" holds a non-ASCII character`);
    }
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(bytes));
  } catch {
    throw new Error(`"${s}" is not valid UTF-8 once decoded`);
  }
}
