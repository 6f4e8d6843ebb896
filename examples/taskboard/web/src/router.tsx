// A tiny client-side router over the History API: enough for a handful of
// routes, without a dependency. The Go server renders the main pages
// (pages.go) and answers every other path without a file extension with
// index.html, so deep links work.
//
// On the server there is no window: the page components give the path to
// render in PathContext, and usePath reads it as its server snapshot. The
// browser's entry gives the same path when it hydrates, so both render the
// same markup; after hydration, usePath follows window.location.
import { createContext, useContext, useSyncExternalStore, type MouseEvent, type ReactNode } from 'react';

/** PathContext holds the path a server render (and the hydration that follows) shows. */
export const PathContext = createContext('/');

const listeners = new Set<() => void>();

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  window.addEventListener('popstate', listener);
  return () => {
    listeners.delete(listener);
    window.removeEventListener('popstate', listener);
  };
}

function getPath(): string {
  return window.location.pathname;
}

/** usePath returns the current path and re-renders when it changes. */
export function usePath(): string {
  const serverPath = useContext(PathContext);
  return useSyncExternalStore(subscribe, getPath, () => serverPath);
}

/** navigate goes to path, adding a history entry (or replacing the current one). */
export function navigate(path: string, replace = false): void {
  if (path === getPath()) return;
  if (replace) window.history.replaceState(null, '', path);
  else window.history.pushState(null, '', path);
  for (const l of listeners) l();
}

/** Route is what a path names. */
export type Route =
  | { page: 'home' }
  | { page: 'project'; projectId: number; taskId?: number; form?: 'new' | 'edit' }
  | { page: 'team' }
  | { page: 'signin' }
  | { page: 'not-found' };

/** match turns a path into a route. */
export function match(path: string): Route {
  if (path === '/' || path === '') return { page: 'home' };
  if (path === '/team') return { page: 'team' };
  // /signin/password is the sign-in form's route (forms.go), where a post
  // without JavaScript lands when it is refused.
  if (path === '/signin' || path === '/signin/password') return { page: 'signin' };
  // /projects/N/tasks/new and /tasks/edit are the routes of the project's
  // forms (forms.go): the project's page, with the form's state.
  const m = /^\/projects\/(\d+)(?:\/tasks\/(\d+|new|edit))?\/?$/.exec(path);
  if (m) {
    const projectId = Number(m[1]);
    if (m[2] === 'new' || m[2] === 'edit') return { page: 'project', projectId, form: m[2] };
    return m[2] === undefined ? { page: 'project', projectId } : { page: 'project', projectId, taskId: Number(m[2]) };
  }
  return { page: 'not-found' };
}

/** canonicalPath returns the path of the route path names: /projects/01/ is /projects/1. */
export function canonicalPath(path: string): string {
  const r = match(path);
  switch (r.page) {
    case 'home':
      return '/';
    case 'team':
      return '/team';
    case 'signin':
      return path.startsWith('/signin/password') ? '/signin/password' : '/signin';
    case 'project':
      if (r.form) return `/projects/${r.projectId}/tasks/${r.form}`;
      return r.taskId === undefined ? `/projects/${r.projectId}` : `/projects/${r.projectId}/tasks/${r.taskId}`;
    default:
      return path;
  }
}

/** Link is an anchor that navigates without reloading the page. */
export function Link(props: { to: string; className?: string; children?: ReactNode; 'data-testid'?: string; title?: string }) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(props.to);
  };
  const path = usePath();
  const active = path === props.to || (props.to !== '/' && path.startsWith(props.to + '/'));
  return (
    <a
      href={props.to}
      onClick={onClick}
      className={[props.className, active ? 'active' : undefined].filter(Boolean).join(' ') || undefined}
      aria-current={active ? 'page' : undefined}
      data-testid={props['data-testid']}
      title={props.title}
    >
      {props.children}
    </a>
  );
}
