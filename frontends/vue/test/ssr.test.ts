// @vitest-environment node
// Server rendering (vue/server-renderer) in Node, where there is no
// document: the composables and the plugin read snapshots (the client's
// initialData) and subscribe to nothing, so no request is made, against
// the live fixture.
import { instanceKey } from '@mizan/base';
import { describe, expect, it } from 'vitest';
import { createSSRApp, defineComponent, h } from 'vue';
import { renderToString } from 'vue/server-renderer';
import { createMizan, useContextFunction, useContextQuery, useMutation } from '../src/index.js';
import { live, ms, origin, resetFixture, type UserBundle } from './live.js';

const Page = defineComponent({
  props: { id: { type: Number, required: true } },
  setup(props) {
    const user = useContextQuery<UserBundle>('user', () => ({ user_id: props.id }));
    const orders = useContextFunction<UserBundle, 'user_orders'>('user', { user_id: props.id }, 'user_orders');
    const save = useMutation<{ user_id: number; name: string }, { ok: boolean }>('update_profile');
    return () =>
      h('main', { 'data-status': user.status.value }, [
        h('h1', user.isLoading.value ? 'Loading…' : (user.data.value?.user_profile.name ?? '')),
        h('p', `${orders.data.value?.length ?? 0} orders`),
        h('button', { disabled: save.isPending.value }, 'Save'),
      ]);
  },
});

describe.skipIf(!origin)('SSR: renderToString', () => {
  it('has no document here', () => {
    expect(typeof document).toBe('undefined');
  });

  it('renders hydrated data from initialData, with no request and no subscription', async () => {
    await resetFixture();
    const bundle = await live().client.fetchContext<UserBundle>('user', { user_id: 1 });
    const { client, sent, watches } = live({ watch: true, initialData: { [instanceKey('user', { user_id: 1 })]: bundle } });
    // Default options: the plugin would observe global in a browser.
    const app = createSSRApp(Page, { id: 1 }).use(createMizan({ client }));
    const html = await renderToString(app);
    expect(html).toBe('<main data-status="success"><h1>Ada</h1><p>2 orders</p><button>Save</button></main>');
    await ms(30);
    expect(sent).toEqual([]);
    expect(watches).toEqual([]);
    expect(client.instance('global').getSnapshot().status).toBe('idle');
  });

  it('renders the loading state for an instance without initialData, still fetching nothing', async () => {
    const { client, sent, watches } = live({ watch: true });
    const html = await renderToString(createSSRApp(Page, { id: 2 }).use(createMizan({ client })));
    expect(html).toBe('<main data-status="idle"><h1>Loading…</h1><p>0 orders</p><button>Save</button></main>');
    await ms(30);
    expect(sent).toEqual([]);
    expect(watches).toEqual([]);
    expect(client.instance('user', { user_id: 2 }).getSnapshot().status).toBe('idle');
  });
});
