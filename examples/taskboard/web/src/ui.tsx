// Small pieces shared by the pages.
import type { MizanError } from '@mizan/base';
import type { Person, Status, User } from './gen/client';
import { useCurrentUser, useProjectStats } from './gen/hooks';

/** The columns of a project's board, in order. */
export const statuses: readonly { status: Status; label: string }[] = [
  { status: 'todo', label: 'To do' },
  { status: 'doing', label: 'In progress' },
  { status: 'done', label: 'Done' },
];

/** statusLabel names a status for people. */
export function statusLabel(s: Status): string {
  return statuses.find((x) => x.status === s)?.label ?? s;
}

/** useMe returns the signed-in user, or null (undefined while loading). */
export function useMe(): User | null | undefined {
  return useCurrentUser().data;
}

const palette = ['#6d5bd0', '#d0573b', '#2f8f6b', '#c2881d', '#2f6fbf', '#b0427a'];

/** Avatar shows a person's initials on a colour of their own. */
export function Avatar({ person, size = 'md' }: { person: Person; size?: 'sm' | 'md' }) {
  const initials = person.name
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((w) => w[0]?.toUpperCase() ?? '')
    .join('');
  return (
    <span className={`avatar avatar-${size}`} style={{ background: palette[person.id % palette.length] }} title={person.name} aria-hidden="true">
      {initials || '?'}
    </span>
  );
}

/** ErrorNote shows a failed fetch or call, with its per-field messages. */
export function ErrorNote({ error }: { error: MizanError | undefined }) {
  if (!error) return null;
  const fields = error.fields ? Object.entries(error.fields) : [];
  return (
    <p className="error" role="alert">
      {error.message}
      {fields.length > 0 && ` (${fields.map(([k, v]) => `${k}: ${v}`).join('; ')})`}
    </p>
  );
}

/** ago says how long ago an RFC 3339 time was, roughly. */
export function ago(iso: string): string {
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** ignore is for mutate(...) promises whose error the page shows from the hook's state. */
export function ignore(): void {}

/** ProjectProgress keeps the project's context instance mounted, so any invalidation of it refetches it at once. */
export function ProjectProgress({ projectId, where }: { projectId: number; where: 'sidebar' | 'card' }) {
  const stats = useProjectStats({ project_id: projectId });
  if (!stats.data) return <span className="progress-text">…</span>;
  const { done, total } = stats.data;
  const pct = total === 0 ? 0 : Math.round((100 * done) / total);
  return (
    <span className="progress-wrap" data-testid={`${where}-progress-${projectId}`}>
      <span className="progress" aria-hidden="true">
        <span className="progress-bar" style={{ width: `${pct}%` }} />
      </span>
      <span className="progress-text">
        {done}/{total} done
      </span>
    </span>
  );
}
