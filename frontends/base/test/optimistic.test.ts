// Unit tests of @mizan/base/optimistic: predictTargets from a registered
// table, and optimistic layers (applied at once to the instances the
// prediction matches, rolled back on error, dropped when the refetch lands,
// composed and rolled back independently when calls overlap).
import { describe, expect, it } from 'vitest';
import { MizanClient, MizanError, type CallResult, type ContextInstance, type Params, type TargetInput, type Transport } from '../src/index.js';
import { predictTargets, registerMutationTargets } from '../src/optimistic.js';
import { tick } from './fake.js';

registerMutationTargets({
  add_task: [['tasks', ['project_id']]],
  set_task_state: [['task', ['task_id']], ['tasks']],
  rename_task: [['task', []]],
  update_name: [['user', ['user_id'], 'user_profile']],
  archive_orders: [['orders', ['user_id', 'status']]],
  flags: [['flags', ['on', 'ratio', 'name', 'big']]],
  fail: [],
});

describe('predictTargets', () => {
  it('scopes a target by the scoping arguments present in args', () => {
    expect(predictTargets('add_task', { project_id: 1, title: 'x', state: 'done' })).toStrictEqual([
      { context: 'tasks', params: { project_id: '1' } },
    ]);
    expect(predictTargets('archive_orders', { status: 'open', user_id: 2 })).toStrictEqual([
      { context: 'orders', params: { status: 'open', user_id: '2' } },
    ]);
  });

  it('leaves a target broad when no scoping argument applies (none declared, absent, null)', () => {
    expect(predictTargets('set_task_state', { task_id: 3, state: 'done' })).toStrictEqual([
      { context: 'task', params: { task_id: '3' } },
      { context: 'tasks', params: {} },
    ]);
    expect(predictTargets('rename_task', { task_id: 3, title: 'y' })).toStrictEqual([{ context: 'task', params: {} }]);
    expect(predictTargets('add_task', { title: 'x' })).toStrictEqual([{ context: 'tasks', params: {} }]);
    expect(predictTargets('add_task', { project_id: null })).toStrictEqual([{ context: 'tasks', params: {} }]);
    expect(predictTargets('add_task')).toStrictEqual([{ context: 'tasks', params: {} }]);
  });

  it('keeps the function of a function-level target', () => {
    expect(predictTargets('update_name', { user_id: 5, name: 'A' })).toStrictEqual([
      { context: 'user', function: 'user_profile', params: { user_id: '5' } },
    ]);
  });

  it('scopes by strings, booleans and safe integers only (anything else would risk a narrower target)', () => {
    expect(predictTargets('flags', { on: true, ratio: 0.5, name: 'a b', big: 2 ** 60 })).toStrictEqual([
      { context: 'flags', params: { name: 'a b', on: 'true' } },
    ]);
    expect(predictTargets('flags', { on: false, ratio: { x: 1 }, name: ['a'] })).toStrictEqual([
      { context: 'flags', params: { on: 'false' } },
    ]);
  });

  it('returns [] for a mutation without targets and undefined for an unknown function', () => {
    expect(predictTargets('fail', {})).toStrictEqual([]);
    expect(predictTargets('nope', {})).toBeUndefined();
  });
});

interface Task {
  id: number;
  title: string;
}
type TasksBundle = { task_list: Task[]; task_count: number };
type UserBundle = { user_profile: { name: string }; user_orders: { id: number }[] };

interface Call {
  fn: string;
  args: Record<string, unknown>;
  ok(invalidate?: TargetInput[]): void;
  fail(code?: string): void;
}

/**
 * A transport over a small task server: contexts are answered after a
 * macrotask from the server's state, calls wait to be answered by hand
 * (ok applies the mutation to the server first).
 */
function setup() {
  const tasks: Record<string, Task[]> = {
    '1': [{ id: 1, title: 'Write spec' }],
    '2': [{ id: 3, title: 'Ship' }],
  };
  const names: Record<string, string> = { '1': 'Ada', '2': 'Grace' };
  let next = 10;
  const calls: Call[] = [];
  const transport: Transport = {
    fetchContext(context: string, params: Params) {
      return new Promise((resolve) =>
        setTimeout(() => {
          if (context === 'tasks') {
            const list = (tasks[String(params.project_id)] ?? []).map((t) => ({ ...t }));
            resolve({ task_list: list, task_count: list.length });
          } else if (context === 'user') {
            resolve({ user_profile: { name: names[String(params.user_id)] }, user_orders: [{ id: 1 }] });
          } else resolve({});
        }, 0),
      );
    },
    call(fn: string, args: unknown): Promise<CallResult<unknown>> {
      const a = args as Record<string, unknown>;
      return new Promise((resolve, reject) => {
        calls.push({
          fn,
          args: a,
          ok(invalidate) {
            if (fn === 'add_task') tasks[String(a.project_id)]!.push({ id: next++, title: String(a.title) });
            if (fn === 'update_name') names[String(a.user_id)] = String(a.name);
            const def: TargetInput[] =
              fn === 'add_task' ? [{ context: 'tasks', params: { project_id: a.project_id as number } }] : [];
            resolve({ result: { ok: true }, invalidate: invalidate ?? def });
          },
          fail(code = 'conflict') {
            reject(new MizanError(code, code, 409));
          },
        });
      });
    },
  };
  const client = new MizanClient({ transport, retry: { attempts: 0 } });
  return { client, calls, tasks };
}

/** loaded returns the instance of tasks for project, subscribed and fetched. */
async function loaded<T>(client: MizanClient, context: string, params: Params): Promise<ContextInstance<T>> {
  const inst = client.instance<T>(context, params);
  inst.subscribe(() => {});
  await tick();
  expect(inst.getSnapshot().status).toBe('success');
  return inst;
}

const titles = (inst: ContextInstance<TasksBundle>): string[] => inst.getSnapshot().data!.task_list.map((t) => t.title);
const addTitle = (title: string) => ({
  task_list: (list: Task[]) => [...list, { id: -1, title }],
});

describe('optimistic updates', () => {
  it('applies at once to exactly the instances the prediction matches, function by function', async () => {
    const { client, calls } = setup();
    const p1 = await loaded<TasksBundle>(client, 'tasks', { project_id: 1 });
    const p2 = await loaded<TasksBundle>(client, 'tasks', { project_id: 2 });
    const before1 = p1.getSnapshot().data!;
    const before2 = p2.getSnapshot().data!;
    const call = client.call('add_task', { project_id: 1, title: 'New' }, { optimistic: addTitle('New') });
    expect(titles(p1)).toEqual(['Write spec', 'New']);
    // Only that function's data: the other function keeps its reference.
    expect(p1.getSnapshot().data!.task_count).toBe(before1.task_count);
    expect(p2.getSnapshot().data).toBe(before2);
    calls[0]!.ok();
    await call;
    await tick();
    expect(titles(p1)).toEqual(['Write spec', 'New']);
    expect(p1.getSnapshot().data!.task_list[1]!.id).toBe(10); // the server's, not the optimistic -1
    expect(p1.getSnapshot().data!.task_count).toBe(2);
  });

  it('passes the call arguments and leaves functions the target does not name alone', async () => {
    const { client, calls } = setup();
    const u = await loaded<UserBundle>(client, 'user', { user_id: 1 });
    const orders = u.getSnapshot().data!.user_orders;
    const seen: unknown[] = [];
    const call = client.call(
      'update_name',
      { user_id: 1, name: 'Ada L.' },
      {
        optimistic: {
          user_profile: (p: { name: string }, args: { name: string }) => (seen.push(args), { ...p, name: args.name }),
          user_orders: () => [], // not affected by update_name (function-level user_profile): ignored
        },
      },
    );
    expect(u.getSnapshot().data!.user_profile.name).toBe('Ada L.');
    expect(u.getSnapshot().data!.user_orders).toBe(orders);
    expect(seen).toEqual([{ user_id: 1, name: 'Ada L.' }]);
    calls[0]!.ok([{ context: 'user', function: 'user_profile', params: { user_id: 1 } }]);
    await call;
    await tick();
    expect(u.getSnapshot().data!.user_profile.name).toBe('Ada L.');
  });

  it('rolls back when the call fails', async () => {
    const { client, calls } = setup();
    const p1 = await loaded<TasksBundle>(client, 'tasks', { project_id: 1 });
    const before = p1.getSnapshot().data;
    const call = client.call('add_task', { project_id: 1, title: 'New' }, { optimistic: addTitle('New') });
    expect(titles(p1)).toEqual(['Write spec', 'New']);
    calls[0]!.fail();
    await expect(call).rejects.toMatchObject({ code: 'conflict' });
    expect(p1.getSnapshot().data).toBe(before);
  });

  it('keeps the optimistic data until the refetch lands, then shows the server data', async () => {
    const { client, calls, tasks } = setup();
    const p1 = await loaded<TasksBundle>(client, 'tasks', { project_id: 1 });
    const call = client.call('add_task', { project_id: 1, title: 'New' }, { optimistic: addTitle('New') });
    calls[0]!.ok();
    await call;
    // The response is in and the refetch is in flight: still the optimistic value.
    expect(p1.getSnapshot().stale).toBe(true);
    expect(p1.getSnapshot().data!.task_list[1]!.id).toBe(-1);
    await tick();
    expect(p1.getSnapshot().stale).toBe(false);
    expect(p1.getSnapshot().data!.task_list[1]!.id).toBe(10);
    // The layer is gone: a later refetch shows the server's data as it is.
    tasks['1'] = [];
    await p1.refetch();
    expect(titles(p1)).toEqual([]);
  });

  it('rolls back at once where the targets the server answers miss the instance', async () => {
    const { client, calls } = setup();
    const p1 = await loaded<TasksBundle>(client, 'tasks', { project_id: 1 });
    const before = p1.getSnapshot().data;
    const call = client.call('add_task', { project_id: 1, title: 'New' }, { optimistic: addTitle('New') });
    calls[0]!.ok([{ context: 'tasks', params: { project_id: 2 } }]);
    await call;
    expect(p1.getSnapshot().data).toBe(before);
  });

  it('applies to the instances a broad prediction matches: every instance of the context', async () => {
    const { client, calls } = setup();
    const p1 = await loaded<TasksBundle>(client, 'tasks', { project_id: 1 });
    const p2 = await loaded<TasksBundle>(client, 'tasks', { project_id: 2 });
    const call = client.call('add_task', { title: 'Both' }, { optimistic: addTitle('Both') });
    expect(titles(p1)).toEqual(['Write spec', 'Both']);
    expect(titles(p2)).toEqual(['Ship', 'Both']);
    calls[0]!.fail();
    await expect(call).rejects.toBeDefined();
    expect(titles(p1)).toEqual(['Write spec']);
    expect(titles(p2)).toEqual(['Ship']);
  });

  it('skips an updater that throws, and instances without data', async () => {
    const { client, calls } = setup();
    const p1 = await loaded<TasksBundle>(client, 'tasks', { project_id: 1 });
    const idle = client.instance<TasksBundle>('tasks', { project_id: 2 });
    const before = p1.getSnapshot().data;
    const call = client.call(
      'add_task',
      { title: 'x' },
      {
        optimistic: {
          task_list: () => {
            throw new Error('boom');
          },
        },
      },
    );
    expect(p1.getSnapshot().data).toBe(before);
    expect(idle.getSnapshot().data).toBeUndefined();
    calls[0]!.fail();
    await expect(call).rejects.toBeDefined();
  });

  it('does nothing for a mutation that is not registered', async () => {
    const { client, calls } = setup();
    const p1 = await loaded<TasksBundle>(client, 'tasks', { project_id: 1 });
    const before = p1.getSnapshot().data;
    const call = client.call('unregistered', {}, { optimistic: addTitle('New') });
    expect(p1.getSnapshot().data).toBe(before);
    calls[0]!.ok([]);
    await call;
  });

  describe('concurrent calls on one instance', () => {
    async function two() {
      const s = setup();
      const p1 = await loaded<TasksBundle>(s.client, 'tasks', { project_id: 1 });
      const a = s.client.call('add_task', { project_id: 1, title: 'A' }, { optimistic: addTitle('A') });
      const b = s.client.call('add_task', { project_id: 1, title: 'B' }, { optimistic: addTitle('B') });
      const [ca, cb] = s.calls;
      return { ...s, p1, a, b, ca: ca!, cb: cb! };
    }

    it('A then B: the layers compose in call order', async () => {
      const { p1, a, b, ca, cb } = await two();
      expect(titles(p1)).toEqual(['Write spec', 'A', 'B']);
      ca.ok();
      cb.ok();
      await Promise.all([a, b]);
      await tick();
      expect(titles(p1)).toEqual(['Write spec', 'A', 'B']);
      expect(p1.getSnapshot().data!.task_list.map((t) => t.id)).toEqual([1, 10, 11]);
    });

    it('A fails while B is pending: only A is rolled back', async () => {
      const { p1, a, b, ca, cb } = await two();
      ca.fail();
      await expect(a).rejects.toBeDefined();
      expect(titles(p1)).toEqual(['Write spec', 'B']);
      cb.ok();
      await b;
      await tick();
      expect(p1.getSnapshot().data!.task_list.map((t) => t.id)).toEqual([1, 10]);
    });

    it('B fails while A is pending: only B is rolled back', async () => {
      const { p1, a, b, ca, cb } = await two();
      cb.fail();
      await expect(b).rejects.toBeDefined();
      expect(titles(p1)).toEqual(['Write spec', 'A']);
      ca.fail();
      await expect(a).rejects.toBeDefined();
      expect(titles(p1)).toEqual(['Write spec']);
    });

    it('B succeeds before A: its refetch lands under A, which stays on top until A settles', async () => {
      const { p1, a, b, ca, cb } = await two();
      cb.ok();
      await b;
      await tick();
      // The server has B (id 10); A is still pending, applied over it.
      expect(p1.getSnapshot().data!.task_list.map((t) => t.id)).toEqual([1, 10, -1]);
      expect(titles(p1)).toEqual(['Write spec', 'B', 'A']);
      ca.ok();
      await a;
      await tick();
      expect(p1.getSnapshot().data!.task_list.map((t) => t.id)).toEqual([1, 10, 11]);
    });

    it('B succeeds, then A fails: B’s data stays, A is rolled back', async () => {
      const { p1, a, b, ca, cb } = await two();
      cb.ok();
      await b;
      ca.fail();
      await expect(a).rejects.toBeDefined();
      // B's refetch has not landed yet: B's layer is still shown.
      expect(titles(p1)).toEqual(['Write spec', 'B']);
      await tick();
      expect(p1.getSnapshot().data!.task_list.map((t) => t.id)).toEqual([1, 10]);
    });

    it('A succeeds and its refetch is in flight when B starts: both show, each replaced by the server data', async () => {
      const { client, calls, tasks } = setup();
      const p1 = await loaded<TasksBundle>(client, 'tasks', { project_id: 1 });
      const a = client.call('add_task', { project_id: 1, title: 'A' }, { optimistic: addTitle('A') });
      calls[0]!.ok();
      await a;
      const b = client.call('add_task', { project_id: 1, title: 'B' }, { optimistic: addTitle('B') });
      expect(titles(p1)).toEqual(['Write spec', 'A', 'B']);
      await tick();
      // A's refetch landed: A is the server's, B pending over it.
      expect(p1.getSnapshot().data!.task_list.map((t) => t.id)).toEqual([1, 10, -1]);
      calls[1]!.fail();
      await expect(b).rejects.toBeDefined();
      expect(p1.getSnapshot().data!.task_list.map((t) => t.id)).toEqual([1, 10]);
      expect(tasks['1']!.length).toBe(2);
    });
  });
});
