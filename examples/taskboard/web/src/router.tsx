// A tiny client-side router over the History API: enough for a handful of
// routes, without a dependency. The Go server answers every path without
// a file extension with index.html, so deep links work.
import { useSyncExternalStore, type MouseEvent, type ReactNode } from 'react';

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
  return useSyncExternalStore(subscribe, getPath, getPath);
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
  | { page: 'project'; projectId: number; taskId?: number }
  | { page: 'team' }
  | { page: 'signin' }
  | { page: 'not-found' };

/** match turns a path into a route. */
export function match(path: string): Route {
  if (path === '/' || path === '') return { page: 'home' };
  if (path === '/team') return { page: 'team' };
  if (path === '/signin') return { page: 'signin' };
  const m = /^\/projects\/(\d+)(?:\/tasks\/(\d+))?\/?$/.exec(path);
  if (m) {
    const projectId = Number(m[1]);
    return m[2] === undefined ? { page: 'project', projectId } : { page: 'project', projectId, taskId: Number(m[2]) };
  }
  return { page: 'not-found' };
}

/** Link is an anchor that navigates without reloading the page. */
export function Link(props: { to: string; className?: string; children?: ReactNode; 'data-testid'?: string; title?: string }) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(props.to);
  };
  const path = getPath();
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
