// A project's page: its name, numbers and board of tasks, and the panel of
// the open task with its comments.
import { useState, type FormEvent } from 'react';
import { AddTaskForm, EditTasksForm } from './forms';
import { type Person, type Stats, type Status, type TaskCard } from './gen/client';
import {
  useAddComment,
  useAssignTask,
  useDeleteProject,
  useDeleteTask,
  useMoveTask,
  useProjectInfo,
  useProjectStats,
  useProjectTasks,
  useRenameProject,
  useTask,
  useTeam,
} from './gen/hooks';
import { addCommentUpdaters, isProvisional, moveTaskUpdaters } from './optimistic';
import { Link, navigate } from './router';
import { ago, Avatar, ErrorNote, ignore, statuses, statusLabel, useMe } from './ui';

export function ProjectPage({ projectId, taskId, editing }: { projectId: number; taskId?: number; editing?: boolean }) {
  const params = { project_id: projectId };
  const info = useProjectInfo(params);
  const tasks = useProjectTasks(params);
  const me = useMe();
  if (info.error && !info.data) {
    return (
      <section className="card">
        <ErrorNote error={info.error} />
        <Link to="/">Back to the projects</Link>
      </section>
    );
  }
  if (!info.data) return <p className="muted">Loading…</p>;
  return (
    <div className={taskId === undefined ? 'project' : 'project with-panel'}>
      <section className="project-main">
        <ProjectHeader projectId={projectId} name={info.data.name} description={info.data.description} />
        <StatsBar projectId={projectId} />
        {me ? (
          <>
            <AddTaskForm projectId={projectId} />
            {editing && tasks.data ? (
              <EditTasksForm projectId={projectId} tasks={tasks.data.filter((t) => !isProvisional(t))} />
            ) : (
              tasks.data &&
              tasks.data.length > 0 && (
                <p className="row">
                  <Link to={`/projects/${projectId}/tasks/edit`} className="button ghost" data-testid="bulk-edit-link">
                    Edit several tasks
                  </Link>
                </p>
              )
            )}
          </>
        ) : (
          <p className="hint">
            <Link to="/signin">Sign in</Link> to add tasks, move them and comment.
          </p>
        )}
        <ErrorNote error={tasks.error} />
        <Board projectId={projectId} tasks={tasks.data} taskId={taskId} canEdit={!!me} />
      </section>
      {taskId !== undefined && <TaskPanel projectId={projectId} taskId={taskId} />}
    </div>
  );
}

function ProjectHeader({ projectId, name, description }: { projectId: number; name: string; description: string }) {
  const me = useMe();
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState({ name, description });
  const rename = useRenameProject();
  const del = useDeleteProject();
  const save = (e: FormEvent) => {
    e.preventDefault();
    rename
      .mutate({ project_id: projectId, name: draft.name.trim(), description: draft.description.trim() })
      .then(() => setEditing(false))
      .catch(ignore);
  };
  const remove = () => {
    if (!window.confirm(`Delete "${name}" with all its tasks and comments?`)) return;
    del
      .mutate({ project_id: projectId })
      .then(() => navigate('/'))
      .catch(ignore);
  };
  if (editing) {
    return (
      <form className="project-header edit" onSubmit={save}>
        <input aria-label="Project name" value={draft.name} maxLength={80} onChange={(e) => setDraft({ ...draft, name: e.target.value })} />
        <textarea
          aria-label="Project description"
          value={draft.description}
          maxLength={500}
          rows={2}
          onChange={(e) => setDraft({ ...draft, description: e.target.value })}
        />
        <div className="row">
          <button className="button" disabled={rename.isPending}>
            Save
          </button>
          <button type="button" className="button ghost" onClick={() => setEditing(false)}>
            Cancel
          </button>
        </div>
        <ErrorNote error={rename.error} />
      </form>
    );
  }
  return (
    <header className="project-header">
      <div>
        <h1 data-testid="project-name">{name}</h1>
        <p className="muted">{description}</p>
      </div>
      <div className="row">
        {me && (
          <button
            className="button ghost"
            onClick={() => {
              setDraft({ name, description });
              rename.reset();
              setEditing(true);
            }}
          >
            Rename
          </button>
        )}
        <a className="button ghost" href={`/projects/${projectId}/print/`} target="_blank" rel="noreferrer">
          Print view
        </a>
        {me?.staff && (
          <button className="button danger" disabled={del.isPending} onClick={remove}>
            Delete
          </button>
        )}
      </div>
      <ErrorNote error={del.error} />
    </header>
  );
}

function StatsBar({ projectId }: { projectId: number }) {
  const stats = useProjectStats({ project_id: projectId });
  const s: Stats = stats.data ?? { todo: 0, doing: 0, done: 0, total: 0 };
  const pct = (n: number) => (s.total === 0 ? 0 : (100 * n) / s.total);
  return (
    <div className="stats" data-testid="stats">
      <div className="stacked" aria-hidden="true">
        <span className="seg seg-done" style={{ width: `${pct(s.done)}%` }} />
        <span className="seg seg-doing" style={{ width: `${pct(s.doing)}%` }} />
      </div>
      <span>
        <strong>{s.total}</strong> tasks · {s.todo} to do · {s.doing} in progress · {s.done} done
      </span>
    </div>
  );
}

function AssigneeSelect(props: { value: number | null; onChange: (id: number | null) => void; label: string; disabled?: boolean }) {
  const team = useTeam();
  return (
    <select
      aria-label={props.label}
      value={props.value ?? ''}
      disabled={props.disabled}
      onChange={(e) => props.onChange(e.target.value === '' ? null : Number(e.target.value))}
    >
      <option value="">Nobody</option>
      {team.data?.map((u: Person) => (
        <option key={u.id} value={u.id}>
          {u.name}
        </option>
      ))}
    </select>
  );
}

/**
 * Board shows the project's tasks in their columns. It holds the move of
 * the cards' arrows: a moved card changes column at once (optimistic), so
 * it is another element, and its error shows here, above the columns.
 */
function Board({ projectId, tasks, taskId, canEdit }: { projectId: number; tasks: TaskCard[] | undefined; taskId?: number; canEdit: boolean }) {
  const move = useMoveTask();
  // The tasks whose move is in flight, shown as pending.
  const [moving, setMoving] = useState<readonly number[]>([]);
  const moveTo = (task: TaskCard, status: Status) => {
    setMoving((m) => [...m, task.id]);
    move
      .mutate({ project_id: projectId, task_id: task.id, status }, { optimistic: moveTaskUpdaters(task.status) })
      .catch(ignore)
      .finally(() =>
        setMoving((m) => {
          const i = m.indexOf(task.id);
          return i < 0 ? m : [...m.slice(0, i), ...m.slice(i + 1)];
        }),
      );
  };
  return (
    <div className="board" data-testid="board">
      <ErrorNote error={move.error} />
      <div className="columns">
        {statuses.map(({ status, label }) => {
          const cards = tasks?.filter((t) => t.status === status) ?? [];
          return (
            <section key={status} className={`column column-${status}`} data-testid={`column-${status}`} aria-label={label}>
              <h2 className="column-title">
                {label} <span className="count">{cards.length}</span>
              </h2>
              {cards.map((t) => (
                <Card
                  key={t.id}
                  projectId={projectId}
                  task={t}
                  open={t.id === taskId}
                  canEdit={canEdit}
                  pending={isProvisional(t) || moving.includes(t.id)}
                  onMove={(to) => moveTo(t, to)}
                />
              ))}
              {cards.length === 0 && <p className="empty">Nothing here.</p>}
            </section>
          );
        })}
      </div>
    </div>
  );
}

/** Card is a task on the board; a pending one (not created yet, or moving) is marked aria-busy. */
function Card(props: { projectId: number; task: TaskCard; open: boolean; canEdit: boolean; pending: boolean; onMove: (status: Status) => void }) {
  const { projectId, task, open, canEdit, pending } = props;
  const i = statuses.findIndex((s) => s.status === task.status);
  const prev = statuses[i - 1];
  const next = statuses[i + 1];
  const draft = isProvisional(task);
  const className = ['task-card', open && 'open', pending && 'pending'].filter(Boolean).join(' ');
  return (
    <article className={className} data-testid={`task-${task.id}`} aria-busy={pending || undefined}>
      {draft ? (
        // Not created yet: it has no page to open.
        <span className="task-title">{task.title}</span>
      ) : (
        <Link to={open ? `/projects/${projectId}` : `/projects/${projectId}/tasks/${task.id}`} className="task-title">
          {task.title}
        </Link>
      )}
      <div className="task-meta">
        {task.assignee ? <Avatar person={task.assignee} size="sm" /> : <span className="muted small">unassigned</span>}
        {task.due_date && <span className="muted small due">due {task.due_date}</span>}
        {task.comments > 0 && (
          <span className="muted small comment-count" title={`${task.comments} comments`} data-testid={`comments-${task.id}`}>
            <svg viewBox="0 0 16 16" width="13" height="13" aria-hidden="true">
              <path d="M2 3h12v8H6l-3 3v-3H2z" fill="none" stroke="currentColor" strokeWidth="1.5" strokeLinejoin="round" />
            </svg>
            {task.comments}
          </span>
        )}
        {canEdit && !draft && (
          <span className="move">
            {prev && (
              <button className="icon" disabled={pending} onClick={() => props.onMove(prev.status)} aria-label={`Move to ${prev.label}`} title={`Move to ${prev.label}`}>
                ←
              </button>
            )}
            {next && (
              <button className="icon" disabled={pending} onClick={() => props.onMove(next.status)} aria-label={`Move to ${next.label}`} title={`Move to ${next.label}`}>
                →
              </button>
            )}
          </span>
        )}
      </div>
    </article>
  );
}

function TaskPanel({ projectId, taskId }: { projectId: number; taskId: number }) {
  const task = useTask({ task_id: taskId });
  const me = useMe();
  const move = useMoveTask();
  const assign = useAssignTask();
  const del = useDeleteTask();
  const close = () => navigate(`/projects/${projectId}`);
  const d = task.data?.task_detail;
  return (
    <aside className="panel" aria-label="Task" data-testid="task-panel">
      <button className="icon close" onClick={close} aria-label="Close">
        ×
      </button>
      <ErrorNote error={task.error} />
      {!d && !task.error && <p className="muted">Loading…</p>}
      {d && (
        <>
          <h2 className="panel-title">{d.title}</h2>
          <p className="muted small">
            Added by {d.created_by.name} {ago(d.created_at)} in {d.project_name}
          </p>
          <dl className="fields">
            <dt>Status</dt>
            <dd>
              {me ? (
                <select
                  aria-label="Status"
                  value={d.status}
                  disabled={move.isPending}
                  onChange={(e) =>
                    move
                      .mutate({ project_id: projectId, task_id: taskId, status: e.target.value as Status }, { optimistic: moveTaskUpdaters(d.status) })
                      .catch(ignore)
                  }
                >
                  {statuses.map((s) => (
                    <option key={s.status} value={s.status}>
                      {s.label}
                    </option>
                  ))}
                </select>
              ) : (
                statusLabel(d.status)
              )}
            </dd>
            <dt>Assignee</dt>
            <dd>
              {me ? (
                <AssigneeSelect
                  label="Task assignee"
                  value={d.assignee?.id ?? null}
                  disabled={assign.isPending}
                  onChange={(id) => assign.mutate({ project_id: projectId, task_id: taskId, assignee_id: id }).catch(ignore)}
                />
              ) : (
                (d.assignee?.name ?? 'Nobody')
              )}
            </dd>
            {d.due_date && (
              <>
                <dt>Due</dt>
                <dd data-testid="task-due">{d.due_date}</dd>
              </>
            )}
          </dl>
          {d.description && <p className="description">{d.description}</p>}
          <ErrorNote error={move.error ?? assign.error} />
          <Comments projectId={projectId} taskId={taskId} />
          {me && (
            <button
              className="button danger small"
              disabled={del.isPending}
              onClick={() =>
                del
                  .mutate({ project_id: projectId, task_id: taskId })
                  .then(close)
                  .catch(ignore)
              }
            >
              Delete task
            </button>
          )}
          <ErrorNote error={del.error} />
        </>
      )}
    </aside>
  );
}

function Comments({ projectId, taskId }: { projectId: number; taskId: number }) {
  const comments = useTask({ task_id: taskId }).data?.task_comments ?? [];
  const me = useMe();
  const [body, setBody] = useState('');
  const add = useAddComment();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!me) return;
    // The comment shows at once, pending, and the card's count with it.
    add
      .mutate({ project_id: projectId, task_id: taskId, body: body.trim() }, { optimistic: addCommentUpdaters(me) })
      .then(() => setBody(''))
      .catch(ignore);
  };
  return (
    <section className="comments" aria-label="Comments">
      <h3>Comments</h3>
      {comments.length === 0 && <p className="muted small">No comments yet.</p>}
      <ul>
        {comments.map((c) => (
          <li key={c.id} className={isProvisional(c) ? 'comment pending' : 'comment'} aria-busy={isProvisional(c) || undefined}>
            <Avatar person={c.author} size="sm" />
            <div>
              <p className="comment-head">
                <strong>{c.author.name}</strong> <span className="muted small">{ago(c.created_at)}</span>
              </p>
              <p className="comment-body">{c.body}</p>
            </div>
          </li>
        ))}
      </ul>
      {me ? (
        <form onSubmit={submit} className="comment-form">
          <textarea aria-label="Comment" placeholder="Write a comment…" rows={2} maxLength={2000} value={body} onChange={(e) => setBody(e.target.value)} />
          <button className="button small" disabled={add.isPending || body.trim() === ''}>
            Comment
          </button>
          <ErrorNote error={add.error} />
        </form>
      ) : (
        <p className="hint">
          <Link to="/signin">Sign in</Link> to comment.
        </p>
      )}
    </section>
  );
}
