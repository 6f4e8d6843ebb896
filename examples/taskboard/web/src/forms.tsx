// The taskboard's two forms over the hooks mizan generate writes from the
// Go structs of forms.go: adding a task, and editing several at once (a
// formset). The rules are the Go struct's: the hooks check in the browser
// the ones a browser can check, before any request, and show the server's
// answers (a title already taken, a row naming another project's task) on
// their fields.
//
// Each <form> also works without JavaScript: it posts to the form's route
// with inputs named as the form's keys (title, tasks.0.title), and the
// server answers an invalid post with this page again, rendered with the
// form's state (the `form` prop of pages/*.tsx, ssr.FormProps), or a valid
// one with a redirect to the project's page. Once the page has hydrated,
// the same markup is React's and submits through the client.
import type { FormSchema } from '@mizan/base/forms';
import type { FieldPath, FormState } from '@mizan/react/forms';
import { createContext, useContext, type FormEvent } from 'react';
import { addTaskForm, editTasksForm, type EditTasksFormValues, type Person, type TaskCard } from './gen/client';
import { useAddTaskForm, useEditTasksForm, useTeam } from './gen/hooks';
import { addTaskUpdaters } from './optimistic';
import { Link, navigate, usePath } from './router';
import { statuses } from './ui';

/** ServerForm is the state of a form a page was rendered with on the server (ssr.FormProps). */
export interface ServerForm {
  name: string;
  values: Record<string, string>;
  errors: Record<string, string[]>;
  form_errors: string[] | null;
  status: number;
}

/** The form a server-rendered page shows, and the path it was rendered for. */
export const ServerFormContext = createContext<{ path: string; form?: ServerForm }>({ path: '' });

/**
 * useServerForm returns the state form name was rendered with, while the
 * page is still the one the server rendered it on; once the user has moved
 * on, the form starts afresh.
 */
function useServerForm(name: string): ServerForm | undefined {
  const { path, form } = useContext(ServerFormContext);
  return usePath() === path && form?.name === name ? form : undefined;
}

/**
 * initialValues turns the values a form was posted with (strings by key,
 * tasks.0.title) into the hook's values: numbers for int fields, rows for
 * a formset.
 */
function initialValues(schema: FormSchema, posted: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const typed = (type: string, v: string): unknown => (type === 'int' || type === 'number' ? (v === '' ? undefined : Number(v)) : v);
  for (const f of schema.fields) {
    if (f.type !== 'formset') {
      if (f.name in posted) out[f.name] = typed(f.type, posted[f.name] ?? '');
      continue;
    }
    const rows: Record<string, unknown>[] = [];
    for (const [key, v] of Object.entries(posted)) {
      const m = /^(\w+)\.(\d+)\.(\w+)$/.exec(key);
      const sub = m && m[1] === f.name ? f.fields?.find((x) => x.name === m[3]) : undefined;
      if (!m || !sub) continue;
      const i = Number(m[2]);
      rows[i] = { ...rows[i], [sub.name]: typed(sub.type, v) };
    }
    if (rows.length) out[f.name] = Array.from(rows, (r) => r ?? {});
  }
  return out;
}

const text = (v: unknown): string => (v === undefined || v === null ? '' : String(v));

/** FieldErrors shows the messages of one key, and ties them to their input. */
function FieldErrors({ errors, id }: { errors: string[] | undefined; id: string }) {
  if (!errors?.length) return null;
  return (
    <ul className="errorlist" id={id} data-testid={`errors-${id}`}>
      {errors.map((m) => (
        <li key={m}>{m}</li>
      ))}
    </ul>
  );
}

/** FormErrors shows what is wrong with the form as a whole: the server's form errors, or a failed call that names no field. */
function FormErrors<V, R>({ form, server }: { form: FormState<V, R>; server?: ServerForm }) {
  const err = form.submitError;
  const messages = err ? (err.fields ? [] : [err.message]) : (server?.form_errors ?? []);
  if (!messages.length) return null;
  return (
    <p className="error" role="alert">
      {messages.join(' ')}
    </p>
  );
}

/**
 * change sets a field's value. A field is checked when it loses focus, and
 * again at each change once it shows an error, so that the error goes as
 * soon as the value is right (and not on the click of the submit button,
 * which would move it under the pointer).
 */
function change<V extends Record<string, unknown>, R>(form: FormState<V, R>, key: FieldPath<V>, value: string): void {
  form.setValue(key, value);
  if (form.errors[key]?.length) void form.validateField(key);
}

/** errorProps are the ARIA attributes of an input with errors. */
function errorProps(errors: string[] | undefined, id: string): { 'aria-invalid'?: true; 'aria-describedby'?: string } {
  return errors?.length ? { 'aria-invalid': true, 'aria-describedby': id } : {};
}

/** idOf is the id of a key's error list: tasks.0.title is errors-tasks-0-title. */
const idOf = (key: string) => `${key.replace(/\./g, '-')}-errors`;

/** AddTaskForm creates a task in the project: title, description, due date and assignee. */
export function AddTaskForm({ projectId }: { projectId: number }) {
  const server = useServerForm('add_task');
  const team = useTeam();
  const form = useAddTaskForm({
    initial: { ...initialValues(addTaskForm, server?.values ?? {}), project_id: projectId },
    initialErrors: server?.errors,
    // The new task shows on the board at once, as a pending card, until
    // the server's answer and the refetch it causes (or rolled back if the
    // call fails).
    optimistic: addTaskUpdaters(team.data),
    onSuccess: () => {
      form.reset({ project_id: projectId });
      navigate(`/projects/${projectId}`, true); // away from /tasks/new, if the page was an invalid post's
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void form.submit();
  };
  const field = (name: 'title' | 'description' | 'due_date' | 'assignee_id') => {
    const errors = form.errors[name];
    return {
      name,
      value: text(form.values[name]),
      onChange: (e: { target: { value: string } }) => change(form, name, e.target.value),
      onBlur: () => void form.validateField(name),
      ...errorProps(errors, idOf(name)),
    };
  };
  return (
    <form className="add-task" method="post" action={`/projects/${projectId}/tasks/new`} noValidate onSubmit={submit} data-testid="add-task">
      <FormErrors form={form} server={server} />
      <div className="field grow" data-field="title">
        <input aria-label="New task" placeholder="What needs doing?" {...field('title')} />
        <FieldErrors errors={form.errors.title} id={idOf('title')} />
      </div>
      <div className="field" data-field="assignee_id">
        <select aria-label="Assignee" {...field('assignee_id')}>
          <option value="">Nobody</option>
          {team.data?.map((u: Person) => (
            <option key={u.id} value={u.id}>
              {u.name}
            </option>
          ))}
        </select>
        <FieldErrors errors={form.errors.assignee_id} id={idOf('assignee_id')} />
      </div>
      <div className="field" data-field="due_date">
        <input type="date" aria-label="Due date" {...field('due_date')} />
        <FieldErrors errors={form.errors.due_date} id={idOf('due_date')} />
      </div>
      <button className="button" disabled={form.isSubmitting}>
        Add task
      </button>
      <div className="field full" data-field="description">
        <textarea aria-label="Description" placeholder="Details (optional)" rows={1} {...field('description')} />
        <FieldErrors errors={form.errors.description} id={idOf('description')} />
      </div>
    </form>
  );
}

/** EditTasksForm renames and moves every task of the project in one submit: a formset, a row per task. */
export function EditTasksForm({ projectId, tasks }: { projectId: number; tasks: TaskCard[] }) {
  const server = useServerForm('edit_tasks');
  const posted = initialValues(editTasksForm, server?.values ?? {}).tasks as EditTasksFormValues['tasks'] | undefined;
  const form = useEditTasksForm({
    // A GET of the route (or no server state) starts from the tasks; an
    // invalid post's page from the rows posted.
    initial: { project_id: projectId, tasks: posted ?? tasks.map((t) => ({ task_id: t.id, title: t.title, status: t.status })) },
    initialErrors: server?.errors,
    onSuccess: () => navigate(`/projects/${projectId}`),
  });
  const { rows } = form.formset('tasks');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void form.submit();
  };
  const cell = (i: number, name: 'title' | 'status'): { key: string; errors: string[] | undefined; props: Record<string, unknown> } => {
    const key = `tasks.${i}.${name}` as const;
    const errors = form.errors[key];
    return {
      key,
      errors,
      props: {
        name: key,
        value: text(rows[i]?.[name]),
        onChange: (e: { target: { value: string } }) => change(form, key, e.target.value),
        onBlur: () => void form.validateField(key),
        ...errorProps(errors, idOf(key)),
      },
    };
  };
  return (
    <form className="bulk-edit card" method="post" action={`/projects/${projectId}/tasks/edit`} noValidate onSubmit={submit} data-testid="bulk-edit">
      <h2>Edit the tasks</h2>
      <FormErrors form={form} server={server} />
      <FieldErrors errors={form.errors.tasks} id={idOf('tasks')} />
      <table>
        <thead>
          <tr>
            <th>Title</th>
            <th>Status</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row, i) => {
            const title = cell(i, 'title');
            const status = cell(i, 'status');
            const idKey = `tasks.${i}.task_id`;
            return (
              <tr key={text(row.task_id) || i} data-row={`tasks.${i}`} data-testid={`row-${i}`} className={title.errors || status.errors ? 'invalid' : undefined}>
                <td data-field={title.key}>
                  <input type="hidden" name={idKey} value={text(row.task_id)} />
                  <input aria-label={`Title of row ${i + 1}`} {...title.props} />
                  <FieldErrors errors={title.errors} id={idOf(title.key)} />
                  <FieldErrors errors={form.errors[idKey as `tasks.${number}.task_id`]} id={idOf(idKey)} />
                </td>
                <td data-field={status.key}>
                  <select aria-label={`Status of row ${i + 1}`} {...status.props}>
                    {statuses.map((s) => (
                      <option key={s.status} value={s.status}>
                        {s.label}
                      </option>
                    ))}
                  </select>
                  <FieldErrors errors={status.errors} id={idOf(status.key)} />
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <div className="row">
        <button className="button" disabled={form.isSubmitting}>
          Save all
        </button>
        <Link to={`/projects/${projectId}`} className="button ghost">
          Cancel
        </Link>
      </div>
    </form>
  );
}

/**
 * useSignInServerForm returns what the server answered a sign-in posted
 * without JavaScript (sign_in, forms.go): the username posted and the
 * messages to show.
 */
export function useSignInServerForm(): { username: string; messages: string[] } {
  const server = useServerForm('sign_in');
  const messages = [...(server?.form_errors ?? []), ...Object.entries(server?.errors ?? {}).map(([k, m]) => `${k}: ${m.join(' ')}`)];
  return { username: server?.values.username ?? '', messages };
}
