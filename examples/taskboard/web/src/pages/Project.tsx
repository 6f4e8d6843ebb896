// A project's page, /projects/{project_id}, rendered on the server
// (pages.go) from the bundles in initialData, and hydrated in the browser
// by main.tsx.
import { MizanClient } from '@mizan/base';
import { useState } from 'react';
import { Root } from '../root';

export default function ProjectRoute({ initialData, params }: { initialData: Record<string, unknown>; params: { project_id: string } }) {
  const [client] = useState(() => new MizanClient({ initialData }));
  return <Root client={client} path={`/projects/${params.project_id}`} />;
}
