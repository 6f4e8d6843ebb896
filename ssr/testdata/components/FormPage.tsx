import { useState } from 'react';

// FormPage is a page with a form (forms_ext_test.go): it shows the project
// it was rendered with and the state of the form in its "form" prop.
export default function FormPage(props: {
  initialData?: Record<string, unknown>;
  params?: Record<string, string>;
  form?: { name: string; values: Record<string, string>; errors: Record<string, string[]>; status: number };
}) {
  const [data] = useState(props.initialData ?? {});
  const form = props.form;
  return (
    <main>
      <pre id="data">{JSON.stringify(data)}</pre>
      <form method="post" action={`/projects/${props.params?.project_id}/rename/`}>
        <input name="name" defaultValue={form?.values.name ?? ''} />
        {(form?.errors.name ?? []).map((m) => (
          <p className="error" key={m}>
            {m}
          </p>
        ))}
        <p id="status">{form ? String(form.status) : 'none'}</p>
      </form>
    </main>
  );
}
