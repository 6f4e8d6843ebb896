// Live tests of @mizan/base/optimistic against the Go fixture (docs/spec.md
// §7): every fixture mutation is called, and every target the server
// answers must be covered by a target predictTargets computed from the
// call's arguments before it was sent, with the table the ts target wrote
// for the fixture's IR (codegen/testdata/fixture/ts/client.ts). The calls
// change the fixture's data (add_task adds a task for good), so this file
// runs a fixture of its own, from the binary test/fixture-server.ts built.
// Without Go they fail when CI=true and are skipped elsewhere.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { httpTransport, matchTarget, MizanClient, toTarget, type Target, type TargetInput } from '../src/index.js';
import { predictTargets, registerMutationTargets, type TargetSpec } from '../src/optimistic.js';
import { startFixture, stopFixture } from './fixture-server.js';
import { tick } from './fake.js';

const bin = inject('fixtureBin');

/**
 * generatedTargets returns the mutationTargets table the ts target wrote
 * for the fixture's IR, which that client.ts registers when it loads.
 */
function generatedTargets(): Record<string, TargetSpec[]> {
  const src = readFileSync(new URL('../../../codegen/testdata/fixture/ts/client.ts', import.meta.url), 'utf8');
  const body =
    /export const mutationTargets: Record<string, readonly TargetSpec\[\]> = \{\n([^}]*)\};\nregisterMutationTargets\(mutationTargets\);/.exec(
      src,
    )?.[1];
  if (body === undefined) throw new Error('no mutationTargets in the generated client.ts');
  const out: Record<string, TargetSpec[]> = {};
  for (const line of body.split('\n')) {
    const m = /^ {2}(\w+): (.*),$/.exec(line);
    if (!m) continue;
    // The literal is JSON but for its quotes (the names hold none).
    out[m[1]!] = JSON.parse(m[2]!.replaceAll("'", '"')) as TargetSpec[];
  }
  return out;
}

/**
 * covers reports whether predicted target p covers the server's target s:
 * p matches (matchTarget, the kernel's rule) every instance s matches. s
 * taken as an instance, p must match it and name no parameter s leaves out
 * (else s is broader than p there); a function-level p covers only a target
 * of that function.
 */
function covers(p: Target, s: Target): boolean {
  return (
    matchTarget(p, { context: s.context, params: s.params }) !== null &&
    Object.keys(p.params).every((k) => Object.hasOwn(s.params, k)) &&
    (!p.function || p.function === s.function)
  );
}

interface Case {
  args: Record<string, unknown>;
  /** The caller (X-Test-User); default user 2. */
  user?: string;
  staff?: boolean;
  /** The error code the call fails with, when it is meant to. */
  fails?: string;
  /** The server's targets, as the fixture documents them (docs/spec.md §7). */
  want: TargetInput[];
}

/** One call per fixture mutation of the IR, with arguments that scope whatever can be scoped. */
const cases: Record<string, Case[]> = {
  add_task: [
    { args: { project_id: 1, title: 'Live', state: 'todo' }, want: [{ context: 'tasks', params: { project_id: 1 } }] },
    { args: { project_id: 2, title: 'Live 2', state: 'doing' }, want: [{ context: 'tasks', params: { project_id: 2 } }] },
  ],
  admin_action: [{ args: {}, user: '1', staff: true, want: [] }],
  archive_orders: [
    { args: { user_id: 1, status: 'open' }, want: [{ context: 'orders', params: { status: 'open', user_id: 1 } }] },
  ],
  bump: [{ args: {}, want: ['counter'] }],
  contact: [
    {
      args: { name: 'Ada', email: 'ada@example.com', topic: 'sales', message: 'Hello from the live test' },
      want: ['messages'],
    },
  ],
  fail: [{ args: {}, fails: 'conflict', want: [] }],
  order_lines: [{ args: { customer: 'Ada', lines: [{ sku: 'ABC123', qty: 2 }] }, want: ['orders'] }],
  panic_for_tests: [{ args: {}, fails: 'internal', want: [] }],
  // Explicit empty scope: broad although task_id is a parameter of task.
  rename_task: [{ args: { task_id: 1, title: 'Renamed' }, want: ['task'] }],
  reset_all: [{ args: {}, want: ['user', 'orders'] }],
  secret: [{ args: {}, want: [] }],
  // tasks is scoped at run time by the task's project: predicted broad.
  set_task_state: [
    {
      args: { task_id: 3, state: 'done' },
      want: [
        { context: 'task', params: { task_id: 3 } },
        { context: 'tasks', params: { project_id: 2 } },
      ],
    },
  ],
  // global is caller-scoped (sent as it is), user scoped at run time by the caller.
  update_my_name: [
    {
      args: { name: 'Grace H.' },
      want: ['global', { context: 'user', params: { user_id: 2 } }],
    },
  ],
  update_name: [
    {
      args: { user_id: 2, name: 'Grace' },
      want: [{ context: 'user', function: 'user_profile', params: { user_id: 2 } }],
    },
  ],
  update_profile: [{ args: { user_id: 3, name: 'Lin' }, want: [{ context: 'user', params: { user_id: 3 } }] }],
};

/**
 * The fixture's mutations not called here, with the reason: neither is
 * called through MizanClient.call, and neither is in the IR's table.
 */
const notCalled: Record<string, string> = {
  update_profile_view:
    'a view mutation: posted as a form to its route, it answers a redirect with the X-Mizan-Invalidate header; the generators give views no client code, so there is no call to predict',
  stripe_webhook: 'a private mutation: not in the IR at all, so neither in the table nor callable through call/',
};

describe.skipIf(!bin)('live: predicted targets and optimistic updates against the Go fixture', () => {
  let child: ChildProcess | undefined;
  let origin = '';
  const table = generatedTargets();
  registerMutationTargets(table);

  beforeAll(async () => {
    const s = await startFixture(bin);
    child = s.child;
    origin = s.url;
  }, 30_000);
  afterAll(async () => {
    if (child) await stopFixture(child);
  });

  /** live returns a client whose calls record the targets the server answered. */
  function live(user = '2', staff = false) {
    const answered: TargetInput[][] = [];
    const http = httpTransport({
      baseUrl: origin,
      headers: () => ({ 'X-Test-User': user, ...(staff ? { 'X-Test-Staff': '1' } : {}) }),
    });
    const client = new MizanClient({
      retry: { attempts: 0 },
      transport: {
        fetchContext: (c, p, s) => http.fetchContext(c, p, s),
        async call(fn, args, signal) {
          const r = await http.call(fn, args, signal);
          answered.push(r.invalidate);
          return r;
        },
      },
    });
    return { client, answered };
  }

  it('has a case for every mutation of the generated table, and the table every mutation of the cases', () => {
    expect(Object.keys(table).sort()).toEqual(Object.keys(cases).sort());
    for (const fn of Object.keys(notCalled)) expect(table[fn]).toBeUndefined();
  });

  for (const [fn, list] of Object.entries(cases)) {
    list.forEach((c, i) => {
      it(`${fn} #${i + 1}: the prediction covers every target the server answers`, async () => {
        const predicted = predictTargets(fn, c.args);
        expect(predicted, `${fn} is in the table`).toBeDefined();
        const { client, answered } = live(c.user, c.staff);
        const call = client.call(fn, c.args);
        if (c.fails) {
          await expect(call).rejects.toMatchObject({ code: c.fails });
          expect(answered).toEqual([]); // a failed mutation emits no targets
          return;
        }
        await call;
        const got = answered[0]!.map(toTarget);
        // The server answers what the fixture documents...
        expect(got).toEqual(expect.arrayContaining(c.want.map(toTarget)));
        expect(got).toHaveLength(c.want.length);
        // ...and each of its targets is covered by a predicted one.
        for (const s of got) {
          expect(
            predicted!.some((p) => covers(p, s)),
            `${fn}: server target ${JSON.stringify(s)} is covered by ${JSON.stringify(predicted)}`,
          ).toBe(true);
        }
      });
    });
  }

  it('add_task with an optimistic updater: shown at once, then the server data once the refetch lands', async () => {
    interface Task {
      id: number;
      title: string;
    }
    const { client } = live();
    const p1 = client.instance<{ task_list: Task[] }>('tasks', { project_id: 1 });
    const p2 = client.instance<{ task_list: Task[] }>('tasks', { project_id: 2 });
    p1.subscribe(() => {});
    p2.subscribe(() => {});
    await Promise.all([p1.refetch(), p2.refetch()]);
    const before2 = p2.getSnapshot().data;
    const n = p1.getSnapshot().data!.task_list.length;
    const call = client.call(
      'add_task',
      { project_id: 1, title: 'Optimistic', state: 'todo' },
      { optimistic: { task_list: (list: Task[], a: { title: string }) => [...list, { id: -1, title: a.title }] } },
    );
    expect(p1.getSnapshot().data!.task_list.at(-1)).toEqual({ id: -1, title: 'Optimistic' });
    expect(p2.getSnapshot().data).toBe(before2);
    const { result } = await call;
    for (let k = 0; k < 100 && p1.getSnapshot().stale; k++) await tick(1);
    const last = p1.getSnapshot().data!.task_list.at(-1)!;
    expect(p1.getSnapshot().data!.task_list).toHaveLength(n + 1);
    expect(last.id).toBe((result as { id: number }).id);
    expect(last.title).toBe('Optimistic');
  });

  it('rolls back an optimistic update when the server refuses the call', async () => {
    const { client } = live();
    const p1 = client.instance<{ task_list: unknown[] }>('tasks', { project_id: 1 });
    p1.subscribe(() => {});
    await p1.refetch();
    const before = p1.getSnapshot().data;
    const call = client.call(
      'add_task',
      { project_id: 1, title: '' }, // title is required: invalid_args
      { optimistic: { task_list: (list: unknown[]) => [...list, { id: -1 }] } },
    );
    expect(p1.getSnapshot().data).not.toBe(before);
    await expect(call).rejects.toMatchObject({ code: 'invalid_args' });
    expect(p1.getSnapshot().data).toBe(before);
  });
});
