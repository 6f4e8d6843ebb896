// The MWT check (docs/spec.md §8, §11, §13.6): an HS256 JWS with header
// exactly {"alg":"HS256","typ":"MWT"}, claims type "mwt", sub, exp.
import { base64urlDecode, hmacVerify, utf8 } from './crypto.js';

/** The claims of a verified MWT (docs/spec.md §8); other claims are ignored. */
export interface MWTClaims {
  /** The user id, a non-empty string. */
  readonly sub: string;
  /** Expiry, Unix seconds (in the future when verified). */
  readonly exp: number;
  /** Always "mwt". */
  readonly type: 'mwt';
  /** Whether the user is staff, when the token says so. */
  readonly staff?: boolean;
  /** Whether the user is a superuser, when the token says so. */
  readonly super?: boolean;
  /** Issued at, Unix seconds, when present. */
  readonly iat?: number;
}

/** Tokens longer than this are refused unread. */
export const MAX_MWT_LENGTH = 8192;

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

function decodeJSONPart(part: string): unknown {
  const bytes = base64urlDecode(part);
  if (!bytes) return undefined;
  try {
    return JSON.parse(decoder.decode(bytes)) as unknown;
  } catch {
    return undefined;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * verifyMWT returns the claims of token when it is a valid MWT signed with
 * secret at time now (Unix seconds), else null: three base64url parts, a
 * header holding exactly `alg: "HS256"` and `typ: "MWT"` (so `none`, any
 * other algorithm, a JWT and extra header members such as `crit` are
 * refused before the signature is checked), an HMAC-SHA256 signature that
 * verifies in constant time, and claims with `type: "mwt"`, a non-empty
 * string `sub` (not `anonymous`) and a numeric `exp` after now. No clock leeway.
 */
export async function verifyMWT(
  token: string,
  secret: string,
  now: number = Date.now() / 1000,
): Promise<MWTClaims | null> {
  if (!secret || token.length > MAX_MWT_LENGTH) return null;
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  const [h, p, s] = parts as [string, string, string];
  if (!h || !p || !s) return null;
  const header = decodeJSONPart(h);
  if (!isObject(header) || header.alg !== 'HS256' || header.typ !== 'MWT' || Object.keys(header).length !== 2) {
    return null;
  }
  const sig = base64urlDecode(s);
  if (!sig || sig.length !== 32) return null;
  if (!(await hmacVerify(secret, utf8(h + '.' + p), sig))) return null;
  const claims = decodeJSONPart(p);
  if (!isObject(claims)) return null;
  const { sub, exp, type } = claims;
  // "anonymous" is the origin's X-Mizan-Identity of a caller not signed
  // in: a user of that id would share the anonymous entries.
  if (type !== 'mwt' || typeof sub !== 'string' || sub === '' || sub === 'anonymous') return null;
  if (typeof exp !== 'number' || !Number.isFinite(exp) || exp <= now) return null;
  const out: { -readonly [K in keyof MWTClaims]: MWTClaims[K] } = { sub, exp, type };
  if (typeof claims.staff === 'boolean') out.staff = claims.staff;
  if (typeof claims.super === 'boolean') out.super = claims.super;
  if (typeof claims.iat === 'number') out.iat = claims.iat;
  return out;
}
