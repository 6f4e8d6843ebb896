// WebCrypto helpers shared by the MWT check, the cache keys and the purge
// signature: HMAC-SHA256 keys, lower-case hex and base64url. Pure: they run
// in workerd and in Node (the unit tests) alike.

const encoder = new TextEncoder();

/** utf8 returns the UTF-8 bytes of s. */
export function utf8(s: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(s) as Uint8Array<ArrayBuffer>;
}

// Imported keys by secret: importKey is cheap, but a request may need three
// or four HMACs with the same secret.
const keys = new Map<string, Promise<CryptoKey>>();

/** hmacKey returns the HMAC-SHA256 key of secret (its UTF-8 bytes), for signing and verifying. */
export function hmacKey(secret: string): Promise<CryptoKey> {
  let k = keys.get(secret);
  if (!k) {
    if (keys.size >= 16) keys.clear();
    k = crypto.subtle.importKey('raw', utf8(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
      'sign',
      'verify',
    ]);
    keys.set(secret, k);
  }
  return k;
}

/** hmacHex returns the lower-case hex HMAC-SHA256 of message (UTF-8) under secret. */
export async function hmacHex(secret: string, message: string): Promise<string> {
  const sig = await crypto.subtle.sign('HMAC', await hmacKey(secret), utf8(message));
  return toHex(new Uint8Array(sig));
}

/** hmacVerify reports, in constant time, whether sig is the HMAC-SHA256 of message under secret. */
export async function hmacVerify(secret: string, message: Uint8Array<ArrayBuffer>, sig: Uint8Array<ArrayBuffer>): Promise<boolean> {
  return crypto.subtle.verify('HMAC', await hmacKey(secret), sig, message);
}

const hexDigits = '0123456789abcdef';

/** toHex formats bytes as lower-case hex. */
export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += hexDigits[b >> 4]! + hexDigits[b & 15]!;
  return s;
}

/** fromHex parses hex (either case, even length), or returns null. */
export function fromHex(hex: string): Uint8Array<ArrayBuffer> | null {
  if (hex.length % 2 !== 0 || !/^[0-9A-Fa-f]*$/.test(hex)) return null;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const b64urlRe = /^[A-Za-z0-9_-]*$/;

/**
 * base64urlDecode decodes unpadded base64url (RFC 4648 §5), or returns
 * null for any other character, padding, or an impossible length.
 */
export function base64urlDecode(s: string): Uint8Array<ArrayBuffer> | null {
  if (!b64urlRe.test(s) || s.length % 4 === 1) return null;
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4);
  let bin: string;
  try {
    bin = atob(b64);
  } catch {
    return null;
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** base64urlEncode encodes bytes as unpadded base64url. */
export function base64urlEncode(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
