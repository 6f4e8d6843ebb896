// Type-level checks of the public API, compiled by `tsc --noEmit -p vue`
// (never run): generated parameter types (type aliases) given as plain
// objects, refs, computed refs and getters, as generated composables pass
// them (codegen's vue target: MaybeRefOrGetter<XParams>).
import { MizanError, type Status } from '@mizan/base';
import { computed, createApp, ref, type MaybeRefOrGetter, type Ref } from 'vue';
import {
  createMizan,
  useContextFunction,
  useContextQuery,
  useMutation,
  type MizanPlugin,
  type MutationState,
  type QueryState,
} from '../src/index.js';

type UserParams = { user_id: number };
interface UserBundle {
  user_profile: { id: number; name: string };
  user_orders: { id: number }[];
}

export function generated(params: MaybeRefOrGetter<UserParams>): QueryState<UserBundle> {
  return useContextQuery<UserBundle>('user', params);
}

export function calls(): void {
  const id: Ref<number> = ref(1);
  const a = generated({ user_id: 1 });
  const b = generated(ref({ user_id: 1 }));
  const c = generated(computed(() => ({ user_id: id.value })));
  const d = useContextFunction<UserBundle, 'user_profile'>('user', () => ({ user_id: id.value }), 'user_profile');
  const e = useContextQuery<{ current_user: null }>('global');
  const name: string | undefined = d.data.value?.name;
  const status: Status = a.status.value;
  const err: MizanError | undefined = b.error.value;
  const loading: boolean = c.isLoading.value;
  void [name, status, err, loading, e.refetch()];
  // @ts-expect-error the refs are read-only
  a.data.value = undefined;
  // @ts-expect-error not a function of the bundle
  useContextFunction<UserBundle, 'nope'>('user', {}, 'nope');
  // @ts-expect-error params values are strings, numbers or booleans
  useContextQuery('user', { user_id: [1] });

  const m: MutationState<{ user_id: number; name: string }, { ok: boolean }> = useMutation('update_profile');
  void m.mutate({ user_id: 1, name: 'x' }).then((r) => r.ok);
  // @ts-expect-error name is required
  void m.mutate({ user_id: 1 });
  const pending: boolean = m.isPending.value;
  void pending;

  const plugin: MizanPlugin = createMizan({ global: false });
  createApp({}).use(plugin).use(createMizan());
}
