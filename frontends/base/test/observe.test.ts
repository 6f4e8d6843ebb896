import { describe, expect, it } from 'vitest';
import { MizanClient, MizanError, observe, observeMutation, settled } from '../src/index.js';
import { FakeTransport, fixtureServer, tick } from './fake.js';

function setup() {
  const server = fixtureServer();
  const transport = new FakeTransport(server.onContext, server.onCall);
  return { server, transport, client: new MizanClient({ transport, retry: { attempts: 0 } }) };
}

type UserBundle = { user_profile: { name: string }; user_orders: { id: number }[] };

describe('observe', () => {
  it('selects one function and keeps its view stable while that function is unchanged', async () => {
    const { client, server } = setup();
    const inst = client.instance<UserBundle>('user', { user_id: 1 });
    const orders = observe<UserBundle['user_orders']>(inst, 'user_orders');
    const whole = observe<UserBundle>(inst);
    expect(orders.getSnapshot()).toMatchObject({ data: undefined, status: 'idle', isLoading: true });
    let n = 0;
    orders.subscribe(() => n++);
    await tick();
    const v = orders.getSnapshot();
    expect(v).toMatchObject({ data: [{ id: 11, total: 5 }], status: 'success', isLoading: false });
    expect(orders.getSnapshot()).toBe(v);
    const calls = n;
    server.users['1']!.name = 'Ada L.';
    await client.call('update_name', { user_id: 1, name: 'Ada L.' });
    await tick();
    expect(n).toBe(calls);
    expect(orders.getSnapshot()).toBe(v);
    expect(whole.getSnapshot().data?.user_profile.name).toBe('Ada L.');
  });

  it('refetch in the view refetches the instance', async () => {
    const { client, transport } = setup();
    const view = observe(client.instance('user', { user_id: 1 })).getSnapshot();
    await view.refetch();
    expect(transport.count()).toBe(1);
  });
});

describe('settled', () => {
  it('fetches, resolves when data arrives and shares one promise', async () => {
    const { client, transport } = setup();
    const inst = client.instance('user', { user_id: 1 });
    const p = settled(inst);
    expect(settled(inst)).toBe(p);
    await p;
    expect(inst.getSnapshot().status).toBe('success');
    expect(transport.count()).toBe(1);
    expect(settled(inst)).not.toBe(p);
  });

  it('resolves on an error too', async () => {
    const { client, transport } = setup();
    transport.onContext = () => {
      throw new MizanError('not_found', 'x', 404);
    };
    const inst = client.instance('user', { user_id: 9 });
    await settled(inst);
    expect(inst.getSnapshot().status).toBe('error');
  });
});

describe('observeMutation', () => {
  it('tracks isPending, returns the result and applies the targets', async () => {
    const { client, transport } = setup();
    const inst = client.instance('user', { user_id: 1 });
    inst.subscribe(() => {});
    await tick();
    const m = observeMutation<{ user_id: number; name: string }, { ok: boolean }>(client, 'update_profile');
    const states: boolean[] = [];
    m.subscribe(() => states.push(m.getSnapshot().isPending));
    const p = m.getSnapshot().mutate({ user_id: 1, name: 'X' });
    expect(m.getSnapshot().isPending).toBe(true);
    await expect(p).resolves.toStrictEqual({ ok: true });
    expect(states).toEqual([true, false]);
    await tick();
    expect(transport.count('user')).toBe(2);
  });

  it('keeps the error until reset or the next call, and rejects mutate', async () => {
    const { client, transport } = setup();
    transport.onCall = () => {
      throw new MizanError('conflict', 'taken', 409);
    };
    const m = observeMutation<object, unknown>(client, 'fail');
    await expect(m.getSnapshot().mutate({})).rejects.toMatchObject({ code: 'conflict', status: 409 });
    expect(m.getSnapshot()).toMatchObject({ isPending: false, error: { code: 'conflict' } });
    const { mutate, reset } = m.getSnapshot();
    reset();
    expect(m.getSnapshot().error).toBeUndefined();
    expect(m.getSnapshot().mutate).toBe(mutate);
    expect(m.getSnapshot().reset).toBe(reset);
  });
});
