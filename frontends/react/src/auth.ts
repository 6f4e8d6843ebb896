// useAuth: React over the kernel's sign-in client (createAuth of
// @mizan/base, docs/client.md "Signing in").
import type { Auth, AuthState } from '@mizan/base/auth';
import { createContext, createElement, useContext, useMemo, useSyncExternalStore, type JSX, type ReactNode } from 'react';

const AuthContext = /* @__PURE__ */ createContext<Auth | undefined>(undefined);

/** AuthProvider makes auth the one useAuth() returns in its subtree. */
export function AuthProvider(props: { auth: Auth; children?: ReactNode }): JSX.Element {
  return createElement(AuthContext, { value: props.auth }, props.children);
}

/** What useAuth returns: the state of the sign-in client, and its actions. */
export interface AuthView extends AuthState {
  /** Auth.signIn: rejects with a MizanError (401 for wrong credentials). */
  signIn: Auth['signIn'];
  /** Auth.signOut. */
  signOut: Auth['signOut'];
  /** The sign-in client itself. */
  auth: Auth;
}

// A server render is signed out (a page request carries no token), and so
// is the hydration that follows it; then the client's state applies.
const serverState: AuthState = { status: 'signed-out', user: null };
const serverSnapshot = (): AuthState => serverState;

/**
 * useAuth returns the state of auth (default: the nearest AuthProvider's)
 * and re-renders when it changes: signing in or out, a restored or a lost
 * session. A token refresh for the same user does not re-render.
 */
export function useAuth(auth?: Auth): AuthView {
  const provided = useContext(AuthContext);
  const a = auth ?? provided;
  if (!a) throw new Error('useAuth: no sign-in client: pass one (createAuth) or render an AuthProvider');
  const state = useSyncExternalStore(a.onAuthChange, a.getState, serverSnapshot);
  return useMemo(() => ({ ...state, signIn: a.signIn, signOut: a.signOut, auth: a }), [state, a]);
}
