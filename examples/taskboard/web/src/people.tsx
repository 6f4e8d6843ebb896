// The sign-in page and the team page.
import type { MizanError } from '@mizan/base';
import { useState, type FormEvent } from 'react';
import type { User } from './gen/client';
import { useRenameUser, useTeam } from './gen/hooks';
import { navigate } from './router';
import { signIn } from './session';
import { Avatar, ErrorNote, ignore, useMe } from './ui';

/** username is a user's sign-in name: the local part of their email address. Their demo password is the same. */
function username(u: User): string {
  return (u.email.split('@')[0] ?? '').toLowerCase();
}

export function SignInPage() {
  const team = useTeam();
  const me = useMe();
  const [login, setLogin] = useState({ username: '', password: '' });
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<MizanError | undefined>();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setPending(true);
    setError(undefined);
    signIn(login.username.trim(), login.password)
      .then(() => navigate('/'))
      .catch((err: MizanError) => setError(err))
      .finally(() => setPending(false));
  };
  return (
    <section className="card narrow">
      <h1>Sign in</h1>
      <p className="muted">
        The form posts to <code>/api/mizan/auth/token/</code>, which checks the password and answers a pair of JWTs: the access token stays in
        this page&apos;s memory and goes on every request as <code>Authorization: Bearer</code>; the refresh token, in this tab&apos;s
        sessionStorage, gets a new pair when the access token expires or the page reloads. Signing out revokes the session, so a copy of
        either token is refused at once.
      </p>
      {me && <p>You are signed in as {me.name}.</p>}
      <form className="signin-form" onSubmit={submit}>
        <label>
          Username
          <input name="username" autoComplete="username" value={login.username} onChange={(e) => setLogin({ ...login, username: e.target.value })} />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            value={login.password}
            onChange={(e) => setLogin({ ...login, password: e.target.value })}
          />
        </label>
        <button className="button" disabled={pending || login.username.trim() === '' || login.password === ''}>
          Sign in
        </button>
      </form>
      <ErrorNote error={team.error ?? error} />
      <h2 className="sidebar-title">Demo accounts</h2>
      <p className="muted small">Each password is the username. Pick someone to fill in the form.</p>
      <ul className="people">
        {team.data?.map((u) => (
          <li key={u.id}>
            <button className="person-button" type="button" onClick={() => setLogin({ username: username(u), password: username(u) })}>
              <Avatar person={u} />
              <span>
                <strong>{u.name}</strong>
                <span className="muted small">
                  {' '}
                  {u.staff ? 'staff' : 'member'} · username <code>{username(u)}</code>, password <code>{username(u)}</code>
                </span>
              </span>
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}

export function TeamPage() {
  const team = useTeam();
  const me = useMe();
  return (
    <section>
      <h1>Team</h1>
      <p className="lede">
        A name shows on every project and comment, so renaming someone invalidates every project broadly: watch the wire log.
      </p>
      <ErrorNote error={team.error} />
      <ul className="people team">
        {team.data?.map((u) => (
          <TeamMember key={u.id} user={u} canRename={!!me && (me.staff || me.id === u.id)} />
        ))}
      </ul>
    </section>
  );
}

function TeamMember({ user, canRename }: { user: User; canRename: boolean }) {
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(user.name);
  const rename = useRenameUser();
  const save = (e: FormEvent) => {
    e.preventDefault();
    rename
      .mutate({ user_id: user.id, name: name.trim() })
      .then(() => setEditing(false))
      .catch(ignore);
  };
  return (
    <li className="card member" data-testid={`member-${user.id}`}>
      <Avatar person={user} />
      {editing ? (
        <form onSubmit={save} className="row">
          <input aria-label={`New name for ${user.name}`} value={name} maxLength={40} onChange={(e) => setName(e.target.value)} />
          <button className="button small" disabled={rename.isPending || name.trim() === ''}>
            Save
          </button>
          <button type="button" className="button ghost small" onClick={() => setEditing(false)}>
            Cancel
          </button>
        </form>
      ) : (
        <div className="member-text">
          <strong>{user.name}</strong> {user.staff && <span className="badge">staff</span>}
          <div className="muted small">{user.email}</div>
        </div>
      )}
      {canRename && !editing && (
        <button
          className="button ghost small"
          onClick={() => {
            setName(user.name);
            rename.reset();
            setEditing(true);
          }}
        >
          Rename
        </button>
      )}
      <ErrorNote error={rename.error} />
    </li>
  );
}
