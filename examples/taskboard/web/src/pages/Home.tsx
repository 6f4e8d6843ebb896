// The page /, rendered on the server (pages.go) from the bundles in
// initialData, and hydrated in the browser by main.tsx.
import { MizanClient } from '@mizan/base';
import { useState } from 'react';
import { Root } from '../root';

export default function HomePage({ initialData }: { initialData: Record<string, unknown> }) {
  const [client] = useState(() => new MizanClient({ initialData }));
  return <Root client={client} path="/" />;
}
