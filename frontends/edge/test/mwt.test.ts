import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifyMWT } from '../src/mwt.js';
import { makeJWS, mwt } from './helpers.js';

const secret = 'mwt-secret-32-bytes-long-0000000';
const now = Math.floor(Date.now() / 1000);
const claims = { sub: '5', staff: true, super: false, type: 'mwt', iat: now, exp: now + 300 };

describe('verifyMWT', () => {
  it('accepts a valid MWT and returns its claims', async () => {
    const c = await verifyMWT(makeJWS({ alg: 'HS256', typ: 'MWT' }, claims, secret), secret);
    expect(c).toEqual({ sub: '5', exp: now + 300, type: 'mwt', staff: true, super: false, iat: now });
    expect((await verifyMWT(mwt('7', secret), secret))?.sub).toBe('7');
  });

  it('refuses alg none (unsigned or signed)', async () => {
    const h = Buffer.from(JSON.stringify({ alg: 'none', typ: 'MWT' })).toString('base64url');
    const p = Buffer.from(JSON.stringify(claims)).toString('base64url');
    expect(await verifyMWT(`${h}.${p}.`, secret)).toBeNull();
    expect(await verifyMWT(makeJWS({ alg: 'none', typ: 'MWT' }, claims, secret), secret)).toBeNull();
  });

  it('refuses HS512, even correctly signed', async () => {
    const h = Buffer.from(JSON.stringify({ alg: 'HS512', typ: 'MWT' })).toString('base64url');
    const p = Buffer.from(JSON.stringify(claims)).toString('base64url');
    const s = createHmac('sha512', secret).update(`${h}.${p}`).digest('base64url');
    expect(await verifyMWT(`${h}.${p}.${s}`, secret)).toBeNull();
    expect(await verifyMWT(makeJWS({ alg: 'HS512', typ: 'MWT' }, claims, secret), secret)).toBeNull();
  });

  it('refuses typ JWT, a missing typ and extra header members', async () => {
    expect(await verifyMWT(makeJWS({ alg: 'HS256', typ: 'JWT' }, claims, secret), secret)).toBeNull();
    expect(await verifyMWT(makeJWS({ alg: 'HS256' }, claims, secret), secret)).toBeNull();
    expect(await verifyMWT(makeJWS({ alg: 'HS256', typ: 'MWT', crit: ['x'] }, claims, secret), secret)).toBeNull();
  });

  it('refuses an expired token and one expiring now', async () => {
    expect(await verifyMWT(makeJWS({ alg: 'HS256', typ: 'MWT' }, { ...claims, exp: now - 1 }, secret), secret)).toBeNull();
    expect(await verifyMWT(makeJWS({ alg: 'HS256', typ: 'MWT' }, { ...claims, exp: now }, secret), secret, now)).toBeNull();
    expect(await verifyMWT(makeJWS({ alg: 'HS256', typ: 'MWT' }, { ...claims, exp: String(now + 300) }, secret), secret)).toBeNull();
  });

  it('refuses sub "anonymous", the identity of no user', async () => {
    expect(await verifyMWT(mwt('anonymous', secret), secret)).toBeNull();
  });

  it('refuses a token signed with another key', async () => {
    expect(await verifyMWT(mwt('5', 'another-secret-32-bytes-long-000'), secret)).toBeNull();
  });

  it('refuses bad base64 and wrong shapes', async () => {
    const t = mwt('5', secret);
    const [h, p, s] = t.split('.') as [string, string, string];
    expect(await verifyMWT(`${h}.${p}.${s}=`, secret)).toBeNull();
    expect(await verifyMWT(`${h}.${p}+.${s}`, secret)).toBeNull();
    expect(await verifyMWT(`${h}!.${p}.${s}`, secret)).toBeNull();
    expect(await verifyMWT(`${h}.${p}`, secret)).toBeNull();
    expect(await verifyMWT(`${t}.x`, secret)).toBeNull();
    expect(await verifyMWT(`${h}.${p}.${s.slice(1)}`, secret)).toBeNull();
    expect(await verifyMWT('', secret)).toBeNull();
    // A tampered payload fails the signature.
    const p2 = Buffer.from(JSON.stringify({ ...claims, sub: '6' })).toString('base64url');
    expect(await verifyMWT(`${h}.${p2}.${s}`, secret)).toBeNull();
  });

  it('refuses a missing or wrong type claim, and a missing or empty sub', async () => {
    const { type: _t, ...noType } = claims;
    expect(await verifyMWT(makeJWS({ alg: 'HS256', typ: 'MWT' }, noType, secret), secret)).toBeNull();
    expect(await verifyMWT(makeJWS({ alg: 'HS256', typ: 'MWT' }, { ...claims, type: 'access' }, secret), secret)).toBeNull();
    expect(await verifyMWT(makeJWS({ alg: 'HS256', typ: 'MWT' }, { ...claims, sub: '' }, secret), secret)).toBeNull();
    expect(await verifyMWT(makeJWS({ alg: 'HS256', typ: 'MWT' }, { ...claims, sub: 5 }, secret), secret)).toBeNull();
  });

  it('refuses everything without a secret', async () => {
    expect(await verifyMWT(mwt('5', ''), '')).toBeNull();
  });
});
