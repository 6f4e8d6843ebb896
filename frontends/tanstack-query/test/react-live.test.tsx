// Live tests of @mizan/tanstack-query with @tanstack/react-query against
// the Go fixture (docs/spec.md §7, served by ../base/test/fixture-server.ts),
// through the fixture's generated client (codegen/testdata/fixture/ts), in
// rendered React components: a mutation through the bridge refetches
// exactly the queries its targets match, a function-level target included;
// an invalidation pushed over the WebSocket by another client's mutation
// refetches the matching query and no other; a query unmounted meanwhile
// refetches when it is mounted again. Context fetches are counted per
// instance at the fetch the client's transport makes (each is one queryFn
// call: retries are off on both sides). Without Go they fail when CI=true
// and are skipped elsewhere.
import { MizanClient, httpTransport, type CallResult } from '@mizan/base';
import { wsTransport, type SocketLike, type WsTransport } from '@mizan/base/ws';
import { QueryClient, QueryClientProvider, useMutation, useQuery, type UseMutationResult } from '@tanstack/react-query';
import { StrictMode, type ReactNode } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import {
  callArchiveOrders,
  callUpdateName,
  callUpdateProfile,
  fetchOrders,
  fetchUser,
  type ArchiveOrdersArgs,
  type OkResult,
  type UpdateNameArgs,
  type UpdateProfileArgs,
} from '../../../codegen/testdata/fixture/ts/client.js';
import { connectInvalidations, mizanMutationOptions, mizanQueries, mizanQueryKey } from '../src/index.js';

const origin = inject('fixtureUrl');

declare global {
  var IS_REACT_ACT_ENVIRONMENT: boolean;
  /** happy-dom's control of its window (the environment of vitest.config.ts). */
  var happyDOM: { setURL(url: string): void };
}
beforeAll(() => {
  // Updates come from the network, not from act(): the tests poll the DOM.
  globalThis.IS_REACT_ACT_ENVIRONMENT = false;
  // The page is served by the fixture, as an app's page is by its server:
  // its requests are same-origin (happy-dom applies a browser's CORS rules).
  if (origin) globalThis.happyDOM.setURL(origin + '/');
});

/** until waits for cond, polling; the bound is a safety net, not an assertion about speed. */
async function until(what: string, cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('gave up waiting: ' + what);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** counting returns a fetch to the fixture that records the context fetches (`ctx/user/?user_id=1`) and HTTP calls. */
function counting() {
  const reads: string[] = [];
  const httpCalls: string[] = [];
  const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const path = String(input).slice((origin + '/api/mizan/').length);
    if (path.startsWith('ctx/')) reads.push(path);
    if (path === 'call/') httpCalls.push((JSON.parse(String(init?.body)) as { fn: string }).fn);
    return globalThis.fetch(input, init);
  }) as typeof globalThis.fetch;
  return { reads, httpCalls, fetch };
}

/** httpClient returns a client over HTTP to the fixture, with its counts. */
function httpClient() {
  const c = counting();
  const client = new MizanClient({ transport: httpTransport({ baseUrl: origin, fetch: c.fetch }), retry: { attempts: 0 } });
  return { client, ...c };
}

/**
 * wsClient returns a client over a wsTransport to the fixture, with its
 * counts, the (un)subscriptions it sent (`subscribe user {"user_id":"1"}`)
 * and settled(), which reports whether the socket is open and every one
 * of them has been answered.
 */
function wsClient() {
  const c = counting();
  const sent = new Map<number, string>();
  const answered = new Set<number>();
  const Native = globalThis.WebSocket as unknown as new (url: string) => SocketLike & {
    addEventListener(type: 'message', l: (ev: { data: unknown }) => void): void;
  };
  const transport: WsTransport = wsTransport({
    baseUrl: origin,
    fetch: c.fetch,
    reconnect: { min: 20, max: 200 },
    WebSocket: class {
      constructor(url: string) {
        const s = new Native(url);
        const send = s.send.bind(s);
        s.send = (data: string) => {
          const m = JSON.parse(data) as { id: number; type: string; context?: string; params?: unknown };
          if (m.type === 'subscribe' || m.type === 'unsubscribe') sent.set(m.id, `${m.type} ${m.context} ${JSON.stringify(m.params)}`);
          send(data);
        };
        s.addEventListener('message', (ev) => {
          const m = JSON.parse(String(ev.data)) as { id?: number };
          if (typeof m.id === 'number') answered.add(m.id);
        });
        return s;
      }
    } as unknown as new (url: string) => SocketLike,
  });
  const client = new MizanClient({ transport, retry: { attempts: 0 } });
  const settled = (): boolean => transport.state === 'open' && [...sent.keys()].every((id) => answered.has(id));
  const subscriptions = (): string[] => [...sent.values()];
  return { client, transport, settled, subscriptions, ...c };
}

let roots: Root[] = [];
let closers: (() => void)[] = [];
afterEach(() => {
  for (const r of roots) r.unmount();
  for (const f of closers.reverse()) f();
  roots = [];
  closers = [];
  document.body.innerHTML = '';
});

function newQueryClient(): QueryClient {
  // Only invalidations refetch: no retries, and data that never goes stale by age.
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false, staleTime: Infinity } } });
  closers.push(() => qc.clear());
  return qc;
}

/** render mounts node in a fresh container under a QueryClientProvider, in StrictMode unless strict is false. */
function render(qc: QueryClient, node: ReactNode, strict = true): { root: Root; el: HTMLElement } {
  const el = document.createElement('div');
  document.body.append(el);
  const root = createRoot(el);
  roots.push(root);
  const tree = <QueryClientProvider client={qc}>{node}</QueryClientProvider>;
  root.render(strict ? <StrictMode>{tree}</StrictMode> : tree);
  return { root, el };
}

const text = (el: HTMLElement, id: string): string | undefined => el.querySelector(`[data-testid="${id}"]`)?.textContent ?? undefined;

/** loaded waits until the elements of ids are rendered with data. */
const loaded = (el: HTMLElement, ...ids: string[]): Promise<void> =>
  until(ids.join(', ') + ' loaded', () => ids.every((id) => ![undefined, 'loading'].includes(text(el, id))));

/** The components of the tests, over one Mizan client. */
function ui(client: MizanClient) {
  const q = mizanQueries({ user: fetchUser, orders: fetchOrders }, { client });

  function Profile({ id }: { id: number }) {
    const { data } = useQuery(q.user({ user_id: id }));
    return <p data-testid={`user-${id}`}>{data ? data.user_profile.name : 'loading'}</p>;
  }

  function Orders({ status }: { status: string }) {
    const { data } = useQuery(q.orders({ user_id: 1, status, page: 1 }));
    return <p data-testid={`orders-${status}`}>{data ? `page ${data.order_page.page}` : 'loading'}</p>;
  }

  interface Mutations {
    updateProfile: UseMutationResult<CallResult<OkResult>, Error, UpdateProfileArgs>;
    updateName: UseMutationResult<CallResult<OkResult>, Error, UpdateNameArgs>;
    archiveOrders: UseMutationResult<CallResult<OkResult>, Error, ArchiveOrdersArgs>;
  }
  const mutations: { current?: Mutations } = {};

  function Actions() {
    const updateProfile = useMutation(mizanMutationOptions(callUpdateProfile, { client }));
    const updateName = useMutation(mizanMutationOptions(callUpdateName, { client }));
    const archiveOrders = useMutation(mizanMutationOptions(callArchiveOrders, { client }));
    mutations.current = { updateProfile, updateName, archiveOrders };
    return (
      <button data-testid="rename" data-status={updateProfile.status} onClick={() => updateProfile.mutate({ user_id: 1, name: 'Ada Lovelace' })}>
        rename
      </button>
    );
  }

  return { q, Profile, Orders, Actions, mutations };
}

describe.skipIf(!origin)('live: TanStack Query over the Go fixture', { timeout: 30_000 }, () => {
  beforeEach(async () => {
    const res = await fetch(origin + '/api/mizan/call/', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"fn":"reset_all"}',
    });
    expect(res.status).toBe(200);
  });

  it('a mutation through the bridge refetches exactly the queries its targets match', async () => {
    const a = httpClient();
    const { Profile, Orders, Actions, mutations } = ui(a.client);
    const qc = newQueryClient();
    const { el } = render(
      qc,
      <>
        <Profile id={1} />
        <Profile id={2} />
        <Orders status="open" />
        <Orders status="paid" />
        <Actions />
      </>,
    );
    await loaded(el, 'user-1', 'user-2', 'orders-open', 'orders-paid', 'rename');
    expect(text(el, 'user-1')).toBe('Ada');
    a.reads.length = 0;

    // update_profile targets user;user_id=1: that query alone refetches,
    // and the mutation succeeds once it has.
    el.querySelector<HTMLButtonElement>('[data-testid="rename"]')!.click();
    await until('mutation settled', () => el.querySelector('[data-status="success"]') !== null);
    // The mutation succeeded once the refetch had landed: the data is there.
    expect(qc.getQueryData(mizanQueryKey('user', { user_id: 1 }))).toMatchObject({ user_profile: { name: 'Ada Lovelace' } });
    expect(a.reads).toEqual(['ctx/user/?user_id=1']);
    await until('shown', () => text(el, 'user-1') === 'Ada Lovelace');
    a.reads.length = 0;

    // archive_orders targets orders scoped by status and user_id: the
    // paid orders and the users stay as they are.
    const res = await mutations.current!.archiveOrders.mutateAsync({ user_id: 1, status: 'open' });
    expect(res.invalidate).toEqual([{ context: 'orders', params: { status: 'open', user_id: 1 } }]);
    expect(a.reads).toEqual(['ctx/orders/?page=1&status=open&user_id=1']);
  });

  it('a function-level target refetches the queries of its context that it matches', async () => {
    const a = httpClient();
    const { Profile, Actions, mutations } = ui(a.client);
    const { el } = render(
      newQueryClient(),
      <>
        <Profile id={1} />
        <Profile id={2} />
        <Actions />
      </>,
    );
    await loaded(el, 'user-1', 'user-2', 'rename');
    a.reads.length = 0;
    const res = await mutations.current!.updateName.mutateAsync({ user_id: 2, name: 'Grace Hopper' });
    expect(res.invalidate).toEqual([{ context: 'user', function: 'user_profile', params: { user_id: 2 } }]);
    expect(a.reads).toEqual(['ctx/user/?user_id=2']);
    await until('shown', () => text(el, 'user-2') === 'Grace Hopper');
    expect(text(el, 'user-1')).toBe('Ada');
  });

  it("another client's mutation, pushed over the WebSocket, refetches the matching query and no other", async () => {
    const a = wsClient();
    closers.push(() => a.transport.close());
    const qc = newQueryClient();
    closers.push(connectInvalidations(qc, a.client));
    const { Profile, Actions, mutations } = ui(a.client);
    const { el } = render(
      qc,
      <>
        <Profile id={1} />
        <Profile id={2} />
        <Actions />
      </>,
    );
    await loaded(el, 'user-1', 'user-2', 'rename');
    await until('subscribed', () => a.settled());
    // One subscription per instance, StrictMode's double mount included.
    expect(a.subscriptions().sort()).toEqual(['subscribe user {"user_id":"1"}', 'subscribe user {"user_id":"2"}']);
    a.reads.length = 0;

    const b = httpClient();
    await callUpdateProfile({ user_id: 1, name: 'Ada Byron' }, b.client);
    await until("a's query refetched", () => text(el, 'user-1') === 'Ada Byron');
    expect(a.reads).toEqual(['ctx/user/?user_id=1']);
    expect(text(el, 'user-2')).toBe('Grace');
    a.reads.length = 0;

    // a's own mutation through the bridge, over the socket (update_profile
    // is registered with mizan.WebSocket()): the client applies its
    // targets, the connection joins them to the mutation, one refetch.
    await mutations.current!.updateProfile.mutateAsync({ user_id: 2, name: 'Grace Hopper' });
    expect(a.httpCalls).toEqual([]);
    expect(a.reads).toEqual(['ctx/user/?user_id=2']);
    await until('shown', () => text(el, 'user-2') === 'Grace Hopper');
    a.reads.length = 0;

    // A call made with the Mizan client directly reaches the queries too.
    await callUpdateName({ user_id: 1, name: 'Augusta' }, a.client);
    await until('refetched', () => text(el, 'user-1') === 'Augusta');
    expect(a.reads).toEqual(['ctx/user/?user_id=1']);
  });

  it('a query unmounted while another client changed it refetches when mounted again', async () => {
    const a = wsClient();
    closers.push(() => a.transport.close());
    const qc = newQueryClient();
    closers.push(connectInvalidations(qc, a.client));
    const { Profile } = ui(a.client);
    const first = render(qc, <Profile id={3} />);
    await loaded(first.el, 'user-3');
    await until('subscribed', () => a.settled());
    const name = text(first.el, 'user-3');
    first.root.unmount();
    roots = roots.filter((r) => r !== first.root);
    // The last observer gone, the subscription goes (and the server has it
    // before the other client's call: no push can arrive meanwhile).
    await until('unsubscribed', () => a.subscriptions().length === 2 && a.settled());
    expect(a.subscriptions()).toEqual(['subscribe user {"user_id":"3"}', 'unsubscribe user {"user_id":"3"}']);

    const b = httpClient();
    await callUpdateProfile({ user_id: 3, name: 'Lin Changed' }, b.client);
    a.reads.length = 0;
    // Unobserved, it was unsubscribed and marked invalidated: mounting it
    // again refetches despite staleTime: Infinity. (Not in StrictMode here,
    // whose double mount would count twice: TanStack cancels a fetch that
    // uses its abort signal when the last observer leaves, and the
    // remount starts another.)
    const second = render(qc, <Profile id={3} />, false);
    await until('mounted', () => text(second.el, 'user-3') !== undefined);
    expect([name, 'Lin Changed']).toContain(text(second.el, 'user-3'));
    await until('refetched', () => text(second.el, 'user-3') === 'Lin Changed');
    expect(a.reads).toEqual(['ctx/user/?user_id=3']);
  });
});
