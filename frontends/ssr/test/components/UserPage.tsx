import { MizanClient, type Transport } from '@mizan/base';
import { MizanProvider, useContextFunction } from '@mizan/react';
import { useState } from 'react';

interface User {
  user_profile: { name: string };
}

// A transport that must not be used: a server render reads initialData only.
const noFetch: Transport = {
  fetchContext: () => Promise.reject(new Error('fetched during a server render')),
  call: () => Promise.reject(new Error('called during a server render')),
};

function Profile({ id }: { id: number }) {
  const { data, status } = useContextFunction<User, 'user_profile'>('user', { user_id: id }, 'user_profile');
  return <p data-status={status}>{data?.name ?? 'no data'}</p>;
}

/** UserPage is a page component as the Go package ssr renders it: props {params, initialData}. */
export default function UserPage({ initialData, params }: { initialData: Record<string, unknown>; params: { user_id: string } }) {
  const [client] = useState(() => new MizanClient({ initialData, transport: noFetch }));
  return (
    <MizanProvider client={client}>
      <Profile id={Number(params.user_id)} />
    </MizanProvider>
  );
}
