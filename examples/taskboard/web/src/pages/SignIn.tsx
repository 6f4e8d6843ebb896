// The page /signin, rendered on the server (pages.go) from the bundles in
// initialData, and hydrated in the browser by main.tsx.
import { MizanClient } from '@mizan/base';
import { useState } from 'react';
import type { ServerForm } from '../forms';
import { Root } from '../root';

// Also the page of the sign-in form's route, /signin/password (forms.go),
// when a post without JavaScript is refused: form is its state.
export default function SignInPage({ initialData, form }: { initialData: Record<string, unknown>; form?: ServerForm }) {
  const [client] = useState(() => new MizanClient({ initialData }));
  return <Root client={client} path={form ? '/signin/password' : '/signin'} form={form} />;
}
