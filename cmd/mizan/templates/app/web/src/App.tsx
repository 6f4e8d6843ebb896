import { useState, type FormEvent } from 'react';
import { fieldErrors, type AddItemArgs } from './gen/client';
import { useAddItem, useListItems } from './gen/hooks';

/**
 * Two instances of the list context, list_id=1 and list_id=2. Adding an item
 * calls add_item, whose answer names what went stale (list;list_id=N): only
 * that list refetches.
 */
export function App() {
  return (
    <main>
      <h1>Lists</h1>
      <p>
        Each list is an instance of the <code>list</code> context. Adding an item to one refetches that one
        only: the mutation&rsquo;s <code>list_id</code> argument scopes its invalidation.
      </p>
      <div className="lists">
        <ItemList listId={1} />
        <ItemList listId={2} />
      </div>
    </main>
  );
}

function ItemList({ listId }: { listId: number }) {
  const items = useListItems({ list_id: listId });
  const add = useAddItem();
  const [title, setTitle] = useState('');

  async function submit(e: FormEvent) {
    e.preventDefault();
    try {
      await add.mutate({ list_id: listId, title });
      setTitle('');
    } catch {
      // add.error holds it; shown below.
    }
  }

  const titleError = fieldErrors<AddItemArgs>(add.error)?.title;
  return (
    <section className="list" data-testid={`list-${listId}`}>
      <h2>List {listId}</h2>
      {items.data ? (
        items.data.length > 0 ? (
          <ul>
            {items.data.map((item) => (
              <li key={item.id}>{item.title}</li>
            ))}
          </ul>
        ) : (
          <p className="empty">Nothing yet.</p>
        )
      ) : (
        <p className="status">{items.error ? items.error.message : 'Loading…'}</p>
      )}
      <form onSubmit={(e) => void submit(e)}>
        <input
          aria-label={`New item for list ${listId}`}
          placeholder="New item"
          value={title}
          onChange={(e) => setTitle(e.target.value)}
        />
        <button type="submit" disabled={add.isPending}>
          Add
        </button>
      </form>
      {titleError && <p className="error">Title: {titleError}</p>}
    </section>
  );
}
