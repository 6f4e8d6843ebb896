// The plugin and the composables in happy-dom, mounted with @vue/test-utils,
// against the live Go fixture (docs/spec.md §7) over the real httpTransport.
// Without Go these tests fail when CI=true (fixture-server.ts) and are
// skipped elsewhere.
import { MizanClient, MizanError, getClient, instanceKey, readInitialData } from '@mizan/base';
import { flushPromises, mount } from '@vue/test-utils';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createApp, createSSRApp, defineComponent, effectScope, h, reactive, ref, toValue, type Component, type PropType } from 'vue';
import {
  createMizan,
  useContextFunction,
  useContextQuery,
  useMizan,
  useMutation,
  type MizanOptions,
  type ParamsSource,
} from '../src/index.js';
import { live, ms, origin, resetFixture, skipReason, type Profile, type UserBundle } from './live.js';

if (!origin) console.warn(`live tests skipped: ${skipReason}`);

/** How many times User rendered, per instance key of its params. */
const renders: Record<string, number> = {};

/** User shows the profile name of user_id (params a plain object, a ref or a getter), counting its renders. */
const User = defineComponent({
  props: { params: { type: [Object, Function] as PropType<ParamsSource>, required: true } },
  setup(props) {
    const { data, status, error, isLoading } = useContextQuery<UserBundle>('user', props.params);
    return () => {
      const key = instanceKey('user', toValue(props.params));
      renders[key] = (renders[key] ?? 0) + 1;
      return h('p', { 'data-status': status.value }, [
        isLoading.value ? 'loading' : error.value ? `error ${error.value.code}` : (data.value?.user_profile.name ?? ''),
      ]);
    };
  },
});

/** Rename calls update_profile with the args it is given, showing isPending and the error. */
const Rename = defineComponent({
  props: { args: { type: Object as PropType<Record<string, unknown>>, required: true } },
  setup(props, { expose }) {
    const m = useMutation<Record<string, unknown>, { ok: boolean }>('update_profile');
    expose(m);
    return () =>
      h('div', [
        h('button', { onClick: () => m.mutate(props.args).catch(() => {}) }, 'rename'),
        h('span', { class: 'pending' }, String(m.isPending.value)),
        h('span', { class: 'error' }, m.error.value ? JSON.stringify(m.error.value.fields ?? {}) : ''),
      ]);
  },
});

/** mountWith mounts component with the plugin over client (global: false unless told). */
function mountWith<P extends Record<string, unknown>>(
  component: Component,
  client: MizanClient,
  props: P,
  opts: Omit<MizanOptions, 'client'> = { global: false },
) {
  return mount(component, { props, global: { plugins: [createMizan({ client, ...opts })] } });
}

afterEach(() => {
  for (const k of Object.keys(renders)) delete renders[k];
  document.body.innerHTML = '';
  document.getElementById('mizan-data')?.remove();
});

describe.skipIf(!origin)('live: @mizan/vue against the Go fixture', () => {
  beforeEach(resetFixture);

  it('fetches a context into the refs and renders it', async () => {
    const { client, reads } = live();
    const w = mountWith(User, client, { params: { user_id: 1 } });
    expect(w.text()).toBe('loading');
    expect(w.find('p').attributes('data-status')).toBe('loading');
    await vi.waitFor(() => expect(w.text()).toBe('Ada'));
    expect(w.find('p').attributes('data-status')).toBe('success');
    expect(reads()).toEqual(['ctx/user/?user_id=1']);
    expect(client.instance('user', { user_id: 1 }).getSnapshot().data).toMatchObject({
      user_profile: { id: 1, name: 'Ada', email: 'ada@example.com' },
    });
    w.unmount();
  });

  it('shows a context error in error (not_found for an unknown user)', async () => {
    const { client } = live();
    const w = mountWith(User, client, { params: { user_id: 99 } });
    await vi.waitFor(() => expect(w.text()).toBe('error not_found'));
    expect(w.find('p').attributes('data-status')).toBe('error');
    w.unmount();
  });

  it('a mutation through useMutation refetches exactly the instance it targets', async () => {
    const { client, sent, reads, clear } = live();
    const Both = defineComponent(() => () =>
      h('div', [
        h(User, { params: { user_id: 1 }, class: 'u1' }),
        h(User, { params: { user_id: 2 }, class: 'u2' }),
        h(Rename, { args: { user_id: 2, name: 'Grace H.' } }),
      ]),
    );
    const w = mountWith(Both, client, {});
    await vi.waitFor(() => expect(w.find('.u2').text()).toBe('Grace'));
    await vi.waitFor(() => expect(w.find('.u1').text()).toBe('Ada'));
    const u1Renders = renders['user?user_id=1'];
    expect(u1Renders).toBeGreaterThan(0);
    const u1Before = client.instance('user', { user_id: 1 }).getSnapshot();
    clear();
    await w.find('button').trigger('click');
    await vi.waitFor(() => expect(w.find('.u2').text()).toBe('Grace H.'));
    await ms(30);
    expect(sent).toEqual(['GET session/', 'POST call/ update_profile', 'GET ctx/user/?user_id=2']);
    expect(reads()).toEqual(['ctx/user/?user_id=2']);
    expect(w.find('.u1').text()).toBe('Ada');
    expect(client.instance('user', { user_id: 1 }).getSnapshot()).toBe(u1Before);
    expect(renders['user?user_id=1']).toBe(u1Renders); // the other instance's component did not re-render
    w.unmount();
  });

  it("an error with fields (invalid args) is in useMutation's error, isPending while in flight, reset clears it", async () => {
    const { client } = live();
    const w = mountWith(Rename, client, { args: { user_id: 'x' } });
    expect(w.find('.pending').text()).toBe('false');
    await w.find('button').trigger('click');
    expect(w.find('.pending').text()).toBe('true');
    await vi.waitFor(() => expect(w.find('.pending').text()).toBe('false'));
    expect(JSON.parse(w.find('.error').text())).toStrictEqual({ name: 'required', user_id: 'must be an integer' });
    const m = w.vm as unknown as { error: MizanError | undefined; reset: () => void; mutate: (a: unknown) => Promise<unknown> };
    expect(m.error).toBeInstanceOf(MizanError);
    expect(m.error).toMatchObject({ code: 'invalid_args', status: 400 });
    // mutate rejects with the same error.
    const e = await m.mutate({ user_id: 1 }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'invalid_args', fields: { name: 'required' } });
    m.reset();
    await flushPromises();
    expect(w.find('.error').text()).toBe('');
    w.unmount();
  });

  it('hydrates from initialData without a request, then refetches once a mutation hits it', async () => {
    const server = live();
    const bundle = await server.client.fetchContext<UserBundle>('user', { user_id: 3 });
    const { client, reads, sent } = live({ initialData: { [instanceKey('user', { user_id: 3 })]: bundle } });
    const w = mountWith(User, client, { params: { user_id: 3 } });
    // The first render has the data: nothing was awaited.
    expect(w.text()).toBe('Lin');
    expect(w.find('p').attributes('data-status')).toBe('success');
    await ms(30);
    expect(sent).toEqual([]);
    await client.call('update_profile', { user_id: 3, name: 'Lin W.' });
    await vi.waitFor(() => expect(w.text()).toBe('Lin W.'));
    expect(reads()).toEqual(['ctx/user/?user_id=3']);
    w.unmount();
  });

  it('hydrates a server-rendered page (createSSRApp, readInitialData) without a request or a mismatch', async () => {
    const bundle = await live().client.fetchContext<UserBundle>('user', { user_id: 1 });
    const script = document.createElement('script');
    script.type = 'application/json';
    script.id = 'mizan-data';
    script.textContent = JSON.stringify({ [instanceKey('user', { user_id: 1 })]: bundle });
    document.head.append(script);
    const root = document.createElement('div');
    root.innerHTML = '<p data-status="success">Ada</p>';
    document.body.append(root);
    const { client, sent, watches } = live({ initialData: readInitialData(), watch: true });
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    const app = createSSRApp(User, { params: { user_id: 1 } }).use(createMizan({ client, global: false }));
    app.mount(root);
    await ms(30);
    const logged = [...warn.mock.calls, ...error.mock.calls].map((c) => c.map(String).join(' '));
    warn.mockRestore();
    error.mockRestore();
    expect(logged.filter((l) => /hydrat|mismatch/i.test(l))).toEqual([]);
    expect(root.innerHTML).toBe('<p data-status="success">Ada</p>');
    expect(sent).toEqual([]);
    expect(watches).toEqual(['on user?user_id=1']); // subscribed in the browser, not fetched
    app.unmount();
    await ms(0);
    expect(watches).toEqual(['on user?user_id=1', 'off user?user_id=1']);
  });

  it('unmount releases the subscription: no observer is left, and a mutation refetches nothing', async () => {
    const { client, reads, watches, clear } = live({ watch: true });
    const w = mountWith(User, client, { params: { user_id: 1 } });
    await vi.waitFor(() => expect(w.text()).toBe('Ada'));
    expect(watches).toEqual(['on user?user_id=1']);
    w.unmount();
    await ms(0); // the kernel lets go of an instance one microtask after its last unsubscribe
    expect(watches).toEqual(['on user?user_id=1', 'off user?user_id=1']);
    clear();
    await client.call('update_profile', { user_id: 1, name: 'Ada L.' });
    await ms(50);
    expect(reads()).toEqual([]);
    expect(client.instance('user', { user_id: 1 }).getSnapshot()).toMatchObject({ stale: true, data: { user_profile: { name: 'Ada' } } });
    // Mounted again, the stale instance is fetched.
    const again = mountWith(User, client, { params: { user_id: 1 } });
    expect(again.text()).toBe('Ada');
    await vi.waitFor(() => expect(again.text()).toBe('Ada L.'));
    expect(reads()).toEqual(['ctx/user/?user_id=1']);
    again.unmount();
  });

  it('follows params given as a ref, a getter or a reactive object, releasing the old instance', async () => {
    const { client, reads, watches, clear } = live({ watch: true });
    const id = ref(1);
    const state = reactive({ user_id: 1 });
    const Three = defineComponent(() => () =>
      h('div', [
        h(User, { class: 'ref', params: (() => ({ user_id: id.value })) satisfies ParamsSource }),
        h(User, { class: 'reactive', params: state }),
      ]),
    );
    const w = mountWith(Three, client, {});
    await vi.waitFor(() => expect(w.find('.ref').text()).toBe('Ada'));
    await vi.waitFor(() => expect(w.find('.reactive').text()).toBe('Ada'));
    expect(reads()).toEqual(['ctx/user/?user_id=1']); // one instance, one fetch
    clear();
    id.value = 2;
    await vi.waitFor(() => expect(w.find('.ref').text()).toBe('Grace'));
    expect(w.find('.reactive').text()).toBe('Ada');
    expect(watches).toEqual(['on user?user_id=2']); // user 1 is still watched by .reactive
    state.user_id = 3;
    await vi.waitFor(() => expect(w.find('.reactive').text()).toBe('Lin'));
    await ms(0);
    expect(watches).toEqual(['on user?user_id=2', 'on user?user_id=3', 'off user?user_id=1']);
    expect(reads()).toEqual(['ctx/user/?user_id=2', 'ctx/user/?user_id=3']);
    // A ref of params.
    clear();
    const p = ref({ user_id: 2 });
    const r = mountWith(
      defineComponent(() => () => h(User, { params: p })),
      client,
      {},
    );
    expect(r.text()).toBe('Grace'); // the instance of user 2 has data already
    p.value = { user_id: 1 };
    await vi.waitFor(() => expect(r.text()).toBe('Ada'));
    w.unmount();
    r.unmount();
  });

  it('useContextFunction: one function of the bundle; refetch fetches it again', async () => {
    const { client, reads, clear } = live();
    let profile: ReturnType<typeof useContextFunction<UserBundle, 'user_profile'>> | undefined;
    const Name = defineComponent(() => {
      profile = useContextFunction<UserBundle, 'user_profile'>('user', { user_id: 2 }, 'user_profile');
      return () => h('b', profile!.data.value?.email ?? '');
    });
    const w = mountWith(Name, client, {});
    await vi.waitFor(() => expect(w.text()).toBe('grace@example.com'));
    const p: Profile | undefined = profile!.data.value;
    expect(p).toStrictEqual({ id: 2, name: 'Grace', email: 'grace@example.com' });
    clear();
    await profile!.refetch();
    expect(reads()).toEqual(['ctx/user/?user_id=2']);
    // Unchanged data keeps its identity (structural sharing): the ref did not change.
    expect(profile!.data.value).toBe(p);
    w.unmount();
  });

  it('the plugin provides its client and keeps global observed until app.unmount', async () => {
    const { client, reads, watches } = live({ user: '2', watch: true });
    let got: MizanClient | undefined;
    const Empty = defineComponent(() => {
      got = useMizan();
      return () => h('i', 'empty');
    });
    const w = mountWith(Empty, client, {}, {}); // default options: global observed
    expect(got).toBe(client);
    await vi.waitFor(() => expect(client.instance('global').getSnapshot().status).toBe('success'));
    expect(client.instance('global').getSnapshot().data).toStrictEqual({ current_user: { id: 2 } });
    expect(reads()).toEqual(['ctx/global/']);
    expect(watches).toEqual(['on global']);
    // A component reading global shares the instance: no second fetch.
    const Who = defineComponent(() => {
      const g = useContextQuery<{ current_user: { id: number } | null }>('global');
      return () => h('i', String(g.data.value?.current_user?.id ?? ''));
    });
    const who = mountWith(Who, client, {}, {});
    expect(who.text()).toBe('2');
    who.unmount();
    await ms(0);
    expect(watches).toEqual(['on global']); // still observed by the first app's plugin
    w.unmount();
    await ms(0);
    expect(watches).toEqual(['on global', 'off global']);
    expect(reads()).toEqual(['ctx/global/']);
    // global: false leaves it alone.
    const other = live({ watch: true });
    const o = mountWith(Empty, other.client, {}, { global: false });
    await ms(30);
    expect(other.sent).toEqual([]);
    expect(other.watches).toEqual([]);
    o.unmount();
  });

  it('useMizan without the plugin, and the composables in a plain effectScope, use the default client', async () => {
    const scope = effectScope();
    const c = scope.run(() => useMizan());
    expect(c).toBe(getClient());
    const mine = live();
    const plugin = createMizan({ client: mine.client, global: false });
    expect(plugin.client).toBe(mine.client);
    // In an effectScope (a store), inside app.runWithContext: the app's client, released with the scope.
    const app = createApp(defineComponent(() => () => null)).use(plugin);
    const q = app.runWithContext(() => scope.run(() => useContextQuery<UserBundle>('user', { user_id: 1 })))!;
    await vi.waitFor(() => expect(q.data.value?.user_profile.name).toBe('Ada'));
    expect(mine.reads()).toEqual(['ctx/user/?user_id=1']);
    scope.stop();
    mine.clear();
    await mine.client.call('update_profile', { user_id: 1, name: 'Ada Q.' });
    await ms(50);
    expect(mine.reads()).toEqual([]);
  });
});
