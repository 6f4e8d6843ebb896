// Browser test of the taskboard's passkeys (passkeys.go, package
// auth/passkey, src/signin-passkey.tsx) in headless Chromium with a virtual
// authenticator (the DevTools protocol's WebAuthn domain: a CTAP2 platform
// authenticator with resident keys and user verification):
//
//   cd examples/taskboard/web && TASKBOARD_BIN=../.build/taskboard node --test e2e/passkey.test.mjs
//   (after bash examples/taskboard/run.sh --test, which builds the server and the UI)
//
// It signs in as ada with her password, adds a passkey from the header,
// checks that the authenticator holds it (a discoverable credential for the
// RP ID localhost, whose user handle does not name ada), signs out, signs
// in with the passkey, twice, and checks each time that the header names
// the same user and that the API is called with the new access token. The
// taskboard is opened as http://localhost:PORT/: WebAuthn needs a secure
// context, which http://localhost is, and an RP ID is a domain, never an IP
// address. Environment: CHROMIUM_PATH, TASKBOARD_BIN (see harness.mjs).
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { checkSetup, launchBrowser, serverBinary, skip, startServer, stop } from './harness.mjs';

const prefix = '/api/mizan/';
let tmp, server, browser, page, cdp, authenticatorId, base;
const pageErrors = [];

before(async () => {
  if (skip) return;
  tmp = checkSetup();
  const bin = serverBinary(tmp);
  let url;
  ({ proc: server, url } = await startServer(bin, tmp));
  // The server listens on 127.0.0.1: open it by the name localhost.
  base = url.replace('//127.0.0.1:', '//localhost:');
  assert.match(base, /^http:\/\/localhost:\d+$/);

  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (err) => pageErrors.push(String(err)));
  page.on('console', (m) => {
    // The sign-in page asks auth/oidc/ for its identity providers, which
    // answers 404 when none is configured (oidc.go): not this test's.
    if (m.type() === 'error' && !(m.text().includes('404') && m.location().url.includes(prefix + 'auth/oidc/'))) {
      pageErrors.push(`${m.text()} (${m.location().url})`);
    }
  });
  cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  ({ authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
  }));
});

after(async () => {
  await browser?.close();
  await stop(server);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const whoami = () => page.getByTestId('whoami');

/** credentials returns what the virtual authenticator holds. */
async function credentials() {
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  return credentials;
}

/** signOut signs out from the header and waits for the anonymous header. */
async function signOut() {
  await whoami().getByRole('button', { name: 'Sign out' }).click();
  await whoami().getByRole('link', { name: 'Sign in' }).waitFor();
}

/** passkeySignIn signs in with the passkey from the sign-in page and returns the pair login/finish/ answered. */
async function passkeySignIn() {
  await whoami().getByRole('link', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  const finished = page.waitForResponse((r) => new URL(r.url()).pathname === prefix + 'auth/passkey/login/finish/');
  await page.getByTestId('passkey-signin').click();
  const res = await finished;
  assert.equal(res.status(), 200, await res.text());
  const pair = await res.json();
  assert.equal(typeof pair.access, 'string');
  assert.equal(typeof pair.refresh, 'string');
  await whoami().getByText('Ada Lovelace').waitFor();
  await whoami().getByText('staff').waitFor(); // her rights came along
  assert.equal(new URL(page.url()).pathname, '/');
  return pair;
}

test('add a passkey, then sign in with it', { skip }, async () => {
  await page.goto(base + '/signin');
  await page.getByLabel('Username').fill('ada');
  await page.getByLabel('Password').fill('ada');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await whoami().getByText('Ada Lovelace').waitFor();
  assert.deepEqual(await credentials(), [], 'the authenticator starts empty');

  const registered = page.waitForResponse((r) => new URL(r.url()).pathname === prefix + 'auth/passkey/register/finish/');
  await whoami().getByTestId('passkey-add').click();
  const reg = await registered;
  assert.equal(reg.status(), 200, await reg.text());
  assert.match(reg.request().headers()['authorization'] ?? '', /^Bearer /, 'register/finish/ carries the access token');
  await whoami().getByTestId('passkey-added').getByText('Passkey added').waitFor();

  const creds = await credentials();
  assert.equal(creds.length, 1);
  const [cred] = creds;
  assert.equal(cred.rpId, 'localhost');
  assert.equal(cred.isResidentCredential, true, 'a passkey is a discoverable credential');
  assert.equal((await reg.json()).id, cred.credentialId.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''));
  const handle = Buffer.from(cred.userHandle, 'base64');
  assert.ok(handle.length >= 16, 'an opaque user handle');
  assert.ok(!handle.toString('latin1').includes('ada') && handle.toString('latin1') !== '1', 'the user handle names the user');

  await signOut();
  const first = await passkeySignIn();
  // The UI adopted the pair: its next API request carries the new access token.
  const call = page.waitForRequest((r) => new URL(r.url()).pathname.startsWith(prefix + 'ctx/') && (r.headers()['authorization'] ?? '') !== '');
  await page.getByRole('link', { name: 'Team' }).click();
  assert.equal((await call).headers()['authorization'], 'Bearer ' + first.access);
  const afterFirst = (await credentials())[0].signCount;
  assert.ok(afterFirst >= 1, `the sign counter went up (${afterFirst})`);

  // A second sign-in works too, with a new session and a higher counter.
  await signOut();
  const second = await passkeySignIn();
  assert.notEqual(second.access, first.access);
  assert.ok((await credentials())[0].signCount > afterFirst, 'the sign counter went up again');

  // The first session was ended by its sign-out: its access token is refused.
  const refused = await fetch(base + prefix + 'ctx/directory/', { headers: { Authorization: 'Bearer ' + first.access } });
  assert.equal(refused.status, 401);
  assert.deepEqual(pageErrors, []);
});
