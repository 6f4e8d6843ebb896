// @vitest-environment happy-dom
import { afterEach, describe, expect, it } from 'vitest';
import { MizanClient, instanceKey, readInitialData } from '../src/index.js';
import { FakeTransport, tick } from './fake.js';

// The scripts as the Go package ssr writes them: <, > and & escaped as
// \u003c, \u003e and \u0026, so that no value can end the script element.
const page = `
<div id="root"><main>…</main></div>
<script type="application/json" id="mizan-data">{"user?user_id=1":{"user_profile":{"name":"\\u003c/script\\u003e\\u003c!-- Ada \\u0026 co \\u2028"}}}</script>
<script type="application/json" id="mizan-props">{"params":{"user_id":"1"}}</script>`;

afterEach(() => {
  document.body.innerHTML = '';
});

describe('readInitialData', () => {
  it('reads the bundles a server-rendered page embeds, unescaped', () => {
    document.body.innerHTML = page;
    expect(readInitialData()).toStrictEqual({
      'user?user_id=1': { user_profile: { name: '</script><!-- Ada & co \u2028' } },
    });
    expect(readInitialData('mizan-props')).toStrictEqual({ params: { user_id: '1' } });
  });

  it('returns {} when the page embeds nothing', () => {
    expect(readInitialData()).toStrictEqual({});
    expect(readInitialData('nope')).toStrictEqual({});
  });

  it('starts the client from it without fetching', async () => {
    document.body.innerHTML = page;
    const transport = new FakeTransport(() => ({ user_profile: { name: 'fetched' } }));
    const client = new MizanClient({ transport, initialData: readInitialData() });
    const inst = client.instance<{ user_profile: { name: string } }>('user', { user_id: 1 });
    expect(instanceKey('user', { user_id: 1 })).toBe('user?user_id=1');
    const unsubscribe = inst.subscribe(() => {});
    await tick();
    expect(transport.fetches).toHaveLength(0);
    expect(inst.getSnapshot()).toMatchObject({ status: 'success', data: { user_profile: { name: '</script><!-- Ada & co \u2028' } } });
    unsubscribe();
  });

  it('throws on malformed JSON rather than starting from nothing', () => {
    document.body.innerHTML = '<script type="application/json" id="mizan-data">{oops</script>';
    expect(() => readInitialData()).toThrow();
  });
});
