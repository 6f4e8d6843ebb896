// Live tests of wsTransport against the Go fixture (docs/spec.md §9),
// served by test/fixture-server.ts: two clients, each with its own
// WebSocket, see each other's changes without asking; a client's own call
// is not pushed back to it; socket calls, listed by hand and registered
// as a generated client registers them; and recovery after the socket
// drops. Without Go they fail when CI=true and are skipped elsewhere.
import { readFileSync } from 'node:fs';
import { beforeEach, describe, expect, inject, it } from 'vitest';
import { MizanClient, settled, type ContextInstance } from '../src/index.js';
import { registerSocketCalls, wsTransport, type SocketLike, type WsTransport, type WsTransportOptions } from '../src/ws.js';

const origin = inject('fixtureUrl');

interface UserBundle {
  user_profile: { id: number; name: string; email: string };
}

interface TasksBundle {
  task_list: { id: number; state: string }[];
}

/**
 * generatedSocketCalls returns the list the ts target wrote for the
 * fixture's IR (codegen/testdata/fixture/ts/client.ts), which that
 * client.ts registers when it loads.
 */
function generatedSocketCalls(): string[] {
  const src = readFileSync(new URL('../../../codegen/testdata/fixture/ts/client.ts', import.meta.url), 'utf8');
  const list = /export const socketCalls: readonly string\[\] = \[([^\]]*)\];\nregisterSocketCalls\(socketCalls\);/.exec(src)?.[1];
  if (list === undefined) throw new Error('no socketCalls in the generated client.ts');
  return list.split(', ').map((s) => s.slice(1, -1));
}

/** until waits for cond, polling; the bound is a safety net, not an assertion about speed. */
async function until(what: string, cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('gave up waiting: ' + what);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** live returns a client over a wsTransport to the fixture, counting its context fetches and HTTP calls. */
function live(o: WsTransportOptions = {}) {
  const reads: string[] = [];
  const httpCalls: string[] = [];
  const sockets: SocketLike[] = [];
  const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const path = String(input).slice((origin + '/api/mizan/').length);
    if (path.startsWith('ctx/')) reads.push(path);
    if (path === 'call/') httpCalls.push(JSON.parse(String(init?.body)).fn as string);
    return globalThis.fetch(input, init);
  }) as typeof globalThis.fetch;
  const Native = globalThis.WebSocket as unknown as new (url: string) => SocketLike;
  const transport: WsTransport = wsTransport({
    baseUrl: origin,
    fetch,
    reconnect: { min: 20, max: 200 },
    WebSocket: class {
      constructor(url: string) {
        const s = new Native(url);
        sockets.push(s);
        return s;
      }
    } as unknown as new (url: string) => SocketLike,
    ...o,
  });
  const client = new MizanClient({ transport, retry: { attempts: 0 } });
  return { client, transport, reads, httpCalls, sockets };
}

async function watch<T>(inst: ContextInstance<T>): Promise<void> {
  inst.subscribe(() => {});
  await settled(inst as ContextInstance<unknown>);
}

describe.skipIf(!origin)('live: wsTransport against the Go fixture', () => {
  beforeEach(async () => {
    const res = await fetch(origin + '/api/mizan/call/', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"fn":"reset_all"}',
    });
    expect(res.status).toBe(200);
  });

  it("shows one client's change in another without a request of its own", async () => {
    const a = live();
    const b = live();
    const ia = a.client.instance<UserBundle>('user', { user_id: 1 });
    const ib = b.client.instance<UserBundle>('user', { user_id: 1 });
    const other = b.client.instance<UserBundle>('user', { user_id: 2 });
    await Promise.all([watch(ia), watch(ib), watch(other)]);
    await until('both sockets open', () => a.transport.state === 'open' && b.transport.state === 'open');
    a.reads.length = 0;
    b.reads.length = 0;

    await a.client.call('update_profile', { user_id: 1, name: 'Ada Lovelace' });
    await until("b's instance refetched", () => ib.getSnapshot().data?.user_profile.name === 'Ada Lovelace');
    // a refetched once, from its call's response: the push of its own call
    // was not sent back to it. b refetched user 1 alone.
    expect(a.reads).toEqual(['ctx/user/?user_id=1']);
    expect(b.reads).toEqual(['ctx/user/?user_id=1']);
    expect(other.getSnapshot().stale).toBe(false);
    a.transport.close();
    b.transport.close();
  });

  it('calls a function registered with websocket over the socket', async () => {
    const a = live({ socketCalls: ['update_profile'] });
    const b = live();
    const ib = b.client.instance<UserBundle>('user', { user_id: 2 });
    await watch(ib);
    await until('sockets open', () => a.transport.state === 'open' && b.transport.state === 'open');
    const res = await a.client.call('update_profile', { user_id: 2, name: 'Grace Hopper' });
    expect(res).toStrictEqual({ result: { ok: true }, invalidate: [{ context: 'user', params: { user_id: 2 } }] });
    expect(a.httpCalls).toEqual([]);
    await until("b's instance refetched", () => ib.getSnapshot().data?.user_profile.name === 'Grace Hopper');
    // Errors keep the envelope's code and fields.
    await expect(a.client.call('update_profile', { user_id: 2 })).rejects.toMatchObject({
      code: 'invalid_args',
      fields: { name: 'required' },
    });
    a.transport.close();
    b.transport.close();
  });

  it('reconnects after the socket drops, subscribes again and refetches what it watches', async () => {
    const a = live();
    const b = live();
    const ib = b.client.instance<UserBundle>('user', { user_id: 3 });
    await watch(ib);
    await until('socket open', () => b.transport.state === 'open');
    b.reads.length = 0;
    b.sockets[0]!.close();
    await until('a second socket, open', () => b.sockets.length === 2 && b.transport.state === 'open');
    // Invalidations sent while it was away are lost: it refetched.
    await until('the refetch', () => b.reads.length === 1);
    expect(b.reads).toEqual(['ctx/user/?user_id=3']);
    // And it is subscribed again.
    await a.client.call('update_profile', { user_id: 3, name: 'Lin W.' });
    await until("b's instance refetched", () => ib.getSnapshot().data?.user_profile.name === 'Lin W.');
    a.transport.close();
    b.transport.close();
  });

  // Last: the registry is global to the module, and from here on every
  // wsTransport of this file without socketCalls uses it.
  it('calls the functions a generated client registers over the socket, the others over HTTP', async () => {
    const fns = generatedSocketCalls();
    expect(fns).toEqual(['add_task', 'set_task_state', 'update_my_name', 'update_profile']);
    registerSocketCalls(fns);
    const a = live();
    const b = live();
    const tasks = b.client.instance<TasksBundle>('tasks', { project_id: 1 });
    const user = b.client.instance<UserBundle>('user', { user_id: 3 });
    await Promise.all([watch(tasks), watch(user)]);
    await until('sockets open', () => a.transport.state === 'open' && b.transport.state === 'open');
    b.reads.length = 0;

    // add_task over the socket: the fixture's answer for a project it
    // does not have (so that the tasks other live files read stay as they
    // are), with its envelope's code.
    await expect(a.client.call('add_task', { project_id: 999, title: 'x' })).rejects.toMatchObject({ code: 'not_found' });
    // set_task_state over the socket, to the state task 1 has: its
    // invalidation is pushed to b, which refetches tasks.
    const res = await a.client.call('set_task_state', { task_id: 1, state: 'todo' });
    expect(res.result).toStrictEqual({ ok: true });
    expect(a.httpCalls).toEqual([]);
    await until('b refetched tasks', () => b.reads.includes('ctx/tasks/?project_id=1'));

    // update_name is not registered with mizan.WebSocket(): HTTP.
    await a.client.call('update_name', { user_id: 3, name: 'Lin Wei' });
    expect(a.httpCalls).toEqual(['update_name']);
    await until("b's user refetched", () => user.getSnapshot().data?.user_profile.name === 'Lin Wei');
    a.transport.close();
    b.transport.close();
  });
});
