// @mizan/svelte in the browser runtime (happy-dom), against the live Go
// fixture of docs/spec.md §7: the stores bound to the kernel's
// subscriptions, in runes, classic and fromStore components.
import { MizanError, configure, getClient, instanceKey } from '@mizan/base';
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { get } from 'svelte/store';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { contextFunction, contextQuery, getMizanClient, mutation } from '../src/index.js';
import App from './App.svelte';
import { live, reset, type UserBundle } from './live.js';

const origin = inject('fixtureUrl');
if (!origin) console.warn(`live tests skipped: ${inject('fixtureSkip')}`);

const text = (id: string): string => screen.getByTestId(id).textContent?.trim() ?? '';
const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

describe.skipIf(!origin)('@mizan/svelte against the live fixture', () => {
  beforeEach(async () => {
    // Same-origin requests, as from a page the server served.
    (globalThis as unknown as { happyDOM: { setURL(url: string): void } }).happyDOM.setURL(origin + '/');
    await reset(origin);
  });
  afterEach(() => cleanup());

  for (const mode of ['runes', 'classic', 'fromStore'] as const) {
    it(`${mode}: fetches a context once and renders loading, then its data`, async () => {
      const l = live(origin);
      render(App, { props: { client: l.client, ids: [1], mode } });
      expect(text('user-1')).toBe('loading');
      await waitFor(() => expect(text('user-1')).toBe('user Ada'));
      expect(l.reads()).toEqual(['GET ctx/user/?user_id=1']);
    });

    it(`${mode}: a prop that changes reads the new instance, from the same client, and releases the old one`, async () => {
      const l = live(origin);
      const r = render(App, { props: { client: l.client, one: 1, mode } });
      await waitFor(() => expect(screen.getByTestId('one').textContent?.trim()).toBe('user Ada'));
      await r.rerender({ client: l.client, one: 2, mode });
      await waitFor(() => expect(screen.getByTestId('one').textContent?.trim()).toBe('user Grace'));
      // The store was re-made in the component (not a new component), and
      // still found the client of setMizanClient.
      expect(l.reads()).toEqual(['GET ctx/user/?user_id=1', 'GET ctx/user/?user_id=2']);
      await tick();
      expect(l.watched).toEqual(['+user?user_id=1', '+user?user_id=2', '-user?user_id=1']);
    });

    it(`${mode}: renders a failed fetch's MizanError`, async () => {
      const l = live(origin);
      render(App, { props: { client: l.client, ids: [99], mode } });
      await waitFor(() => expect(text('user-99')).toBe('error not_found'));
    });
  }

  it('after a mutation refetches exactly the instance it hit, and renders the new data', async () => {
    const l = live(origin);
    render(App, { props: { client: l.client, ids: [1, 2], rename: { id: 1, name: 'Ryth' } } });
    await waitFor(() => expect([text('user-1'), text('user-2')]).toEqual(['user Ada', 'user Grace']));
    expect(l.reads()).toEqual(['GET ctx/user/?user_id=1', 'GET ctx/user/?user_id=2']);
    l.clear();
    await fireEvent.click(screen.getByText('rename'));
    expect(text('state')).toBe('pending');
    await waitFor(() => expect(text('user-1')).toBe('user Ryth'));
    expect(text('state')).toBe('idle');
    expect(text('user-2')).toBe('user Grace');
    // session/ once for the CSRF token, the call, then user 1 only.
    expect(l.sent).toEqual(['GET session/', 'POST call/ update_profile', 'GET ctx/user/?user_id=1']);
  });

  it("shows a mutation's error, with its fields, in the store until reset", async () => {
    const l = live(origin);
    render(App, { props: { client: l.client, ids: [1], rename: { id: 'x', name: 'Ryth' } } });
    await waitFor(() => expect(text('user-1')).toBe('user Ada'));
    l.clear();
    await fireEvent.click(screen.getByText('rename'));
    await waitFor(() => expect(text('error')).toBe('invalid_args {"user_id":"must be an integer"}'));
    expect(text('state')).toBe('idle');
    expect(l.reads()).toEqual([]); // nothing was invalidated
    await fireEvent.click(screen.getByText('reset'));
    expect(text('error')).toBe('');
  });

  it('renders hydrated data (initialData) without a fetch, and refetches it when invalidated', async () => {
    const bundle: UserBundle = { user_profile: { id: 1, name: 'Hydrated', email: 'h@example.com' }, user_orders: [] };
    const l = live(origin, { initialData: { [instanceKey('user', { user_id: 1 })]: bundle } });
    render(App, { props: { client: l.client, ids: [1] } });
    expect(text('user-1')).toBe('user Hydrated');
    await tick();
    await tick();
    expect(l.sent).toEqual([]);
    await l.client.call('update_profile', { user_id: 1, name: 'Ada' });
    await waitFor(() => expect(text('user-1')).toBe('user Ada'));
    expect(l.reads()).toEqual(['GET ctx/user/?user_id=1']);
  });

  it('unmounting releases the subscription: the kernel unwatches, an invalidation then fetches nothing', async () => {
    const l = live(origin);
    const r = render(App, { props: { client: l.client, ids: [1] } });
    await waitFor(() => expect(text('user-1')).toBe('user Ada'));
    expect(l.watched).toEqual(['+user?user_id=1']);
    r.unmount();
    await tick();
    expect(l.watched).toEqual(['+user?user_id=1', '-user?user_id=1']);
    l.clear();
    l.client.invalidate([{ context: 'user', params: { user_id: 1 } }]);
    await tick();
    expect(l.sent).toEqual([]);
  });

  it('unmounting during the first fetch aborts it', async () => {
    const l = live(origin);
    const r = render(App, { props: { client: l.client, ids: [1] } });
    expect(l.reads()).toEqual(['GET ctx/user/?user_id=1']);
    r.unmount();
    await tick();
    const inst = l.client.instance<UserBundle>('user', { user_id: 1 });
    // Without data, the instance is back to never fetched.
    expect(inst.getSnapshot().status).toBe('idle');
    expect(l.watched).toEqual(['+user?user_id=1', '-user?user_id=1']);
  });

  it('mountContext keeps global mounted for the root component’s lifetime', async () => {
    const l = live(origin, { user: '2' });
    const r = render(App, { props: { client: l.client, mountGlobal: true } });
    await waitFor(() => expect(text('me')).toBe('me 2'));
    expect(l.watched).toEqual(['+global']);
    r.unmount();
    await tick();
    expect(l.watched).toEqual(['+global', '-global']);
  });
});

describe.skipIf(!origin)('the stores outside components', () => {
  beforeEach(async () => {
    (globalThis as unknown as { happyDOM: { setURL(url: string): void } }).happyDOM.setURL(origin + '/');
    await reset(origin);
  });

  it('getMizanClient outside a component is the default client', () => {
    const c = configure({ retry: { attempts: 0 } });
    expect(getMizanClient()).toBe(c);
    expect(getClient()).toBe(c);
  });

  it('contextFunction changes only when its function does; refetch resolves when settled', async () => {
    const l = live(origin);
    const orders = contextFunction<UserBundle, 'user_orders'>('user', { user_id: 1 }, 'user_orders', l.client);
    const whole = contextQuery<UserBundle>('user', { user_id: 1 }, l.client);
    const seen: unknown[] = [];
    const wholeSeen: unknown[] = [];
    const off = orders.subscribe((s) => seen.push(s.data));
    const offWhole = whole.subscribe((s) => wholeSeen.push(s.data));
    await whole.refetch();
    expect(get(orders).data).toHaveLength(2);
    const before = seen.length;
    const first = get(orders).data;
    // update_name affects the function user_profile only: user_orders keeps its identity.
    await l.client.call('update_name', { user_id: 1, name: 'Ryth' });
    await whole.refetch();
    expect(get(whole).data?.user_profile.name).toBe('Ryth');
    expect(get(orders).data).toBe(first);
    expect(seen.length).toBe(before);
    expect(wholeSeen.length).toBeGreaterThan(2);
    off();
    offWhole();
  });

  it('a mutation store: mutate resolves with the result; a failure rejects with the MizanError it holds', async () => {
    const l = live(origin);
    const m = mutation<{ user_id: number | string; name: string }, { ok: boolean }>('update_profile', l.client);
    const states: string[] = [];
    const off = m.subscribe((s) => states.push(`${s.isPending} ${s.error?.code ?? '-'}`));
    await expect(m.mutate({ user_id: 1, name: 'Ryth' })).resolves.toEqual({ ok: true });
    const e: unknown = await m.mutate({ user_id: 'x', name: '' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MizanError);
    expect(get(m).error).toBe(e);
    expect(get(m).error?.fields).toEqual({ user_id: 'must be an integer' });
    m.reset();
    expect(get(m).error).toBeUndefined();
    expect(states).toEqual(['false -', 'true -', 'false -', 'true -', 'false invalid_args', 'false -']);
    off();
  });
});
