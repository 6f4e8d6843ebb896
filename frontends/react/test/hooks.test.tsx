import {
  MizanClient,
  MizanError,
  configure,
  instanceKey,
  type CallResult,
  type Params,
  type TargetInput,
  type Transport,
} from '@mizan/base';
import { registerMutationTargets } from '@mizan/base/optimistic';
import { Component, StrictMode, Suspense, act, type ReactNode } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { MizanProvider, useContextFunction, useContextQuery, useMizan, useMutation } from '../src/index.js';

declare global {
  var IS_REACT_ACT_ENVIRONMENT: boolean;
}
beforeAll(() => {
  globalThis.IS_REACT_ACT_ENVIRONMENT = true;
});

interface Profile {
  id: number;
  name: string;
}
interface Order {
  id: number;
  total: number;
}
interface UserBundle {
  user_profile: Profile;
  user_orders: Order[];
}

/** A fake server after docs/spec.md §7, counting requests per context. */
class FakeServer implements Transport {
  users: Record<string, Profile> = { '1': { id: 1, name: 'Ada' }, '2': { id: 2, name: 'Grace' } };
  fetches: { context: string; params: Params; signal: AbortSignal | undefined }[] = [];
  hold = false;
  held: (() => void)[] = [];
  failCall: MizanError | undefined;

  fetchContext(context: string, params: Params, signal?: AbortSignal): Promise<unknown> {
    this.fetches.push({ context, params, signal });
    const answer = (): unknown => {
      const id = String(params.user_id);
      if (context === 'user') {
        const u = this.users[id];
        if (!u) throw new MizanError('not_found', 'no such user', 404);
        return { user_profile: { ...u }, user_orders: [{ id: Number(id) * 10, total: 5 }] };
      }
      return { order_page: { items: [], page: 1 } };
    };
    return new Promise((resolve, reject) => {
      signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
      const go = (): void => {
        try {
          resolve(answer());
        } catch (e) {
          reject(e);
        }
      };
      if (this.hold) this.held.push(go);
      else setTimeout(go, 0);
    });
  }

  async call(fn: string, args: unknown): Promise<CallResult<unknown>> {
    await new Promise((r) => setTimeout(r, 0));
    if (this.failCall) throw this.failCall;
    const a = args as { user_id: number; name: string };
    const u = this.users[String(a.user_id)]!;
    u.name = a.name;
    const invalidate: TargetInput[] =
      fn === 'update_name'
        ? [{ context: 'user', function: 'user_profile', params: { user_id: a.user_id } }]
        : [{ context: 'user', params: { user_id: a.user_id } }];
    return { result: { ok: true }, invalidate };
  }

  count(context: string): number {
    return this.fetches.filter((f) => f.context === context).length;
  }
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
  for (let i = 0; i < 3; i++) await act(() => new Promise((r) => setTimeout(r, 0)));
}

const text = (): string => container.textContent ?? '';

function setup() {
  const server = new FakeServer();
  const client = new MizanClient({ transport: server, retry: { attempts: 0 } });
  return { server, client };
}

function User(props: { id: number }) {
  const { data, isLoading, error } = useContextQuery<UserBundle>('user', { user_id: props.id });
  if (error) return <p>error {error.code}</p>;
  if (isLoading) return <p>loading</p>;
  return <p>user {data?.user_profile.name}</p>;
}

describe('useContextQuery', () => {
  it('renders loading, then the data', async () => {
    const { server, client } = setup();
    server.hold = true;
    await render(
      <MizanProvider client={client}>
        <User id={1} />
      </MizanProvider>,
    );
    expect(text()).toBe('loading');
    await act(async () => server.held.forEach((go) => go()));
    expect(text()).toBe('user Ada');
    expect(server.count('user')).toBe(1);
  });

  it('renders the error of a failed fetch as a MizanError', async () => {
    const { client } = setup();
    await render(
      <MizanProvider client={client}>
        <User id={9} />
      </MizanProvider>,
    );
    await settle();
    expect(text()).toBe('error not_found');
  });

  it('shares one fetch between components reading one instance, even under StrictMode', async () => {
    const { server, client } = setup();
    await render(
      <StrictMode>
        <MizanProvider client={client}>
          <User id={1} />
          <User id={1} />
        </MizanProvider>
      </StrictMode>,
    );
    await settle();
    expect(text()).toBe('user Adauser Ada');
    expect(server.count('user')).toBe(1);
    expect(server.fetches[0]?.signal?.aborted).toBe(false);
  });

  it('renders hydrated data at once, without a loading state or a fetch', async () => {
    const server = new FakeServer();
    const client = new MizanClient({
      transport: server,
      initialData: { [instanceKey('user', { user_id: 1 })]: { user_profile: { id: 1, name: 'SSR Ada' }, user_orders: [] } },
    });
    const seen: string[] = [];
    function Probe() {
      const { data, isLoading, status } = useContextQuery<UserBundle>('user', { user_id: 1 });
      seen.push(`${status} ${String(isLoading)} ${data?.user_profile.name ?? ''}`);
      return <p>user {data?.user_profile.name}</p>;
    }
    await render(
      <MizanProvider client={client}>
        <Probe />
      </MizanProvider>,
    );
    await settle();
    expect(text()).toBe('user SSR Ada');
    expect(seen[0]).toBe('success false SSR Ada');
    expect(seen.every((s) => s === seen[0])).toBe(true);
    expect(server.count('user')).toBe(0);
  });

  it('keeps showing the old data while an invalidated instance refetches, then the new', async () => {
    const { server, client } = setup();
    await render(
      <MizanProvider client={client}>
        <User id={1} />
      </MizanProvider>,
    );
    await settle();
    server.hold = true;
    server.users['1']!.name = 'Ada L.';
    await act(async () => client.invalidate([{ context: 'user', params: { user_id: 1 } }]));
    expect(server.held).toHaveLength(1);
    expect(text()).toBe('user Ada'); // not "loading"
    await act(async () => server.held.forEach((go) => go()));
    expect(text()).toBe('user Ada L.');
  });

  it('refetch from the hook fetches again and renders the new data', async () => {
    const { server, client } = setup();
    let refetch: (() => Promise<void>) | undefined;
    function Refetching() {
      const q = useContextQuery<UserBundle>('user', { user_id: 2 });
      refetch = q.refetch;
      return <p>{q.data?.user_profile.name ?? '…'}</p>;
    }
    await render(
      <MizanProvider client={client}>
        <Refetching />
      </MizanProvider>,
    );
    await settle();
    expect(text()).toBe('Grace');
    server.users['2']!.name = 'Grace H.';
    await act(async () => refetch!());
    expect(text()).toBe('Grace H.');
    expect(server.count('user')).toBe(2);
  });

  it('switches instance when params change', async () => {
    const { server, client } = setup();
    await render(
      <MizanProvider client={client}>
        <User id={1} />
      </MizanProvider>,
    );
    await settle();
    await act(async () =>
      root!.render(
        <MizanProvider client={client}>
          <User id={2} />
        </MizanProvider>,
      ),
    );
    await settle();
    expect(text()).toBe('user Grace');
    expect(server.fetches.map((f) => f.params.user_id)).toEqual(['1', '2']);
  });

  it('aborts the fetch in flight when the last reader unmounts', async () => {
    const { server, client } = setup();
    server.hold = true;
    await render(
      <MizanProvider client={client}>
        <User id={1} />
      </MizanProvider>,
    );
    const signal = server.fetches[0]!.signal!;
    expect(signal.aborted).toBe(false);
    await act(async () => root!.render(<MizanProvider client={client} />));
    await settle();
    expect(signal.aborted).toBe(true);
  });
});

describe('useMutation', () => {
  function Editor(props: { id: number }) {
    const { mutate, isPending, error, reset } = useMutation<{ user_id: number; name: string }, { ok: boolean }>(
      'update_profile',
    );
    return (
      <div>
        <button onClick={() => void mutate({ user_id: props.id, name: 'Ryth' }).catch(() => {})}>save</button>
        <button onClick={reset}>reset</button>
        <span>{isPending ? 'saving' : 'idle'}</span>
        <span>{error ? `failed ${error.code}` : ''}</span>
      </div>
    );
  }
  const click = (label: string): void =>
    act(() => {
      [...container.querySelectorAll('button')].find((b) => b.textContent === label)!.click();
    });

  it('mutates, shows pending, and the affected data re-renders', async () => {
    const { server, client } = setup();
    await render(
      <MizanProvider client={client}>
        <User id={1} />
        <User id={2} />
        <Editor id={1} />
      </MizanProvider>,
    );
    await settle();
    expect(text()).toBe('user Adauser Gracesaveresetidle');
    click('save');
    expect(text()).toContain('saving');
    await settle();
    expect(text()).toBe('user Rythuser Gracesaveresetidle');
    // Only the scoped instance was refetched.
    expect(server.fetches.map((f) => f.params.user_id)).toEqual(['1', '2', '1']);
  });

  it('keeps the error until reset', async () => {
    const { server, client } = setup();
    server.failCall = new MizanError('conflict', 'taken', 409);
    await render(
      <MizanProvider client={client}>
        <Editor id={1} />
      </MizanProvider>,
    );
    click('save');
    await settle();
    expect(text()).toBe('saveresetidlefailed conflict');
    click('reset');
    expect(text()).toBe('saveresetidle');
  });
});

describe('useMutation with optimistic updaters', () => {
  registerMutationTargets({
    update_profile: [['user', ['user_id']]],
    update_name: [['user', ['user_id'], 'user_profile']],
  });
  type Args = { user_id: number; name: string };
  type Updaters = { user_profile?: (p: Profile, args: Args) => Profile };
  function Editor(props: { id: number; name: string }) {
    const { mutate, error } = useMutation<Args, { ok: boolean }, Updaters>('update_name');
    const save = (): void =>
      void mutate(
        { user_id: props.id, name: props.name },
        { optimistic: { user_profile: (p, args) => ({ ...p, name: args.name + '…' }) } },
      ).catch(() => {});
    return (
      <div>
        <button onClick={save}>save</button>
        <span>{error ? `failed ${error.code}` : ''}</span>
      </div>
    );
  }

  it('shows the optimistic data at once, then the server data once the refetch lands', async () => {
    const { server, client } = setup();
    await render(
      <MizanProvider client={client}>
        <User id={1} />
        <User id={2} />
        <Editor id={1} name="Ryth" />
      </MizanProvider>,
    );
    await settle();
    server.hold = true; // the refetch waits until released
    await act(async () => container.querySelector('button')!.click());
    expect(text()).toBe('user Ryth…user Gracesave');
    for (let i = 0; i < 3; i++) await act(() => new Promise((r) => setTimeout(r, 0)));
    // The call is answered, its refetch held: still the optimistic value.
    expect(text()).toBe('user Ryth…user Gracesave');
    await act(async () => server.held.forEach((go) => go()));
    await settle();
    expect(text()).toBe('user Rythuser Gracesave');
  });

  it('rolls back when the call fails', async () => {
    const { server, client } = setup();
    server.failCall = new MizanError('conflict', 'taken', 409);
    await render(
      <MizanProvider client={client}>
        <User id={1} />
        <Editor id={1} name="Ryth" />
      </MizanProvider>,
    );
    await settle();
    act(() => container.querySelector('button')!.click());
    expect(text()).toBe('user Ryth…save');
    await settle();
    expect(text()).toBe('user Adasavefailed conflict');
  });
});

describe('useContextFunction', () => {
  it('a component reading only user_orders does not re-render on a function-level user_profile target', async () => {
    const { server, client } = setup();
    const renders = { profile: 0, orders: 0 };
    function ProfileView() {
      renders.profile++;
      const { data } = useContextFunction<UserBundle, 'user_profile'>('user', { user_id: 1 }, 'user_profile');
      return <p>name {data?.name}</p>;
    }
    function OrdersView() {
      renders.orders++;
      const { data } = useContextFunction<UserBundle, 'user_orders'>('user', { user_id: 1 }, 'user_orders');
      return <p>orders {data?.length}</p>;
    }
    function Rename() {
      const { mutate } = useMutation<{ user_id: number; name: string }, unknown>('update_name');
      return <button onClick={() => void mutate({ user_id: 1, name: 'Ada L.' })}>rename</button>;
    }
    await render(
      <MizanProvider client={client}>
        <ProfileView />
        <OrdersView />
        <Rename />
      </MizanProvider>,
    );
    await settle();
    expect(text()).toBe('name Adaorders 1rename');
    const before = { ...renders };
    await act(async () => container.querySelector('button')!.click());
    await settle();
    expect(text()).toBe('name Ada L.orders 1rename');
    expect(server.count('user')).toBe(2);
    expect(renders.profile).toBeGreaterThan(before.profile);
    expect(renders.orders).toBe(before.orders);
  });
});

describe('suspense', () => {
  class Boundary extends Component<{ children: ReactNode }, { error?: Error }> {
    override state: { error?: Error } = {};
    static getDerivedStateFromError(error: Error) {
      return { error };
    }
    override render() {
      return this.state.error ? <p>caught {(this.state.error as MizanError).code}</p> : this.props.children;
    }
  }
  function SuspenseUser(props: { id: number }) {
    const { data } = useContextQuery<UserBundle>('user', { user_id: props.id }, { suspense: true });
    return <p>user {data!.user_profile.name}</p>;
  }

  it('shows the fallback until the data is there', async () => {
    const { server, client } = setup();
    server.hold = true;
    await render(
      <MizanProvider client={client}>
        <Suspense fallback={<p>fallback</p>}>
          <SuspenseUser id={1} />
        </Suspense>
      </MizanProvider>,
    );
    expect(text()).toBe('fallback');
    await act(async () => server.held.forEach((go) => go()));
    await settle();
    expect(text()).toBe('user Ada');
    expect(server.count('user')).toBe(1);
  });

  it('throws the error to the nearest error boundary', async () => {
    const { client } = setup();
    const quiet = vi.spyOn(console, 'error').mockImplementation(() => {}); // React logs caught errors
    await render(
      <MizanProvider client={client}>
        <Boundary>
          <Suspense fallback={<p>fallback</p>}>
            <SuspenseUser id={9} />
          </Suspense>
        </Boundary>
      </MizanProvider>,
    );
    await settle();
    expect(text()).toBe('caught not_found');
    quiet.mockRestore();
  });
});

describe('useMizan and MizanProvider', () => {
  it('returns the provided client, or the default one outside a provider', async () => {
    const { client } = setup();
    const def = configure({ transport: new FakeServer() });
    const seen: MizanClient[] = [];
    function Probe() {
      seen.push(useMizan());
      return null;
    }
    await render(
      <>
        <MizanProvider client={client}>
          <Probe />
        </MizanProvider>
        <Probe />
        <MizanProvider>
          <Probe />
        </MizanProvider>
      </>,
    );
    expect(seen[0]).toBe(client);
    expect(seen[1]).toBe(def);
    expect(seen[2]).toBe(def);
  });
});
