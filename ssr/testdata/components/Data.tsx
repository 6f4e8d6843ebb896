import { useState } from 'react';

// Data shows the props it was rendered with, as a page component would
// show the data of its hydrated client.
export default function Data(props: { initialData?: Record<string, unknown>; params?: Record<string, string>; note?: string }) {
  const [data] = useState(props.initialData ?? {});
  return (
    <main>
      <pre id="data">{JSON.stringify(data)}</pre>
      <p id="params">{JSON.stringify(props.params ?? {})}</p>
      <p id="note">{props.note ?? ''}</p>
    </main>
  );
}
