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
  const { data } = useContextFunction<User, 'user_profile'>('user', { user_id: id }, 'user_profile');
  return <li>{data?.name ?? '…'}</li>;
}

/** Users reads one user instance per id of params.ids: the worker's collect reports each, embedded or not. */
export default function Users({ initialData, params }: { initialData: Record<string, unknown>; params: { ids: string } }) {
  const [client] = useState(() => new MizanClient({ initialData, transport: noFetch }));
  return (
    <MizanProvider client={client}>
      <ul>
        {params.ids.split(',').map((id) => (
          <Profile key={id} id={Number(id)} />
        ))}
      </ul>
    </MizanProvider>
  );
}
