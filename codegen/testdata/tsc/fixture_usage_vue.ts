// Exercises the vue target's output for the fixture app the way an app
// would, so that tsc checks call sites as well as declarations. Copied next
// to the generated files by tsc-check.sh; never run.
import { MizanClient } from '@mizan/base';
import { computed, createApp, ref, type Ref } from 'vue';
import { callUpdateProfile, fetchUser, socketCalls, type TaskState, type UserBundle } from './client.js';
import {
  mizanPlugin,
  useCurrentUser,
  useSetTaskState,
  useTaskList,
  useUpdateProfile,
  useUser,
  useUserProfile,
} from './composables.js';

export function setup(props: { id: number }): () => string {
  // Params as a plain object, a ref, a computed or a getter.
  const user = useUser({ user_id: props.id });
  const id: Ref<number> = ref(props.id);
  const profile = useUserProfile(computed(() => ({ user_id: id.value })));
  const tasks = useTaskList(() => ({ project_id: id.value, state: 'doing' as TaskState }));
  const me = useCurrentUser();
  const update = useUpdateProfile();
  const setState = useSetTaskState();
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
  return () => {
    const bundle: UserBundle | undefined = user.data.value;
    const email: string = profile.data.value?.email ?? '';
    const states: TaskState[] = (tasks.data.value ?? []).map((t) => t.state);
    const pending: boolean = update.isPending.value;
    const code: string = update.error.value?.code ?? '';
    return `${bundle?.user_orders.length ?? 0} ${email} ${states.length} ${String(me.data.value?.id)} ${pending} ${code} ${user.isLoading.value}`;
  };
}

export function wrongCalls(): void {
  // @ts-expect-error set_task_state does not affect user_profile
  void useSetTaskState().mutate({ task_id: 1, state: 'done' }, { optimistic: { user_profile: (p: unknown) => p } });
  // @ts-expect-error user_id is a number
  useUser({ user_id: '1' });
  // @ts-expect-error user_id is required
  useUserProfile(() => ({}));
  // @ts-expect-error not a TaskState
  useTaskList({ project_id: 1, state: 'bogus' });
  // @ts-expect-error name is required
  void useUpdateProfile().mutate({ user_id: 1 });
  // @ts-expect-error data is a ref
  void useUser({ user_id: 1 }).data.user_profile;
}

export async function plain(client: MizanClient): Promise<string> {
  const b = await fetchUser({ user_id: 1 }, client);
  const { result } = await callUpdateProfile({ user_id: 1, name: 'Ryth' }, client);
  return `${b.user_profile.name} ${result.ok} ${socketCalls.join(',')}`;
}

export function mount(el: string): void {
  const App = { setup: () => setup({ id: 1 }) };
  createApp(App).use(mizanPlugin(new MizanClient())).mount(el);
  createApp(App).use(mizanPlugin()).mount(el);
}
