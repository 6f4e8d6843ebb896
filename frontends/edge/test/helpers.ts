// Test helpers: MWTs signed with node:crypto (independently of the edge's
// own WebCrypto code), purge signatures, the repository's vectors.
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The repository root (frontends/edge/test → ../../..). */
export const repoRoot = join(here, '..', '..', '..');

/** readJSON reads a file relative to the repository root. */
export function readJSON<T>(rel: string): T {
  return JSON.parse(readFileSync(join(repoRoot, rel), 'utf8')) as T;
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

/** makeJWS signs header.claims with HMAC-SHA256 (whatever the header says). */
export function makeJWS(header: unknown, claims: unknown, secret: string): string {
  const h = b64url(JSON.stringify(header));
  const p = b64url(JSON.stringify(claims));
  const s = createHmac('sha256', secret).update(h + '.' + p).digest('base64url');
  return `${h}.${p}.${s}`;
}

/** mwt returns a valid MWT for sub, expiring in ttl seconds. */
export function mwt(sub: string, secret: string, ttl = 300): string {
  const now = Math.floor(Date.now() / 1000);
  return makeJWS({ alg: 'HS256', typ: 'MWT' }, { sub, staff: false, super: false, type: 'mwt', iat: now, exp: now + ttl }, secret);
}

/** purgeHeaders signs a purge body as the origin does. */
export function purgeHeaders(secret: string, body: string, ts = Math.floor(Date.now() / 1000)): Record<string, string> {
  const sig = createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex');
  return { 'X-Mizan-Timestamp': String(ts), 'X-Mizan-Signature': `v1=${sig}`, 'Content-Type': 'application/json' };
}
