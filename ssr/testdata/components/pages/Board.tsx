// Board is a page of the collection tests (collect_test.go): it reads the
// board context (a list of project ids and a note), one project instance
// per id, and, for each project that names an owner, that owner's user
// instance, three levels deep, as a real page's widgets do; while a
// project has no data, a placeholder that reads the hint context (so that
// a render reads what the next one does not); and the contexts named in
// params.extra (comma-separated), such as a guarded one or the caller's.
import { MizanClient, type Transport } from '@mizan/base';
import { MizanProvider, useContextQuery } from '@mizan/react';
import { useState } from 'react';

interface BoardBundle {
  board_projects: number[];
}
interface ProjectBundle {
  project_info: { id: number; name: string; owner?: number };
}
interface UserBundle {
  user_info: { name: string };
}

// A transport that must not be used: a server render reads initialData only.
const noFetch: Transport = {
  fetchContext: () => Promise.reject(new Error('fetched during a server render')),
  call: () => Promise.reject(new Error('called during a server render')),
};

function Owner({ id }: { id: number }) {
  const user = useContextQuery<UserBundle>('user', { user_id: id });
  return <em>{user.data ? user.data.user_info.name : '…'}</em>;
}

function Placeholder() {
  const hint = useContextQuery<{ hint_text: string }>('hint');
  return <li>{hint.data?.hint_text ?? '…'}</li>;
}

function Project({ id }: { id: number }) {
  const p = useContextQuery<ProjectBundle>('project', { project_id: id });
  if (!p.data) return <Placeholder />;
  const info = p.data.project_info;
  return (
    <li>
      {info.name}
      {info.owner !== undefined && <Owner id={info.owner} />}
    </li>
  );
}

function Extra({ name }: { name: string }) {
  const q = useContextQuery<Record<string, unknown>>(name);
  return <p className={name}>{q.data ? JSON.stringify(q.data) : '…'}</p>;
}

function Page({ extra }: { extra: string[] }) {
  const board = useContextQuery<BoardBundle>('board');
  return (
    <main>
      <ul>{board.data?.board_projects.map((id) => <Project key={id} id={id} />)}</ul>
      {extra.map((name) => (
        <Extra key={name} name={name} />
      ))}
    </main>
  );
}

export default function BoardPage({ initialData, params }: { initialData: Record<string, unknown>; params?: { extra?: string } }) {
  const [client] = useState(() => new MizanClient({ initialData, transport: noFetch }));
  return (
    <MizanProvider client={client}>
      <Page extra={params?.extra ? params.extra.split(',') : []} />
    </MizanProvider>
  );
}
