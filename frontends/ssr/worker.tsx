// worker.tsx: the Mizan server-side rendering worker (docs/ssr.md), run by
// Bun and driven by the Go package ssr over stdin and stdout, one JSON object
// per line:
//
//   ← {"id":0,"ready":true}                                   once, at start
//   → {"id":N,"method":"render","params":{"file":"/abs/Hello.tsx","props":{...}}}
//   ← {"id":N,"html":"..."}  or  {"id":N,"error":"..."}
//   → {"id":N,"method":"render","params":{"file":...,"props":{"initialData":{...},...},"collect":true}}
//   ← {"id":N,"html":"...","reads":["board","project?project_id=2"]}
//   → {"id":N,"method":"ping"}                                ← {"id":N,"pong":true}
//   → {"id":N,"method":"bench","params":{"file":...,"props":...,"n":1000,"encode":false}}
//   ← {"id":N,"bench":{"n":1000,"ns":123456789,"bytes":42}}    (renders n times in a loop;
//                                                                with encode, JSON-encodes each reply too)
//
// A render imports the file by its absolute path (once: modules are cached
// for the life of the worker; there is no component registry) and renders
// its default export with react-dom/server's renderToString. Requests are
// handled concurrently, so replies may come out of order. A component that
// throws gets an error reply; nothing a request does ends the worker. It
// exits when stdin closes, once the renders in progress are answered.
//
// The bridge runs it as `bun --no-install --preserve-symlinks worker.tsx`
// (see docs/ssr.md, "One React").
//
// With collect, the render records the context instances the component
// reads: props.initialData is passed to it wrapped in a Proxy that notes
// every key looked up in it (a MizanClient looks up the instance key of
// each instance it creates, present or not), and the reply lists them,
// sorted, in "reads". The Go side fetches those the data lacked and
// renders again, so that a page embeds every instance it reads
// (docs/ssr.md, "Embedding what the page reads").
//
// Only the Go process talks to the worker: file paths come from the server's
// own configuration and props are JSON data, never code. When MIZAN_SSR_DIRS
// is set (a list of directories, separated as PATH is), files outside them
// are refused here as well.
import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, isAbsolute, relative, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ComponentType, createElement as CreateElement } from 'react';
import type { renderToString as RenderToString } from 'react-dom/server';

type Props = Record<string, unknown>;

/** The React of one component's directory: the renderer must be the copy the component's own hooks use. */
interface ReactPair {
  createElement: typeof CreateElement;
  renderToString: typeof RenderToString;
}

interface Request {
  id: number;
  method: string;
  params: Record<string, unknown>;
}

// Replies are buffered and written together on the next turn of the event
// loop: one write per batch of replies, not one per reply (under load this
// batches the replies of several chunks of requests, which costs a little
// latency and buys much throughput).
let out: string[] = [];
// flush writes the buffered replies; done, if given, runs once they are
// written (at once when there are none).
const flush = (done?: () => void): void => {
  if (!out.length) {
    done?.();
    return;
  }
  const text = out.join('');
  out = [];
  if (done) process.stdout.write(text, () => done());
  else process.stdout.write(text);
};
const send = (msg: object): void => {
  if (!out.length) setImmediate(() => flush());
  out.push(JSON.stringify(msg) + '\n');
};

// stdout carries the protocol: whatever components print goes to stderr.
console.log = console.info = console.debug = console.error;
process.on('uncaughtException', (e) => console.error('mizan ssr worker: uncaught exception:', e));
process.on('unhandledRejection', (e) => console.error('mizan ssr worker: unhandled rejection:', e));

const roots = (process.env.MIZAN_SSR_DIRS ?? '')
  .split(delimiter)
  .filter((d) => d !== '')
  .map((d) => realpathSync(d));

const message = (e: unknown): string => (e instanceof Error ? e.message || e.name : String(e));

/** inside reports whether the real path of file lies in one of the allowed directories (all when none are set). */
function inside(file: string): boolean {
  if (!roots.length) return true;
  const real = realpathSync(file);
  return roots.some((root) => {
    const rel = relative(root, real);
    return rel !== '' && rel !== '..' && !rel.startsWith('..' + sep) && !isAbsolute(rel);
  });
}

/** member returns a function exported by an imported module, ES or CommonJS. */
function member<T>(mod: unknown, name: string): T {
  const m = mod as Record<string, unknown> & { default?: Record<string, unknown> };
  const f = m[name] ?? m.default?.[name];
  if (typeof f !== 'function') throw new Error(`${name} is not exported by the resolved React package`);
  return f as T;
}

const reacts = new Map<string, Promise<ReactPair>>();

/** reactFor returns the React that file's own imports resolve to (from its directory, then NODE_PATH). */
function reactFor(file: string): Promise<ReactPair> {
  const req = createRequire(file);
  const reactPath = req.resolve('react');
  const serverPath = req.resolve('react-dom/server');
  const key = reactPath + '\0' + serverPath;
  let p = reacts.get(key);
  if (!p) {
    p = Promise.all([import(reactPath), import(serverPath)]).then(([react, server]) => ({
      createElement: member<typeof CreateElement>(react, 'createElement'),
      renderToString: member<typeof RenderToString>(server, 'renderToString'),
    }));
    reacts.set(key, p);
    p.catch(() => reacts.delete(key));
  }
  return p;
}

interface Loaded {
  component: ComponentType<Props>;
  react: ReactPair;
}

const modules = new Map<string, Promise<Loaded>>();
/** Modules already imported: renders of these run at once, without a promise. */
const loaded = new Map<string, Loaded>();

/** load imports file once (a failed import is retried on the next request). */
function load(file: unknown): Promise<Loaded> {
  if (typeof file !== 'string' || !isAbsolute(file)) {
    return Promise.reject(new Error('params.file must be an absolute path'));
  }
  let p = modules.get(file);
  if (!p) {
    p = (async () => {
      if (!inside(file)) throw new Error(`${file} is outside the template directories`);
      const [mod, react] = await Promise.all([
        import(pathToFileURL(file).href) as Promise<{ default?: unknown }>,
        reactFor(file),
      ]);
      const c = mod.default;
      if (typeof c !== 'function') throw new Error(`${file} has no default export that is a component`);
      const l = { component: c as ComponentType<Props>, react };
      loaded.set(file, l);
      return l;
    })();
    modules.set(file, p);
    p.catch(() => modules.delete(file));
  }
  return p;
}

function props(v: unknown): Props {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new Error('params.props must be a JSON object');
  return v as Props;
}

function renderOnce(l: Loaded, p: Props): string {
  return l.react.renderToString(l.react.createElement(l.component, p));
}

const own = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/**
 * tracked wraps data so that reads records every string key looked up in
 * it: by `key in data`, hasOwnProperty (the kernel's lookup), or reading a
 * key it holds. A missing key read by property access alone is not
 * recorded: JSON.stringify and the like probe toJSON and friends.
 */
function tracked(data: Record<string, unknown>, reads: Set<string>): Record<string, unknown> {
  return new Proxy(data, {
    has(t, k) {
      if (typeof k === 'string') reads.add(k);
      return Reflect.has(t, k);
    },
    getOwnPropertyDescriptor(t, k) {
      if (typeof k === 'string') reads.add(k);
      return Reflect.getOwnPropertyDescriptor(t, k);
    },
    get(t, k, receiver) {
      if (typeof k === 'string' && own(t, k)) reads.add(k);
      return Reflect.get(t, k, receiver);
    },
  });
}

/** render renders a render request's component and returns the reply: with collect, the instance keys it read too. */
function render(id: number, l: Loaded, params: Record<string, unknown>): object {
  const p = props(params.props);
  if (params.collect !== true) return { id, html: renderOnce(l, p) };
  const reads = new Set<string>();
  const data = p.initialData;
  const wrapped =
    data !== null && typeof data === 'object' && !Array.isArray(data) ? { ...p, initialData: tracked(data as Record<string, unknown>, reads) } : p;
  const html = renderOnce(l, wrapped);
  return { id, html, reads: [...reads].sort() };
}

async function handle(req: Request): Promise<object> {
  const { id, method, params } = req;
  switch (method) {
    case 'ping':
      return { id, pong: true };
    case 'render':
      return render(id, await load(params.file), params);
    case 'bench': {
      const l = await load(params.file);
      const p = props(params.props);
      const n = typeof params.n === 'number' && params.n > 0 ? Math.floor(params.n) : 1000;
      let bytes = 0;
      const start = process.hrtime.bigint();
      if (params.encode === true) {
        // Also encode each reply, as a render through the protocol does.
        for (let i = 0; i < n; i++) bytes = JSON.stringify({ id: i, html: renderOnce(l, p) }).length;
      } else {
        for (let i = 0; i < n; i++) bytes = renderOnce(l, p).length;
      }
      return { id, bench: { n, ns: Number(process.hrtime.bigint() - start), bytes } };
    }
    default:
      throw new Error(`unknown method ${JSON.stringify(method)}`);
  }
}

/** parse reads one request line; it throws a message for the error reply. */
function parse(line: string): Request {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new Error('malformed request: not JSON');
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('malformed request: not an object');
  const o = v as Record<string, unknown>;
  if (typeof o.id !== 'number' || !Number.isSafeInteger(o.id)) throw new Error('malformed request: id must be an integer');
  if (typeof o.method !== 'string') throw Object.assign(new Error('malformed request: method must be a string'), { id: o.id });
  const params = o.params ?? {};
  if (params === null || typeof params !== 'object' || Array.isArray(params)) {
    throw Object.assign(new Error('malformed request: params must be an object'), { id: o.id });
  }
  return { id: o.id, method: o.method, params: params as Record<string, unknown> };
}

const inFlight = new Set<Promise<void>>();

function dispatch(line: string): void {
  let req: Request;
  try {
    req = parse(line);
  } catch (e) {
    const id = (e as { id?: unknown }).id;
    send({ id: typeof id === 'number' ? id : null, error: message(e) });
    return;
  }
  const ready = req.method === 'render' ? loaded.get(req.params.file as string) : undefined;
  if (ready) {
    try {
      send(render(req.id, ready, req.params));
    } catch (e) {
      send({ id: req.id, error: message(e) });
    }
    return;
  }
  const p = handle(req).then(send, (e: unknown) => send({ id: req.id, error: message(e) }));
  inFlight.add(p);
  void p.finally(() => inFlight.delete(p));
}

// Load the worker's own React before saying ready, so that the first render
// does not pay for it (components elsewhere may resolve another copy).
await reactFor(new URL(import.meta.url).pathname).catch((e: unknown) => {
  console.error('mizan ssr worker: react-dom/server cannot be loaded next to the worker:', message(e));
});

send({ id: 0, ready: true });

const decoder = new TextDecoder();
let pending = '';
for await (const chunk of process.stdin as AsyncIterable<Uint8Array>) {
  pending += decoder.decode(chunk, { stream: true });
  const lines = pending.split('\n');
  pending = lines.pop() ?? '';
  for (const line of lines) if (line.trim() !== '') dispatch(line);
}
pending += decoder.decode();
if (pending.trim() !== '') dispatch(pending);
await Promise.allSettled([...inFlight]);
// Exit once the last replies are written (a component's timers must not
// keep the worker alive).
await new Promise<void>((resolve) => flush(resolve));
process.exit(0);
