// Board is the benchmark's component: a task board of props.tasks, about
// the size of a real page section.
interface Task {
  id: number;
  title: string;
  done: boolean;
  tags: string[];
}

export default function Board({ name, tasks }: { name: string; tasks: Task[] }) {
  const open = tasks.filter((t) => !t.done).length;
  return (
    <section className="board">
      <header>
        <h1>{name}</h1>
        <p>
          {open} open of {tasks.length}
        </p>
      </header>
      <ul>
        {tasks.map((t) => (
          <li key={t.id} className={t.done ? 'task done' : 'task'}>
            <input type="checkbox" checked={t.done} readOnly />
            <span>{t.title}</span>
            {t.tags.map((tag) => (
              <em key={tag}>{tag}</em>
            ))}
          </li>
        ))}
      </ul>
    </section>
  );
}
