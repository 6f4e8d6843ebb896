// The sign-in page and the team page.
//
// What is public and what is not (app.go): the team's names are public
// (team, in the board context), so anyone sees the team page, and it is
// pre-rendered for anonymous visitors. Email addresses and who is staff
// are for signed-in members only: members, in the directory context, is
// guarded by RequireAuth on the server, and the page fetches it only once
// someone is signed in (Directory mounts then). The sign-in page lists the
// demo accounts from demo_accounts, a read that exists only because this
// is a demo.
import type { MizanError } from '@mizan/base';
import { useState, type FormEvent } from 'react';
import type { Member, Person, User } from './gen/client';
import { useDemoAccounts, useMembers, useRenameUser, useTeam } from './gen/hooks';
import { useSignInServerForm } from './forms';
import { navigate } from './router';
import { signIn } from './session';
import { Avatar, ErrorNote, ignore, useMe } from './ui';
import { OIDCSignIn } from './signin-oidc';
import { PasskeySignIn } from './signin-passkey';

export function SignInPage() {
  const team = useTeam();
  const accounts = useDemoAccounts();
  const me = useMe();
  // Without JavaScript the form posts to sign_in (forms.go), which starts a
  // cookie session; a refused post comes back to this page with its
  // messages. With JavaScript it signs in with JWTs from auth/token/.
  const posted = useSignInServerForm();
  const [login, setLogin] = useState({ username: posted.username, password: '' });
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<MizanError | undefined>();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (login.username.trim() === '' || login.password === '') return;
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
      <form className="signin-form" method="post" action="/signin/password" noValidate onSubmit={submit}>
        {posted.messages.length > 0 && !error && (
          <p className="error" role="alert" data-testid="signin-errors">
            {posted.messages.join(' ')}
          </p>
        )}
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
        <button className="button" disabled={pending}>
          Sign in
        </button>
      </form>
      <OIDCSignIn />
      <PasskeySignIn />
      <ErrorNote error={accounts.error ?? team.error ?? error} />
      <h2 className="sidebar-title">Demo accounts</h2>
      <p className="muted small">Each password is the username. Pick someone to fill in the form.</p>
      <ul className="people">
        {accounts.data?.map((a) => {
          // The name is the team's (a rename shows here too).
          const person = team.data?.find((p) => p.id === a.id) ?? { id: a.id, name: a.username };
          return (
            <li key={a.id}>
              <button className="person-button" type="button" onClick={() => setLogin({ username: a.username, password: a.username })}>
                <Avatar person={person} />
                <span>
                  <strong>{person.name}</strong>
                  <span className="muted small">
                    {' '}
                    {a.staff ? 'staff' : 'member'} · username <code>{a.username}</code>, password <code>{a.username}</code>
                  </span>
                </span>
              </button>
            </li>
          );
        })}
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
      {me ? (
        <Directory team={team.data} me={me} />
      ) : (
        <>
          <TeamList team={team.data} canRename={() => false} />
          {me === null && (
            <p className="muted small" data-testid="directory-note">
              Email addresses and who is staff are for members: sign in to see them.
            </p>
          )}
        </>
      )}
    </section>
  );
}

/** Directory is the team as a signed-in member sees it: with the guarded directory context's email addresses and staff flags. */
function Directory({ team, me }: { team: Person[] | undefined; me: User }) {
  const members = useMembers();
  const details = new Map(members.data?.map((m) => [m.id, m]));
  return (
    <>
      <ErrorNote error={members.error} />
      <TeamList team={team} details={details} canRename={(u) => me.staff || me.id === u.id} />
    </>
  );
}

function TeamList(props: { team: Person[] | undefined; details?: Map<number, Member>; canRename: (p: Person) => boolean }) {
  return (
    <ul className="people team">
      {props.team?.map((u) => (
        <TeamMember key={u.id} user={u} details={props.details?.get(u.id)} canRename={props.canRename(u)} />
      ))}
    </ul>
  );
}

function TeamMember({ user, details, canRename }: { user: Person; details?: Member; canRename: boolean }) {
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
          <strong>{user.name}</strong> {details?.staff && <span className="badge">staff</span>}
          {details && <div className="muted small">{details.email}</div>}
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
