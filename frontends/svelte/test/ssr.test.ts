// @vitest-environment node
//
// Server-side rendering with svelte/server: the components are compiled
// for the server here (the node environment), and the stores read the
// client's initialData without subscribing to the kernel, so a render
// sends no request and leaves no subscription.
import { instanceKey } from '@mizan/base';
import { render } from 'svelte/server';
import { beforeEach, describe, expect, inject, it } from 'vitest';
import App from './App.svelte';
import { live, reset, type UserBundle } from './live.js';

const origin = inject('fixtureUrl');
const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

describe.skipIf(!origin)('SSR (svelte/server render)', () => {
  beforeEach(() => reset(origin));

  it('renders initialData with no request and no subscription left', async () => {
    const bundle: UserBundle = { user_profile: { id: 1, name: 'Hydrated', email: 'h@example.com' }, user_orders: [] };
    const l = live(origin, { initialData: { [instanceKey('user', { user_id: 1 })]: bundle } });
    const { body } = render(App, {
      props: { client: l.client, ids: [1], mountGlobal: true, rename: { id: 1, name: 'x' } },
    });
    expect(body).toContain('user Hydrated');
    expect(body).toContain('me?'); // global is not in initialData: not fetched on the server
    await tick();
    expect(l.sent).toEqual([]);
    expect(l.watched).toEqual([]);
    // Nothing watches the instance: an invalidation marks it stale and fetches nothing.
    l.client.invalidate([{ context: 'user', params: { user_id: 1 } }]);
    await tick();
    expect(l.sent).toEqual([]);
    expect(l.client.instance('user', { user_id: 1 }).getSnapshot().stale).toBe(true);
  });

  it('renders loading for an instance without initialData, fetching nothing, in every mode', async () => {
    for (const mode of ['runes', 'classic', 'fromStore'] as const) {
      const l = live(origin);
      const { body } = render(App, { props: { client: l.client, ids: [2], mode } });
      // Without svelte's hydration markers.
      expect(body.replace(/<!--.*?-->/g, '')).toMatch(/<p data-testid="user-2">\s*loading\s*<\/p>/);
      await tick();
      expect(l.sent).toEqual([]);
      expect(l.client.instance('user', { user_id: 2 }).getSnapshot().status).toBe('idle');
    }
  });
});
