// Exercises the svelte target's output for the fixture app the way an app
// would, so that tsc checks call sites as well as declarations. Copied next
// to the generated files by tsc-check.sh; never run.
import { MizanClient } from '@mizan/base';
import { derived, get, type Readable } from 'svelte/store';
import { callUpdateProfile, fetchUser, socketCalls, type TaskState, type UserBundle } from './client.js';
import {
  currentUserQuery,
  initMizan,
  setTaskStateMutation,
  taskListQuery,
  updateProfileMutation,
  userProfileQuery,
  userQuery,
} from './stores.js';

export function root(): MizanClient {
  return initMizan(new MizanClient());
}

export function component(props: { id: number }): Readable<string> {
  const user = userQuery({ user_id: props.id });
  const profile = userProfileQuery({ user_id: props.id }, new MizanClient());
  const tasks = taskListQuery({ project_id: 1, state: 'doing' });
  const me = currentUserQuery();
  const update = updateProfileMutation();
  const setState = setTaskStateMutation();
  void update.mutate({ user_id: props.id, name: 'x' }).then((r) => r.ok);
  void setState.mutate({ task_id: 1, state: 'done' });
  // The updaters are typed by the context functions set_task_state affects.
  void setState.mutate(
    { task_id: 1, state: 'done' },
    {
      optimistic: {
        task_detail: (t, args) => ({ ...t, state: args.state }),
        task_list: (list, args) => list.map((t) => (t.id === args.task_id ? { ...t, state: args.state } : t)),
      },
    },
  );
  void user.refetch();
  const pending: boolean = get(update).isPending;
  return derived([user, profile, tasks, me], ([u, p, t, m]) => {
    const bundle: UserBundle | undefined = u.data;
    const states: TaskState[] = (t.data ?? []).map((x) => x.state);
    return `${bundle?.user_orders.length ?? 0} ${p.data?.email ?? ''} ${states.length} ${String(m.data?.id)} ${pending} ${u.status}`;
  });
}

export function wrongCalls(): void {
  // @ts-expect-error set_task_state does not affect user_profile
  void setTaskStateMutation().mutate({ task_id: 1, state: 'done' }, { optimistic: { user_profile: (p: unknown) => p } });
  // @ts-expect-error user_id is a number
  userQuery({ user_id: '1' });
  // @ts-expect-error user_id is required
  userProfileQuery({});
  // @ts-expect-error not a TaskState
  taskListQuery({ project_id: 1, state: 'bogus' });
  // @ts-expect-error name is required
  void updateProfileMutation().mutate({ user_id: 1 });
  // @ts-expect-error a store, not its state
  void userQuery({ user_id: 1 }).data;
}

export async function plain(client: MizanClient): Promise<string> {
  const b = await fetchUser({ user_id: 1 }, client);
  const { result } = await callUpdateProfile({ user_id: 1, name: 'Ryth' }, client);
  return `${b.user_profile.name} ${result.ok} ${socketCalls.join(',')}`;
}
