// Exercises the react target's output for the fixture app the way an app
// would, so that tsc checks call sites as well as declarations. Copied next
// to the generated files by tsc-check.sh; never run.
import {
  callUpdateProfile,
  fetchUser,
  fieldErrors,
  isMizanError,
  MizanError,
  type UpdateProfileArgs,
  type UserBundle,
} from './client.js';
import { MizanContext, useCurrentUser, useUpdateProfile, useUser, useUserProfile } from './hooks.js';
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
