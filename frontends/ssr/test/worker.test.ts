// The worker's protocol, spoken to a real Bun process (the Go package ssr
// has the thorough tests: correlation under load, restarts, timeouts).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const bun = fileURLToPath(new URL('../../node_modules/@oven/bun-linux-x64/bin/bun', import.meta.url));
const worker = fileURLToPath(new URL('../worker.tsx', import.meta.url));
const component = (name: string): string => fileURLToPath(new URL(`./components/${name}.tsx`, import.meta.url));
const haveBun = existsSync(bun);
if (!haveBun && process.env.CI === 'true') throw new Error(`bun is required when CI=true: ${bun} is missing`);

type Reply = Record<string, unknown> & { id: number | null };

/** Worker runs the worker and collects its replies. */
class Worker {
  readonly proc: ChildProcessWithoutNullStreams;
  readonly replies: Reply[] = [];
  stderr = '';
  private waiters: (() => void)[] = [];
  readonly exited: Promise<number | null>;

  constructor(env: Record<string, string> = {}) {
    this.proc = spawn(bun, ['--no-install', '--preserve-symlinks', worker], {
      env: { ...process.env, NODE_ENV: 'production', ...env },
    });
    let buf = '';
    this.proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buf += chunk;
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const line of lines) this.replies.push(JSON.parse(line) as Reply);
      for (const w of this.waiters.splice(0)) w();
    });
    this.proc.stderr.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    // close: after exit and after stdout and stderr have ended.
    this.exited = new Promise((resolve) => this.proc.on('close', resolve));
  }

  send(line: string): void {
    this.proc.stdin.write(line + '\n');
  }

  /** until resolves once n replies have come. */
  async until(n: number): Promise<Reply[]> {
    while (this.replies.length < n) await new Promise<void>((r) => this.waiters.push(r));
    return this.replies;
  }
}

let running: Worker | undefined;
afterEach(() => {
  running?.proc.kill();
  running = undefined;
});

describe.skipIf(!haveBun)('worker.tsx', () => {
  it('says ready, answers ping, render and errors by id, and exits on EOF', async () => {
    const w = (running = new Worker());
    await w.until(1);
    expect(w.replies[0]).toStrictEqual({ id: 0, ready: true });

    // One write, so that the worker reads every request before it renders any.
    w.send(
      [
        JSON.stringify({ id: 1, method: 'render', params: { file: component('Slow'), props: {} } }),
        JSON.stringify({ id: 2, method: 'ping' }),
        JSON.stringify({ id: 3, method: 'render', params: { file: component('Greet'), props: { name: '<Ada>' } } }),
        JSON.stringify({ id: 4, method: 'render', params: { file: component('Throws') } }),
        JSON.stringify({ id: 5, method: 'render', params: { file: 'relative.tsx' } }),
        JSON.stringify({ id: 6, method: 'render', params: { file: component('Greet'), props: [1] } }),
        JSON.stringify({ id: 7, method: 'render', params: { file: component('Missing') } }),
        JSON.stringify({ id: 8, method: 'launch' }),
        'not json',
        JSON.stringify({ method: 'ping' }),
      ].join('\n'),
    );
    await w.until(11);
    const byId = new Map(w.replies.map((r) => [r.id, r]));
    expect(byId.get(1)).toStrictEqual({ id: 1, html: '<i>slow</i>' });
    expect(byId.get(2)).toStrictEqual({ id: 2, pong: true });
    expect(byId.get(3)).toStrictEqual({ id: 3, html: '<b>hi <!-- -->&lt;Ada&gt;</b>' });
    expect(byId.get(4)).toStrictEqual({ id: 4, error: 'thrown by a component' });
    expect(byId.get(5)).toStrictEqual({ id: 5, error: 'params.file must be an absolute path' });
    expect(byId.get(6)).toStrictEqual({ id: 6, error: 'params.props must be a JSON object' });
    expect(String(byId.get(7)?.error)).toMatch(/Missing/);
    expect(byId.get(8)).toStrictEqual({ id: 8, error: 'unknown method "launch"' });
    expect(w.replies.filter((r) => r.id === null).map((r) => r.error)).toStrictEqual([
      'malformed request: not JSON',
      'malformed request: id must be an integer',
    ]);
    // Replies come as they are ready: the ping overtakes the slow render.
    expect(w.replies.findIndex((r) => r.id === 2)).toBeLessThan(w.replies.findIndex((r) => r.id === 1));

    w.proc.stdin.end();
    expect(await w.exited).toBe(0);
    // Components print to stderr; stdout stays the protocol's.
    expect(w.stderr).toContain('printed by a component');
  });

  it('refuses files outside MIZAN_SSR_DIRS', async () => {
    const w = (running = new Worker({ MIZAN_SSR_DIRS: fileURLToPath(new URL('../../base', import.meta.url)) }));
    await w.until(1);
    w.send(JSON.stringify({ id: 1, method: 'render', params: { file: component('Greet'), props: { name: 'x' } } }));
    const [, reply] = await w.until(2);
    expect(reply?.error).toMatch(/outside the template directories/);
  });

  it('renders a page whose hooks read the initialData it is given, without fetching', async () => {
    const w = (running = new Worker());
    await w.until(1);
    const props = {
      params: { user_id: '1' },
      initialData: { 'user?user_id=1': { user_profile: { name: 'Ada <SSR>' } } },
    };
    w.send(JSON.stringify({ id: 1, method: 'render', params: { file: component('UserPage'), props } }));
    const [, reply] = await w.until(2);
    expect(reply).toStrictEqual({ id: 1, html: '<p data-status="success">Ada &lt;SSR&gt;</p>' });
  });

  it('with collect, lists the instance keys the page read, in initialData or not', async () => {
    const w = (running = new Worker());
    await w.until(1);
    const props = {
      params: { ids: '2,1,3' },
      initialData: { 'user?user_id=1': { user_profile: { name: 'Ada' } }, unread: {} },
    };
    const file = component('Users');
    w.send(JSON.stringify({ id: 1, method: 'render', params: { file, props, collect: true } }));
    await w.until(2);
    // Loaded now: the second render takes the worker's synchronous path.
    w.send(JSON.stringify({ id: 2, method: 'render', params: { file, props, collect: true } }));
    w.send(JSON.stringify({ id: 3, method: 'render', params: { file, props } }));
    await w.until(4);
    const want = {
      html: '<ul><li>…</li><li>Ada</li><li>…</li></ul>',
      reads: ['user?user_id=1', 'user?user_id=2', 'user?user_id=3'],
    };
    expect(w.replies[1]).toStrictEqual({ id: 1, ...want });
    expect(w.replies.find((r) => r.id === 2)).toStrictEqual({ id: 2, ...want });
    // Without collect, no reads.
    expect(w.replies.find((r) => r.id === 3)).toStrictEqual({ id: 3, html: want.html });
  });

  it('measures renders in a loop with bench', async () => {
    const w = (running = new Worker());
    await w.until(1);
    w.send(JSON.stringify({ id: 1, method: 'bench', params: { file: component('Greet'), props: { name: 'b' }, n: 50 } }));
    const [, reply] = await w.until(2);
    const bench = reply?.bench as { n: number; ns: number; bytes: number };
    expect(bench.n).toBe(50);
    expect(bench.ns).toBeGreaterThan(0);
    expect(bench.bytes).toBe('<b>hi <!-- -->b</b>'.length);
  });
});
