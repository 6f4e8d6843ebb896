// The home page: every project with its progress.
import { useProjects } from './gen/hooks';
import { Link } from './router';
import { ErrorNote, ProjectProgress, useMe } from './ui';

export function HomePage() {
  const projects = useProjects();
  const me = useMe();
  return (
    <section>
      <h1>Projects</h1>
      <p className="lede">
        {me ? `Welcome back, ${me.name.split(' ')[0]}.` : 'Browse freely; sign in to add tasks, move them and comment.'}
      </p>
      <ErrorNote error={projects.error} />
      {projects.isLoading && <p className="muted">Loading…</p>}
      <div className="cards">
        {projects.data?.map((p) => (
          <Link key={p.id} to={`/projects/${p.id}`} className="card project-card">
            <h2>{p.name}</h2>
            <p className="muted">{p.description || 'No description.'}</p>
            <ProjectProgress projectId={p.id} where="card" />
          </Link>
        ))}
      </div>
      {projects.data?.length === 0 && <p className="muted">No projects yet.</p>}
    </section>
  );
}
