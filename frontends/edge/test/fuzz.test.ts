// Property tests of every parser the edge runs on untrusted input: an MWT
// from any client, a purge post's headers and body, a body target, a route
// pattern match of any path. For arbitrary input each answers (a verdict
// or null) and never throws; and what they accept is exactly what they
// should: a mutated valid token or signature is refused. Fixed seed,
// printed by fast-check on failure.
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { verifyMWT } from '../src/mwt.js';
import { parseBodyTarget, parseBodyTargets } from '../src/purge.js';
import { matchRoute, parseRoute } from '../src/routes.js';
import { verifyPurge } from '../src/signature.js';
import { mwt } from './helpers.js';

const seed = 20261202;
const runs = 2000;
const secret = 'fuzz-secret-32-bytes-long-000000';

/** jsonish is any JSON value, as a client might send. */
const jsonish = fc.jsonValue({ maxDepth: 4 });

describe('edge parsers under arbitrary input', () => {
  it('verifyMWT answers null or claims for any string, and only for a real token', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.stringMatching(/^[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/)), async (s) => {
        const c = await verifyMWT(s, secret);
        expect(c).toBeNull();
      }),
      { seed, numRuns: runs },
    );
    // Any one-character change of a valid token is refused.
    const good = mwt('5', secret);
    expect((await verifyMWT(good, secret))?.sub).toBe('5');
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: good.length - 1 }), fc.constantFrom(...'ABCxyz019-_.'), async (i, ch) => {
        fc.pre(good[i] !== ch);
        const bad = good.slice(0, i) + ch + good.slice(i + 1);
        const c = await verifyMWT(bad, secret);
        // base64url's last character may carry unused bits: a change there
        // can decode to the same bytes, the same valid token.
        if (c !== null) expect(Buffer.from(bad.split('.')[2] ?? '', 'base64url')).toEqual(Buffer.from(good.split('.')[2]!, 'base64url'));
      }),
      { seed, numRuns: runs },
    );
  });

  it('verifyPurge refuses any forged or altered post, and never throws', async () => {
    const now = 1_800_000_000;
    await fc.assert(
      fc.asyncProperty(fc.option(fc.string()), fc.option(fc.string()), fc.string(), async (ts, sig, body) => {
        const r = await verifyPurge(secret, ts, sig, body, now);
        expect(r.ok).toBe(false);
      }),
      { seed, numRuns: runs },
    );
    await fc.assert(
      fc.asyncProperty(fc.string(), fc.string({ minLength: 1 }), async (body, extra) => {
        const ts = String(now);
        const sig = createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex');
        expect((await verifyPurge(secret, ts, `v1=${sig}`, body, now)).ok).toBe(true);
        expect((await verifyPurge(secret, ts, `v1=${sig}`, body + extra, now)).ok).toBe(false);
        expect((await verifyPurge(secret, String(now + 1), `v1=${sig}`, body, now)).ok).toBe(false);
      }),
      { seed, numRuns: runs / 4 },
    );
  });

  it('parseBodyTarget(s) answer a target or null for any JSON, never throw', () => {
    fc.assert(
      fc.property(jsonish, (v) => {
        const t = parseBodyTarget(v);
        if (t !== null) {
          expect(typeof t.context).toBe('string');
          for (const p of Object.values(t.params)) expect(typeof p).toBe('string');
        }
        const ts = parseBodyTargets(v);
        if (ts !== null) expect(Array.isArray(ts)).toBe(true);
      }),
      { seed, numRuns: runs },
    );
  });

  it('matchRoute answers params or null for any path', () => {
    const patterns = ['/tasks/{task_id}/', '/docs/{path...}', '/{$}', '/p/{a}/{b}/x/'].map(parseRoute);
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.webPath()), (path) => {
        for (const p of patterns) {
          const m = matchRoute(p, path.startsWith('/') ? path : '/' + path);
          if (m !== null) for (const v of Object.values(m)) expect(typeof v).toBe('string');
        }
      }),
      { seed, numRuns: runs },
    );
  });
});
