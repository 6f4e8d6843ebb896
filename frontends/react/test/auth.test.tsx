// useAuth and AuthProvider over createAuth of @mizan/base, in happy-dom,
// against a fake server of auth/token/, auth/refresh/, auth/logout/ and
// ctx/global/ (docs/spec.md §8).
import { MizanClient } from '@mizan/base';
import { createAuth, type Auth, type TokenStorage } from '@mizan/base/auth';
import { StrictMode, act, type ReactNode } from 'react';
import { createRoot, hydrateRoot, type Root } from 'react-dom/client';
import { renderToString } from 'react-dom/server';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AuthProvider, MizanProvider, useAuth, useContextFunction } from '../src/index.js';

declare global {
  var IS_REACT_ACT_ENVIRONMENT: boolean;
}
beforeAll(() => {
  globalThis.IS_REACT_ACT_ENVIRONMENT = true;
});

const b64 = (o: unknown): string => btoa(JSON.stringify(o)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');

/** fakeServer answers the auth/ endpoints and ctx/global/ (current_user from the Bearer token), counting requests by path. */
function fakeServer() {
  const users: Record<string, string> = { ada: '1', grace: '2' };
  const live = new Map<string, string>(); // access token → user id
  const seen: string[] = [];
  let n = 0;
  const pair = (id: string) => {
    const access = `h.${b64({ sub: id, staff: id === '1', n: ++n })}.s`;
    live.set(access, id);
    return { access, refresh: `r.${id}.${n}` };
  };
  const f = (async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const path = String(input).replace('/api/mizan/', '').split('?')[0]!;
    seen.push(path);
    await new Promise((r) => setTimeout(r, 0));
    const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as Record<string, string>) : {};
    const bearer = ((init?.headers as Record<string, string> | undefined)?.Authorization ?? '').slice(7);
    if (path === 'auth/token/') {
      const id = users[body.username ?? ''];
      if (!id || body.password !== `${body.username}-pw`) {
        return Response.json({ error: { code: 'unauthorized', message: 'wrong username or password' } }, { status: 401 });
      }
      return Response.json(pair(id));
    }
    if (path === 'auth/refresh/') return Response.json(pair(String(body.refresh).split('.')[1]!));
    if (path === 'auth/logout/') {
      live.delete(bearer);
      return Response.json({ ok: true });
    }
    return Response.json({ current_user: live.has(bearer) ? { id: Number(live.get(bearer)) } : null });
  }) as typeof fetch;
  return { f, seen };
}

/** setup wires a sign-in client and a client over its transport, as an app does. */
function setup(storage?: TokenStorage) {
  const server = fakeServer();
  const auth = createAuth({ fetch: server.f, ...(storage ? { storage } : {}) });
  const client = new MizanClient({ transport: auth.transport(), retry: { attempts: 0 } });
  return { server, auth, client };
}

let root: Root | undefined;
let container: HTMLElement;

afterEach(() => {
  act(() => root?.unmount());
  root = undefined;
  container?.remove();
});

async function render(ui: ReactNode): Promise<void> {
  container = document.createElement('div');
  document.body.appendChild(container);
  root = createRoot(container);
  await act(async () => root!.render(ui));
}

/** settle lets fetches answer and React commit. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await act(() => new Promise((r) => setTimeout(r, 0)));
}

const text = (): string => container.textContent ?? '';

let renders = 0;
function Who(props: { auth?: Auth }) {
  renders++;
  const { status, user } = useAuth(props.auth);
  return (
    <p>
      {status}
      {user ? ` as ${user.id}${user.staff ? ' (staff)' : ''}` : ''}
    </p>
  );
}

describe('useAuth', () => {
  it('follows sign-in and sign-out through an AuthProvider, and its actions work', async () => {
    const { auth } = setup();
    let view: ReturnType<typeof useAuth> | undefined;
    function Grab() {
      view = useAuth();
      return null;
    }
    await render(
      <AuthProvider auth={auth}>
        <Who />
        <Grab />
      </AuthProvider>,
    );
    expect(text()).toBe('signed-out');
    expect(view!.auth).toBe(auth);
    await act(async () => {
      await view!.signIn('ada', 'ada-pw');
    });
    expect(text()).toBe('signed-in as 1 (staff)');
    await act(async () => {
      await view!.signOut();
    });
    expect(text()).toBe('signed-out');
  });

  it('takes the client as an argument, and does not re-render on a refresh for the same user', async () => {
    const { auth } = setup();
    await render(
      <StrictMode>
        <Who auth={auth} />
      </StrictMode>,
    );
    await act(async () => {
      await auth.signIn('grace', 'grace-pw');
    });
    expect(text()).toBe('signed-in as 2');
    const before = renders;
    await act(async () => {
      expect(await auth.refresh()).toBe(true);
    });
    expect(renders).toBe(before);
    expect(text()).toBe('signed-in as 2');
  });

  it('shows restoring while a stored refresh token is exchanged, then the user', async () => {
    let value: string | null = 'r.1.0';
    const { auth } = setup({ get: () => value, set: (t) => void (value = t), remove: () => void (value = null) });
    container = document.createElement('div');
    document.body.appendChild(container);
    root = createRoot(container);
    act(() => root!.render(<Who auth={auth} />));
    expect(text()).toBe('restoring');
    await settle();
    expect(text()).toBe('signed-in as 1 (staff)');
  });

  it('throws without a client or provider', async () => {
    const original = console.error;
    console.error = () => {};
    try {
      await expect(render(<Who />)).rejects.toThrow(/useAuth: no sign-in client/);
    } finally {
      console.error = original;
    }
  });

  it('hydrates a server render as signed out, then shows the restored user', async () => {
    let value: string | null = 'r.2.0';
    const { auth } = setup({ get: () => value, set: (t) => void (value = t), remove: () => void (value = null) });
    const html = renderToString(<Who auth={auth} />);
    expect(html).toBe('<p>signed-out</p>');
    container = document.createElement('div');
    container.innerHTML = html;
    document.body.appendChild(container);
    const recoverable: unknown[] = [];
    await act(async () => {
      root = hydrateRoot(container, <Who auth={auth} />, { onRecoverableError: (e) => recoverable.push(e) });
    });
    await settle();
    expect(recoverable).toStrictEqual([]);
    expect(text()).toBe('signed-in as 2');
  });

  it('a change of user refetches the global context with the new token', async () => {
    const { auth, client, server } = setup();
    function Me() {
      const me = useContextFunction<{ current_user: { id: number } | null }, 'current_user'>('global', undefined, 'current_user');
      return <span>{me.data === undefined ? '…' : me.data === null ? 'nobody' : `user ${me.data.id}`}</span>;
    }
    await render(
      <MizanProvider client={client}>
        <AuthProvider auth={auth}>
          <Me />
        </AuthProvider>
      </MizanProvider>,
    );
    await settle();
    expect(text()).toBe('nobody');
    const mark = server.seen.length;
    await act(async () => {
      await auth.signIn('ada', 'ada-pw');
    });
    await settle();
    expect(text()).toBe('user 1');
    expect(server.seen.slice(mark)).toStrictEqual(['auth/token/', 'ctx/global/']);
    await act(async () => {
      await auth.signOut();
    });
    await settle();
    expect(text()).toBe('nobody');
  });
});
