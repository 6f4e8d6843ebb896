// The optimistic updaters of the taskboard's writes (docs/client.md,
// "Optimistic updates"): adding a task, moving one and commenting show at
// once, from the data the page has and the call's arguments, before the
// server answers. A failed call rolls them back; a successful one's targets
// refetch what they changed, whose data then replaces them.
//
// A provisional row (a task or a comment the server has not created yet)
// has a negative id, which the page shows as pending. Its id is the same
// every time the updater runs for one call (the kernel runs them again when
// a refetch lands while the call is in flight), so that React keeps its
// element.
import type {
  AddCommentArgs,
  AddCommentOptimistic,
  AddTaskArgs,
  AddTaskOptimistic,
  MoveTaskOptimistic,
  Person,
  ProjectStatsResult,
  Stats,
  Status,
  TaskCard,
  TaskComment,
} from './gen/client';

const provisional = new WeakMap<object, { id: number; at: string }>();
let last = 0;

/** draftOf returns the id (negative) and time of the provisional row of the call with args. */
function draftOf(args: object): { id: number; at: string } {
  let d = provisional.get(args);
  if (!d) provisional.set(args, (d = { id: --last, at: new Date().toISOString() }));
  return d;
}

/** isProvisional reports whether a row is one the server has not created yet. */
export const isProvisional = (row: { id: number }): boolean => row.id < 0;

const sameTitle = (a: string, b: string): boolean => a.trim().toLowerCase() === b.trim().toLowerCase();

/** moved returns the stats after a task went from one status to another. */
function moved(s: Stats, from: Status | undefined, to: Status): Stats {
  if (from === to) return s;
  const out = { ...s, [to]: s[to] + 1 };
  if (from) out[from] = Math.max(0, s[from] - 1);
  else out.total = s.total + 1;
  return out;
}

/**
 * addTaskUpdaters are add_task's: a provisional card at the end of the
 * project's tasks (to do, with the assignee picked from the team), and one
 * more task to do in its numbers. A refetch that lands while the call is in
 * flight may hold the task already (the server ran it): then the card is not
 * added again (titles are unique in a project).
 */
export function addTaskUpdaters(team: readonly Person[] | undefined) {
  const card = (v: Partial<AddTaskArgs>): TaskCard => ({
    id: draftOf(v).id,
    title: (v.title ?? '').trim(),
    status: 'todo',
    assignee: team?.find((p) => p.id === v.assignee_id) ?? null,
    comments: 0,
    due_date: v.due_date || null,
  });
  return {
    project_tasks: (tasks: TaskCard[], v: Partial<AddTaskArgs>): TaskCard[] =>
      tasks.some((t) => sameTitle(t.title, v.title ?? '')) ? tasks : [...tasks, card(v)],
    project_stats: (s: ProjectStatsResult): ProjectStatsResult => moved(s, undefined, 'todo'),
  } satisfies AddTaskOptimistic;
}

/**
 * moveTaskUpdaters are move_task's, for a task shown with status from: its
 * card and its detail take the new status, and the project's numbers follow.
 */
export function moveTaskUpdaters(from: Status): MoveTaskOptimistic {
  return {
    project_tasks: (tasks, a) => tasks.map((t) => (t.id === a.task_id ? { ...t, status: a.status } : t)),
    task_detail: (d, a) => (d.id === a.task_id ? { ...d, status: a.status } : d),
    project_stats: (s, a) => moved(s, from, a.status),
  };
}

/**
 * addCommentUpdaters are add_comment's, by the signed-in user: a
 * provisional comment at the end of the task's, and one more on its card.
 */
export function addCommentUpdaters(me: Person): AddCommentOptimistic {
  return {
    task_comments: (comments, a: AddCommentArgs): TaskComment[] => {
      const d = draftOf(a);
      return [...comments, { id: d.id, author: { id: me.id, name: me.name }, body: a.body, created_at: d.at }];
    },
    project_tasks: (tasks, a) => tasks.map((t) => (t.id === a.task_id ? { ...t, comments: t.comments + 1 } : t)),
  };
}
