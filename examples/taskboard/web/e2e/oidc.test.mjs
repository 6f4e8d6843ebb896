// Browser test of sign-in with an identity provider: the taskboard signs
// in through examples/devidp, a real OpenID Provider (zitadel/oidc's op
// package) on loopback, in headless Chromium:
//
//   cd examples/taskboard/web && node --test e2e/oidc.test.mjs   (after npm run build)
//
// It builds and starts devidp, starts the taskboard with TASKBOARD_OIDC_*
// pointing at it, clicks the provider's button on the sign-in page, logs in
// on the provider's form as ada, and checks that the tab comes back signed
// in as Ada Lovelace, that the refresh token of the URL fragment is gone
// from the URL and, having been spent, is refused when replayed; then that
// a provider user without a taskboard account is refused.
//
// Environment: as e2e/taskboard.test.mjs (CHROMIUM_PATH, TASKBOARD_BIN).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { checkSetup, launchBrowser, root, serverBinary, skip, startProcess, startServer, stop } from './harness.mjs';

const provider = 'devidp';
const clientID = 'taskboard-e2e';
const clientSecret = 'e2e-secret';
let tmp, idp, idpURL, server, base, browser;

before(async () => {
  if (skip) return;
  tmp = checkSetup();
  const bin = serverBinary(tmp);
  const idpBin = join(tmp, 'devidp');
  execFileSync('go', ['-C', join(root, 'examples'), 'build', '-o', idpBin, './devidp'], { stdio: 'inherit' });
  ({ proc: idp, url: idpURL } = await startProcess(idpBin, [
    '-addr', '127.0.0.1:0',
    '-client-id', clientID,
    '-client-secret', clientSecret,
    // The taskboard's port is chosen when it starts: a glob.
    '-redirect', `http://127.0.0.1:*/api/mizan/auth/oidc/${provider}/callback/`,
  ]));
  ({ proc: server, url: base } = await startServer(bin, tmp, 'oidc.db', [], {
    TASKBOARD_OIDC_ISSUER: idpURL,
    TASKBOARD_OIDC_CLIENT_ID: clientID,
    TASKBOARD_OIDC_CLIENT_SECRET: clientSecret,
    TASKBOARD_OIDC_NAME: provider,
    TASKBOARD_OIDC_DISPLAY_NAME: 'Dev IdP',
  }));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stop(server, idp);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** signInThroughIdP opens the sign-in page in a new page, clicks the provider's button and logs in as username; it resolves with the page, its errors and the callback's answer ({ status, location }). */
async function signInThroughIdP(username) {
  const page = await browser.newPage();
  page.setDefaultTimeout(15_000);
  const errors = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  let callback;
  page.on('response', (res) => {
    if (new URL(res.url()).pathname === `/api/mizan/auth/oidc/${provider}/callback/`) {
      callback = { status: res.status(), location: res.headers()['location'] };
    }
  });
  await page.goto(`${base}/signin`);
  const button = page.getByTestId(`oidc-${provider}`);
  await button.waitFor();
  assert.equal((await button.textContent())?.trim(), 'Sign in with Dev IdP');
  await button.click();
  // The provider's login form (devidp: zitadel's example login page).
  await page.waitForURL((u) => u.origin === idpURL && u.pathname.startsWith('/login/'));
  await page.fill('#username', username);
  await page.fill('#password', username);
  await Promise.all([page.waitForURL((u) => u.origin === base), page.click('button[type=submit]')]);
  return { page, errors, callback: () => callback };
}

test('sign in through the identity provider', { skip }, async () => {
  const { page, errors, callback } = await signInThroughIdP('ada');
  await page.getByTestId('whoami').getByText('Ada Lovelace').waitFor();
  // The callback handed the refresh token over in the fragment...
  assert.equal(callback()?.status, 303);
  const loc = callback().location;
  const m = /^\/#mizan_refresh=([^&]+)&mizan_handoff=([A-Za-z0-9_-]{16,})$/.exec(loc ?? '');
  assert.ok(m, `the callback redirected to ${loc}`);
  const spent = decodeURIComponent(m[1]);
  // ...which the page took out of the URL at once...
  const url = new URL(page.url());
  assert.equal(url.hash, '');
  assert.equal(url.pathname, '/');
  assert.ok(!page.url().includes('mizan_refresh'));
  // ...and spent: the copy in the history is refused (401). This reuse
  // revokes the session too (refresh reuse detection), so it comes last.
  const replay = await page.evaluate(async (refresh) => {
    const res = await fetch('/api/mizan/auth/refresh/', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ refresh }) });
    return { status: res.status, body: await res.json() };
  }, spent);
  assert.equal(replay.status, 401, JSON.stringify(replay.body));
  assert.equal(replay.body.error.code, 'unauthorized');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a provider user without a taskboard account is refused', { skip }, async () => {
  const { page, callback } = await signInThroughIdP('stranger');
  // The callback answers the error envelope, no redirect.
  assert.equal(callback()?.status, 401);
  assert.equal(callback().location, undefined);
  const body = JSON.parse(await page.locator('body').innerText());
  assert.equal(body.error.code, 'unauthorized');
  assert.match(body.error.message, /no taskboard account/);
  await page.close();
});

test('a link with a fragment this tab did not ask for signs nobody in (login CSRF)', { skip }, async () => {
  // An attacker's own refresh token (here grace's, from auth/token/), in a
  // link to the board: without the handoff value this tab keeps when it
  // starts a sign-in, the page ignores it and leaves it unspent.
  const res = await fetch(`${base}/api/mizan/auth/token/`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'grace', password: 'grace' }),
  });
  assert.equal(res.status, 200);
  const { refresh } = await res.json();
  for (const frag of [`#mizan_refresh=${encodeURIComponent(refresh)}`, `#mizan_refresh=${encodeURIComponent(refresh)}&mizan_handoff=AAAAAAAAAAAAAAAAAAAAAAAA`]) {
    // A page of its own each time: a change of fragment alone loads nothing.
    const page = await browser.newPage();
    await page.goto(`${base}/${frag}`);
    await page.getByTestId('whoami').getByText('Sign in').waitFor();
    assert.ok(!page.url().includes('mizan_refresh'), 'the fragment stays in the URL');
    await page.close();
  }
  // Not spent: the page never presented it.
  const again = await fetch(`${base}/api/mizan/auth/refresh/`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ refresh }),
  });
  assert.equal(again.status, 200, 'the ignored token was spent');
});
