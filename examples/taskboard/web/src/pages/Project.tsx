// A project's page, /projects/{project_id}, rendered on the server
// (pages.go) from the bundles in initialData, and hydrated in the browser
// by main.tsx.
import { MizanClient } from '@mizan/base';
import { useState } from 'react';
import type { ServerForm } from '../forms';
import { Root } from '../root';

// The page also renders the project's forms' routes (forms.go): for their
// GET and their invalid posts, form is the form's state and the path is
// the form's route, where the browser is.
const formPaths: Record<string, string> = { add_task: '/tasks/new', edit_tasks: '/tasks/edit' };

export default function ProjectRoute(props: { initialData: Record<string, unknown>; params: { project_id: string }; form?: ServerForm }) {
  const { initialData, params, form } = props;
  const [client] = useState(() => new MizanClient({ initialData }));
  const path = `/projects/${params.project_id}${(form && formPaths[form.name]) ?? ''}`;
  return <Root client={client} path={path} form={form} />;
}
