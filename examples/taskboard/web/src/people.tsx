// The sign-in page and the team page.
import { useState, type FormEvent } from 'react';
import type { User } from './gen/client';
import { useRenameUser, useSignIn, useTeam } from './gen/hooks';
import { navigate } from './router';
import { Avatar, ErrorNote, ignore, useMe } from './ui';

export function SignInPage() {
  const team = useTeam();
  const me = useMe();
  const signIn = useSignIn();
  return (
    <section className="card narrow">
      <h1>Sign in</h1>
      <p className="muted">
        This demo has no passwords: pick a member of the team. The server answers with a signed, HttpOnly session cookie; from then on every
        call carries it, and the guarded mutations let you in.
      </p>
      {me && <p>You are signed in as {me.name}.</p>}
      <ErrorNote error={team.error ?? signIn.error} />
      <ul className="people">
        {team.data?.map((u) => (
          <li key={u.id}>
            <button
              className="person-button"
              disabled={signIn.isPending}
              onClick={() =>
                signIn
                  .mutate({ user_id: u.id })
                  .then(() => navigate('/'))
                  .catch(ignore)
              }
            >
              <Avatar person={u} />
              <span>
                <strong>{u.name}</strong>
                <span className="muted small"> {u.staff ? 'staff' : 'member'}</span>
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
