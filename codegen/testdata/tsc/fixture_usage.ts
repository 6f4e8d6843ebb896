// Exercises the react target's output for the fixture app the way an app
// would, so that tsc checks call sites as well as declarations. Copied next
// to the generated files by tsc-check.sh; never run.
import {
  callFail,
  callSetTaskState,
  callUpdateName,
  callUpdateProfile,
  fetchTask,
  fetchTasks,
  fetchUser,
  fieldErrors,
  isMizanError,
  MizanError,
  type AddTaskArgs,
  type Task,
  type TaskState,
  type UpdateProfileArgs,
  type UserBundle,
} from './client.js';
import { MizanContext, useAddTask, useCurrentUser, useUpdateProfile, useUser, useUserProfile } from './hooks.js';
import { MizanClient } from '@mizan/base';

export async function example(client: MizanClient): Promise<string> {
  const bundle: UserBundle = await fetchUser({ user_id: 1 }, client);
  const name: string = bundle.user_profile.name;
  const total: number = bundle.user_orders.reduce((n, o) => n + o.total, 0);
  try {
    const { result, invalidate } = await callUpdateProfile({ user_id: 1, name: 'Ryth' });
    const ok: boolean = result.ok;
    return `${name} ${total} ${ok} ${invalidate.length}`;
  } catch (err) {
    if (isMizanError(err, 'invalid_args')) {
      const status: number = err.status;
      return `${status} ${fieldErrors<UpdateProfileArgs>(err)?.name ?? ''}`;
    }
    if (err instanceof MizanError) return err.code;
    throw err;
  }
}

export function wrongCalls(): void {
  // @ts-expect-error user_id is a number
  void fetchUser({ user_id: '1' });
  // @ts-expect-error name is required
  void callUpdateProfile({ user_id: 1 });
  // @ts-expect-error no such field
  void fetchUser({ user_id: 1 }).then((b) => b.user_profile.nickname);
}

export function Profile(props: { id: number }): string {
  const user = useUser({ user_id: props.id });
  const profile = useUserProfile({ user_id: props.id });
  const me = useCurrentUser();
  const update = useUpdateProfile();
  void update.mutate({ user_id: props.id, name: 'x' }).then((r) => r.ok);
  const pending: boolean = update.isPending;
  return `${user.data?.user_orders.length ?? 0} ${profile.data?.email ?? ''} ${me.data?.id ?? ''} ${pending}`;
}

export const root = MizanContext({ client: new MizanClient(), children: null });

// The task types say what the wire holds (docs/spec.md §4, §7): the enum is
// a union, big_id a string, due nullable, tags and meta never null.
export async function tasks(client: MizanClient): Promise<string> {
  const { task_list } = await fetchTasks({ project_id: 1, state: 'doing' }, client);
  const states: TaskState[] = task_list.map((t) => t.state);
  const t = (await fetchTask({ task_id: 1 }, client)).task_detail;
  const big: bigint = BigInt(t.big_id);
  const tags: string = t.tags.join(',') + Object.keys(t.meta).join(',');
  const due: number = t.due === null ? 0 : Date.parse(t.due);
  const s: 'todo' | 'doing' | 'done' = t.state;
  await callSetTaskState({ task_id: 1, state: 'done' }, client);
  return `${states.length} ${big} ${tags} ${due} ${s} ${Date.parse(t.created_at)}`;
}

export function wrongTasks(): void {
  // @ts-expect-error not a TaskState
  void fetchTasks({ project_id: 1, state: 'bogus' });
  // @ts-expect-error not a TaskState
  void callSetTaskState({ task_id: 1, state: 'later' });
  // @ts-expect-error due may be null
  void fetchTask({ task_id: 1 }).then((b) => b.task_detail.due.length);
  // @ts-expect-error big_id is a string, not a number
  void fetchTask({ task_id: 1 }).then((b): number => b.task_detail.big_id);
}

// Optimistic updaters are typed by the mutation: one per context function
// it affects, from that function's result and the mutation's arguments.
export function optimistic(client: MizanClient): void {
  const add = useAddTask();
  void add.mutate(
    { project_id: 1, title: 'New', state: 'todo' },
    {
      optimistic: {
        task_list: (tasks: Task[], args: AddTaskArgs): Task[] => [...tasks, { ...tasks[0]!, title: args.title }],
      },
    },
  );
  // @ts-expect-error add_task does not affect task_detail
  void add.mutate({ project_id: 1, title: 'x', state: 'todo' }, { optimistic: { task_detail: (t: Task) => t } });
  // @ts-expect-error the updater returns the function's result type
  void add.mutate({ project_id: 1, title: 'x', state: 'todo' }, { optimistic: { task_list: () => 1 } });
  void callUpdateName({ user_id: 1, name: 'A' }, client, {
    optimistic: { user_profile: (p, args) => ({ ...p, name: args.name }) },
  });
  // @ts-expect-error update_name affects function user_profile only
  void callUpdateName({ user_id: 1, name: 'A' }, client, { optimistic: { user_orders: (o) => o } });
  // @ts-expect-error fail affects nothing
  void callFail({}, client, { optimistic: { task_list: (t: Task[]) => t } });
}
