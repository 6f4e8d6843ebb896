// The taskboard's layout: a header with the signed-in user, a sidebar with
// the projects and the team, the page of the current route, and the wire
// log that shows what each mutation invalidated and what was refetched.
import { useState, type FormEvent } from 'react';
import { useCreateProject, useProjects } from './gen/hooks';
import { HomePage } from './HomePage';
import { ProjectPage } from './ProjectPage';
import { SignInPage, TeamPage } from './people';
import { Link, match, navigate, usePath } from './router';
import { useLiveState } from './live';
import { dismiss, syncNow, useOffline, useRefusals } from './offline';
import { signOut } from './session';
import { Avatar, ErrorNote, ignore, ProjectProgress, useMe } from './ui';
import { useWireLog } from './wire';
import { PasskeyRegister } from './signin-passkey';

export function App() {
  const route = match(usePath());
  return (
    <div className="layout">
      <Header />
      <Sidebar />
      <main className="main">
        {route.page === 'home' && <HomePage />}
        {route.page === 'project' && <ProjectPage projectId={route.projectId} taskId={route.taskId} editing={route.form === 'edit'} />}
        {route.page === 'team' && <TeamPage />}
        {route.page === 'signin' && <SignInPage />}
        {route.page === 'not-found' && (
          <section className="card">
            <h1>Not found</h1>
            <p>
              There is nothing at this address. <Link to="/">Back to the projects</Link>.
            </p>
          </section>
        )}
      </main>
      <WirePanel />
    </div>
  );
}

function Header() {
  const me = useMe();
  const [leaving, setLeaving] = useState(false);
  const leave = () => {
    setLeaving(true);
    signOut()
      .catch(ignore)
      .finally(() => setLeaving(false));
  };
  return (
    <header className="header">
      <div className="header-left">
        <Link to="/" className="brand">
          <span className="brand-mark" aria-hidden="true">▦</span> Taskboard
        </Link>
        <LiveBadge />
        <OfflineBadge />
      </div>
      <div className="whoami" data-testid="whoami">
        {me === undefined ? null : me === null ? (
          <Link to="/signin" className="button">
            Sign in
          </Link>
        ) : (
          <>
            <Avatar person={me} size="sm" />
            <span className="whoami-name">{me.name}</span>
            {me.staff && <span className="badge">staff</span>}
            <PasskeyRegister />
            <button className="button ghost" disabled={leaving} onClick={leave}>
              Sign out
            </button>
          </>
        )}
      </div>
      <Refusals />
    </header>
  );
}

/** OfflineBadge says whether the browser is online and how many changes made offline wait to be sent; "sync now" replays them at once. */
function OfflineBadge() {
  const { online, pending } = useOffline();
  return (
    <span
      className={online ? 'offline-badge' : 'offline-badge off'}
      data-testid="offline-state"
      data-online={online}
      data-pending={pending}
      title={pending ? 'Changes made offline, sent in order once back online' : undefined}
    >
      {online ? 'online' : 'offline'} · {pending} pending{online && pending > 0 && ' '}
      {online && pending > 0 && (
        <button className="link-button" onClick={syncNow}>
          sync now
        </button>
      )}
    </span>
  );
}

/** Refusals shows the changes made offline that the server refused when they were replayed (they are rolled back). */
function Refusals() {
  const refused = useRefusals();
  if (refused.length === 0) return null;
  return (
    <ul className="refusals" data-testid="offline-refusals">
      {refused.map((r) => (
        <li key={r.key} role="alert">
          A change made offline was refused ({r.fn}): {r.message}{' '}
          <button className="link-button" onClick={() => dismiss(r.key)}>
            dismiss
          </button>
        </li>
      ))}
    </ul>
  );
}

/** LiveBadge says whether the page receives other people's changes as they happen. */
function LiveBadge() {
  const state = useLiveState();
  const live = state === 'open';
  return (
    <span
      className={live ? 'live-badge on' : 'live-badge'}
      data-testid="live-state"
      data-state={state}
      title={live ? 'Changes made by others appear here as they happen' : 'Reconnecting: changes by others appear after a refetch'}
    >
      {live ? 'live' : 'offline'}
    </span>
  );
}

function Sidebar() {
  const projects = useProjects();
  const me = useMe();
  return (
    <nav className="sidebar" aria-label="Projects">
      <h2 className="sidebar-title">Projects</h2>
      <ErrorNote error={projects.error} />
      <ul className="project-list">
        {projects.data?.map((p) => (
          <li key={p.id}>
            <Link to={`/projects/${p.id}`} className="project-link" data-testid={`project-link-${p.id}`}>
              <span className="project-link-name">{p.name}</span>
              <ProjectProgress projectId={p.id} where="sidebar" />
            </Link>
          </li>
        ))}
      </ul>
      {me?.staff && <NewProjectForm />}
      <h2 className="sidebar-title">People</h2>
      <ul className="project-list">
        <li>
          <Link to="/team" className="project-link">
            Team
          </Link>
        </li>
      </ul>
    </nav>
  );
}

function NewProjectForm() {
  const [name, setName] = useState('');
  const create = useCreateProject();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create
      .mutate({ name: name.trim() })
      .then((p) => {
        setName('');
        navigate(`/projects/${p.id}`);
      })
      .catch(ignore);
  };
  return (
    <form className="new-project" onSubmit={submit}>
      <input aria-label="New project name" placeholder="New project…" value={name} onChange={(e) => setName(e.target.value)} maxLength={80} />
      <button className="button small" disabled={create.isPending || !name.trim()}>
        Create
      </button>
      <ErrorNote error={create.error} />
    </form>
  );
}

function WirePanel() {
  const events = useWireLog();
  return (
    <aside className="wire" aria-label="Wire log">
      <h2 className="sidebar-title">On the wire</h2>
      <p className="wire-help">
        Each mutation names what it invalidates; the client refetches only the context instances on screen that those targets hit.
        Other people's mutations arrive pushed over a WebSocket, with the same targets.
      </p>
      <ol className="wire-list" data-testid="wire-log">
        {events.map((e) => (
          <li key={e.id} className={`wire-${e.kind}`}>
            <code>{e.text}</code>
            {e.detail && <span className="wire-detail">{e.detail}</span>}
          </li>
        ))}
      </ol>
    </aside>
  );
}
