// Passkeys (docs/auth.md, "Passkeys"; the server side is passkeys.go and
// package auth/passkey). A passkey is a second way into the same account:
//
//   - signed in (with the password), the header's "Add passkey" posts
//     auth/passkey/register/begin/ with the access token, hands the
//     creation options to navigator.credentials.create (the browser asks
//     the authenticator: Touch ID, Windows Hello, a phone, a security
//     key), and posts the new credential to register/finish/, which stores
//     it for the signed-in user;
//   - on the sign-in page, "Sign in with a passkey" posts login/begin/
//     (no username: the authenticator offers the passkeys it holds for
//     this site), hands the request options to navigator.credentials.get,
//     and posts the assertion to login/finish/, which answers the same
//     pair of JWTs as auth/token/; auth.signInWith keeps it, exactly as a
//     password sign-in does.
//
// Each begin answers an opaque "ceremony" token that its finish sends
// back. The options and credentials travel as JSON with their binary
// members in base64url; the conversions are here, because
// PublicKeyCredential.parseCreationOptionsFromJSON and toJSON are not in
// every browser. Nothing runs during a render (the pages are rendered by
// Bun on the server too): the browser APIs are touched on click only.
import { MizanError } from '@mizan/base';
import { useState } from 'react';
import { navigate } from './router';
import { auth } from './session';

const root = '/api/mizan/auth/passkey/';

/** base64url is the text form of binary members: base64 with - and _, without padding. */
type Base64URL = string;

interface DescriptorJSON {
  type: 'public-key';
  id: Base64URL;
  transports?: string[];
}

/** CreationOptionsJSON is PublicKeyCredentialCreationOptions as register/begin/ answers them. */
interface CreationOptionsJSON {
  challenge: Base64URL;
  rp: { id?: string; name: string };
  user: { id: Base64URL; name: string; displayName: string };
  pubKeyCredParams: { type: 'public-key'; alg: number }[];
  timeout?: number;
  excludeCredentials?: DescriptorJSON[];
  authenticatorSelection?: AuthenticatorSelectionCriteria;
  attestation?: AttestationConveyancePreference;
}

/** RequestOptionsJSON is PublicKeyCredentialRequestOptions as login/begin/ answers them. */
interface RequestOptionsJSON {
  challenge: Base64URL;
  rpId?: string;
  timeout?: number;
  allowCredentials?: DescriptorJSON[];
  userVerification?: UserVerificationRequirement;
}

/** Begin is the answer of a begin endpoint. */
interface Begin<T> {
  ceremony: string;
  publicKey: T;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** fromB64url decodes base64url (padded or not) into bytes. */
export function fromB64url(s: string): ArrayBuffer {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  const bin = atob(b64 + '==='.slice((b64.length + 3) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out.buffer;
}

/** toB64url encodes bytes as base64url without padding. */
export function toB64url(buf: ArrayBuffer | ArrayBufferView): string {
  const bytes = buf instanceof ArrayBuffer ? new Uint8Array(buf) : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function descriptor(d: DescriptorJSON): PublicKeyCredentialDescriptor {
  return { type: d.type, id: fromB64url(d.id), ...(d.transports ? { transports: d.transports as AuthenticatorTransport[] } : {}) };
}

/** creationOptions turns register/begin/'s options into navigator.credentials.create's. */
function creationOptions(o: CreationOptionsJSON): PublicKeyCredentialCreationOptions {
  return {
    challenge: fromB64url(o.challenge),
    rp: o.rp,
    user: { id: fromB64url(o.user.id), name: o.user.name, displayName: o.user.displayName },
    pubKeyCredParams: o.pubKeyCredParams,
    ...(o.timeout ? { timeout: o.timeout } : {}),
    excludeCredentials: (o.excludeCredentials ?? []).map(descriptor),
    ...(o.authenticatorSelection ? { authenticatorSelection: o.authenticatorSelection } : {}),
    ...(o.attestation ? { attestation: o.attestation } : {}),
  };
}

/** requestOptions turns login/begin/'s options into navigator.credentials.get's. */
function requestOptions(o: RequestOptionsJSON): PublicKeyCredentialRequestOptions {
  return {
    challenge: fromB64url(o.challenge),
    ...(o.rpId ? { rpId: o.rpId } : {}),
    ...(o.timeout ? { timeout: o.timeout } : {}),
    allowCredentials: (o.allowCredentials ?? []).map(descriptor),
    ...(o.userVerification ? { userVerification: o.userVerification } : {}),
  };
}

/** attestationJSON is a new credential in the JSON form register/finish/ reads. */
function attestationJSON(c: PublicKeyCredential): Record<string, unknown> {
  const r = c.response as AuthenticatorAttestationResponse;
  return {
    id: c.id,
    rawId: toB64url(c.rawId),
    type: c.type,
    authenticatorAttachment: c.authenticatorAttachment ?? undefined,
    response: {
      clientDataJSON: toB64url(r.clientDataJSON),
      attestationObject: toB64url(r.attestationObject),
      transports: typeof r.getTransports === 'function' ? r.getTransports() : [],
    },
    clientExtensionResults: c.getClientExtensionResults(),
  };
}

/** assertionJSON is an assertion in the JSON form login/finish/ reads. */
function assertionJSON(c: PublicKeyCredential): Record<string, unknown> {
  const r = c.response as AuthenticatorAssertionResponse;
  return {
    id: c.id,
    rawId: toB64url(c.rawId),
    type: c.type,
    authenticatorAttachment: c.authenticatorAttachment ?? undefined,
    response: {
      clientDataJSON: toB64url(r.clientDataJSON),
      authenticatorData: toB64url(r.authenticatorData),
      signature: toB64url(r.signature),
      ...(r.userHandle ? { userHandle: toB64url(r.userHandle) } : {}),
    },
    clientExtensionResults: c.getClientExtensionResults(),
  };
}

/** post sends body to a passkey endpoint and resolves its JSON answer, or rejects with the MizanError of its error envelope. */
async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(root + path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...headers },
      body: JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch {
    throw new MizanError('network', 'The server could not be reached.', 0);
  }
  const data: unknown = await res.json().catch(() => undefined);
  if (!res.ok) {
    const e = isObject(data) && isObject(data.error) ? data.error : {};
    const fields = isObject(e.fields) ? (e.fields as Record<string, string>) : undefined;
    throw new MizanError(
      typeof e.code === 'string' ? e.code : 'internal',
      typeof e.message === 'string' ? e.message : `HTTP ${res.status}`,
      res.status,
      fields,
    );
  }
  return data;
}

/** authedPost is post with the access token, refreshed once if it has expired. */
async function authedPost(path: string, body: unknown): Promise<unknown> {
  await auth.restore();
  try {
    return await post(path, body, auth.headers());
  } catch (e) {
    if (e instanceof MizanError && e.status === 401 && auth.accessToken() !== null && (await auth.refresh())) {
      return post(path, body, auth.headers());
    }
    throw e;
  }
}

/** begin checks the shape of a begin answer. */
function begin<T>(data: unknown): Begin<T> {
  if (!isObject(data) || typeof data.ceremony !== 'string' || !isObject(data.publicKey) || typeof data.publicKey.challenge !== 'string') {
    throw new MizanError('bad_response', 'The server answered no passkey options.', 0);
  }
  return { ceremony: data.ceremony, publicKey: data.publicKey as T };
}

/** webAuthn throws unless the browser has passkeys (WebAuthn needs a secure context: https, or http://localhost). */
function webAuthn(): CredentialsContainer {
  if (typeof window === 'undefined' || typeof window.PublicKeyCredential === 'undefined' || !navigator.credentials) {
    throw new MizanError('unsupported', 'This browser cannot use passkeys here (they need https, or http://localhost).', 0);
  }
  return navigator.credentials;
}

/** ceremonyError turns what the browser's prompt threw into a MizanError. */
function ceremonyError(e: unknown): MizanError {
  if (e instanceof MizanError) return e;
  if (e instanceof DOMException) {
    if (e.name === 'NotAllowedError' || e.name === 'AbortError') return new MizanError('cancelled', 'The passkey prompt was cancelled or timed out.', 0);
    if (e.name === 'InvalidStateError') return new MizanError('conflict', 'This authenticator already holds a passkey for your account.', 0);
    return new MizanError('passkey', `The passkey could not be used (${e.name}).`, 0);
  }
  return new MizanError('internal', e instanceof Error ? e.message : String(e), 0);
}

/** addPasskey registers a passkey for the signed-in user. */
export async function addPasskey(): Promise<void> {
  const creds = webAuthn();
  const b = begin<CreationOptionsJSON>(await authedPost('register/begin/', {}));
  const cred = await creds.create({ publicKey: creationOptions(b.publicKey) }).catch((e: unknown) => {
    throw ceremonyError(e);
  });
  if (!(cred instanceof PublicKeyCredential)) throw new MizanError('passkey', 'The browser made no passkey.', 0);
  await authedPost('register/finish/', { ceremony: b.ceremony, credential: attestationJSON(cred) });
}

/** signInWithPasskey signs the tab in with a passkey the authenticator offers. */
export async function signInWithPasskey(): Promise<void> {
  const creds = webAuthn();
  const b = begin<RequestOptionsJSON>(await post('login/begin/', {}));
  const cred = await creds.get({ publicKey: requestOptions(b.publicKey) }).catch((e: unknown) => {
    throw ceremonyError(e);
  });
  if (!(cred instanceof PublicKeyCredential)) throw new MizanError('passkey', 'The browser gave no passkey.', 0);
  const pair = await post('login/finish/', { ceremony: b.ceremony, credential: assertionJSON(cred) });
  if (!isObject(pair) || typeof pair.access !== 'string' || typeof pair.refresh !== 'string') {
    throw new MizanError('bad_response', 'The server answered no token pair.', 0);
  }
  await auth.signInWith({ access: pair.access, refresh: pair.refresh });
}

/** PasskeySignIn shows "Sign in with a passkey" on the sign-in page. */
export function PasskeySignIn() {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<MizanError | undefined>();
  const go = () => {
    setPending(true);
    setError(undefined);
    signInWithPasskey()
      .then(() => navigate('/'))
      .catch((e: unknown) => setError(ceremonyError(e)))
      .finally(() => setPending(false));
  };
  return (
    <div className="passkey-signin">
      <button type="button" className="button ghost" disabled={pending} onClick={go} data-testid="passkey-signin">
        Sign in with a passkey
      </button>
      {error && (
        <p className="error" role="alert" data-testid="passkey-error">
          {error.message}
        </p>
      )}
    </div>
  );
}

/** PasskeyRegister lets the signed-in user add a passkey to their account (shown in the header). */
export function PasskeyRegister() {
  const [state, setState] = useState<'idle' | 'pending' | 'added'>('idle');
  const [error, setError] = useState<MizanError | undefined>();
  const add = () => {
    setState('pending');
    setError(undefined);
    addPasskey()
      .then(() => setState('added'))
      .catch((e: unknown) => {
        setError(ceremonyError(e));
        setState('idle');
      });
  };
  return (
    <span className="passkey-register">
      <button type="button" className="button ghost small" disabled={state === 'pending'} onClick={add} data-testid="passkey-add">
        Add passkey
      </button>
      {state === 'added' && (
        <span className="muted small" role="status" data-testid="passkey-added">
          Passkey added
        </span>
      )}
      {error && (
        <span className="error small" role="alert" data-testid="passkey-error">
          {error.message}
        </span>
      )}
    </span>
  );
}
