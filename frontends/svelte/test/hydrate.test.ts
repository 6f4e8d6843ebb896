// Server render, then hydration in the browser runtime: the page's HTML is
// rendered by svelte/server from components compiled for the server (by a
// Vite dev server's ssrLoadModule, beside this happy-dom test), embedded
// with its data as the Go ssr package would, and hydrated with svelte's
// hydrate() from a client made of readInitialData(): no request, and the
// server's DOM is kept.
import { instanceKey, readInitialData } from '@mizan/base';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { flushSync, hydrate, unmount } from 'svelte';
import { join } from 'node:path';
import { createServer, type ViteDevServer } from 'vite';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import type { MizanClient } from '@mizan/base';
import App from './App.svelte';
import { live, reset, type UserBundle } from './live.js';

const origin = inject('fixtureUrl');
const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

type Render = (c: unknown, o: { props: Record<string, unknown> }) => { body: string };

describe.skipIf(!origin)('server render, then hydrate', () => {
  let vite: ViteDevServer;
  let serverRender: Render;
  let ServerApp: unknown;

  beforeAll(async () => {
    vite = await createServer({
      configFile: false,
      root: join(__dirname, '..'),
      plugins: [svelte()],
      server: { middlewareMode: true, hmr: false, ws: false },
      appType: 'custom',
      logLevel: 'error',
    });
    serverRender = ((await vite.ssrLoadModule('svelte/server')) as { render: Render }).render;
    ServerApp = ((await vite.ssrLoadModule('/test/App.svelte')) as { default: unknown }).default;
  });
  afterAll(() => vite?.close());
  beforeEach(async () => {
    (globalThis as unknown as { happyDOM: { setURL(url: string): void } }).happyDOM.setURL(origin + '/');
    await reset(origin);
  });

  it('hydrates the server markup from the embedded data without a fetch', async () => {
    // The server: a client per request, from the bundles it fetched.
    const server = live(origin);
    const bundle = await server.client.fetchContext<UserBundle>('user', { user_id: 1 });
    const initialData = { [instanceKey('user', { user_id: 1 })]: bundle };
    const rendering = live(origin, { initialData });
    const { body } = serverRender(ServerApp, {
      props: { client: rendering.client, ids: [1], mode: 'classic', one: 1 },
    });
    expect(body).toContain('user Ada');
    await tick();
    expect(rendering.sent).toEqual([]);
    // This process has a document (happy-dom), so the server copy of the
    // stores subscribed like a browser: the render's end (readable's stop)
    // unsubscribed them all.
    expect(rendering.watched).toEqual(['+user?user_id=1', '-user?user_id=1']);
    const json = JSON.stringify(initialData).replace(/</g, '\\u003c');
    document.body.innerHTML = `<div id="app">${body}</div><script type="application/json" id="mizan-data">${json}</script>`;
    const target = document.getElementById('app')!;
    const p = target.querySelector('[data-testid="user-1"]');

    // The browser.
    const browser = live(origin, { initialData: readInitialData() });
    const errors: unknown[] = [];
    const warn = console.warn;
    console.warn = (...a: unknown[]) => errors.push(a);
    let app: ReturnType<typeof hydrate>;
    try {
      app = hydrate(App, { target, props: { client: browser.client as MizanClient, ids: [1], mode: 'classic', one: 1 } });
      flushSync();
    } finally {
      console.warn = warn;
    }
    expect(errors).toEqual([]); // no hydration_mismatch
    expect(target.querySelector('[data-testid="user-1"]')).toBe(p); // the server's node, kept
    expect(target.querySelector('[data-testid="one"]')?.textContent?.trim()).toBe('user Ada');
    await tick();
    expect(browser.sent).toEqual([]);
    expect(browser.watched).toEqual(['+user?user_id=1']); // subscribed in the browser

    // And it is live: a mutation refetches it.
    await browser.client.call('update_profile', { user_id: 1, name: 'Ryth' });
    await tick();
    await tick();
    flushSync();
    expect(target.querySelector('[data-testid="user-1"]')?.textContent?.trim()).toBe('user Ryth');
    expect(browser.reads()).toEqual(['GET ctx/user/?user_id=1']);
    unmount(app);
  });
});
