// Round trip of the generated TypeScript client (docs/spec.md §4 and the
// Task / TaskState rows of §7): the test writes the fixture's IR
// (go run ./conformance/fixture -ir), generates the ts target from it with
// go run ./cmd/mizan generate into a directory of its own under test/, and
// runs that client in Node against a fresh fixture process. What it decodes
// for task_list and task_detail must be the values §7 says the fixture
// holds, every case of Task included (nil collections, due nil and set,
// big_id beyond 2^53, the times, the enum); the kernel refuses an integer a
// number cannot hold instead of rounding it. (The Go client's round trip,
// compared with the fixture's Go data, is conformance/roundtrip_test.go;
// the generated types themselves are type-checked by
// codegen/testdata/tsc-check.sh with codegen/testdata/tsc/fixture_usage.ts.)
// Without Go they fail when CI=true and are skipped elsewhere.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { TestProject } from 'vitest/node';
// The generated code imports the package, so the test does too (one copy
// of MizanClient and MizanError).
import { MizanClient, MizanError, httpTransport } from '@mizan/base';
import setupFixture from './fixture-server.js';

const haveGo = Boolean(inject('fixtureUrl'));
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

let origin = '';
let stop: (() => Promise<void>) | undefined;
let gen = '';
// The generated module, loaded at run time from gen.
let api: Record<string, (...a: unknown[]) => Promise<any>> = {};

function go(...args: string[]): void {
  const r = spawnSync('go', args, { cwd: repoRoot, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`go ${args.join(' ')}: ${r.status}\n${r.stdout}\n${r.stderr}`);
}

beforeAll(async () => {
  if (!haveGo) return;
  gen = mkdtempSync(join(fileURLToPath(new URL('.', import.meta.url)), '.roundtrip-'));
  go('run', './conformance/fixture', '-ir', join(gen, 'ir.kdl'));
  go('run', './cmd/mizan', 'generate', '--ir', join(gen, 'ir.kdl'), '--target', `ts=${gen}`);
  api = await import(join(gen, 'client.ts'));
  const provided: Record<string, string> = {};
  const project = { provide: (k: string, v: string) => void (provided[k] = v) } as unknown as TestProject;
  stop = await setupFixture(project); // a fresh fixture: the tasks as they start
  origin = provided.fixtureUrl ?? '';
}, 180_000);

afterAll(async () => {
  await stop?.();
  if (gen) rmSync(gen, { recursive: true, force: true });
});

/** The tasks §7 says the fixture starts with, built from its rules. */
function specTasks() {
  const rows = [
    { id: 1, project_id: 1, title: 'Write spec', state: 'todo', tags: ['docs'], meta: { owner: 'ada' } },
    { id: 2, project_id: 1, title: 'Build core', state: 'doing', tags: [], meta: {} },
    { id: 3, project_id: 2, title: 'Ship', state: 'todo', tags: ['release'], meta: { owner: 'lin' } },
    { id: 4, project_id: 2, title: 'Celebrate', state: 'done', tags: [], meta: {} },
  ];
  return rows.map((r) => ({
    ...r,
    big_id: String(9007199254740993n + BigInt(r.id - 1)),
    created_at: `2026-01-0${r.id}T09:00:00Z`,
    due: r.id === 1 ? '2026-02-01T00:00:00Z' : null,
  }));
}

const client = (): MizanClient => new MizanClient({ transport: httpTransport({ baseUrl: origin }), retry: { attempts: 0 } });

describe.skipIf(!haveGo)('round trip: the generated TypeScript client against the fixture', () => {
  it('decodes task_list and task_detail into the values the fixture holds', async () => {
    const c = client();
    const want = specTasks();
    for (const project of [1, 2]) {
      const { task_list } = await api.fetchTasks!({ project_id: project }, c);
      expect(task_list).toStrictEqual(want.filter((t) => t.project_id === project));
    }
    for (const w of want) {
      const { task_detail: t } = await api.fetchTask!({ task_id: w.id }, c);
      expect(t).toStrictEqual(w);
      // What the types promise works at run time.
      expect(t.tags.map((s: string) => s.length)).toHaveLength(w.tags.length);
      expect(Object.keys(t.meta)).toHaveLength(Object.keys(w.meta).length);
      expect(BigInt(t.big_id) - 9007199254740993n).toBe(BigInt(w.id - 1));
      expect(new Date(t.created_at).toISOString()).toBe(w.created_at.replace('Z', '.000Z'));
      expect(t.due === null ? null : new Date(t.due).getTime()).toBe(w.due === null ? null : Date.UTC(2026, 1, 1));
      expect(['todo', 'doing', 'done']).toContain(t.state);
    }
  });

  it('filters by the enum and refuses a value outside it, as a parameter and as an argument', async () => {
    const c = client();
    const { task_list } = await api.fetchTasks!({ project_id: 1, state: 'doing' }, c);
    expect(task_list.map((t: { id: number }) => t.id)).toEqual([2]);
    const fields = { state: 'must be one of todo, doing, done' };
    await expect(api.fetchTasks!({ project_id: 1, state: 'bogus' }, c)).rejects.toMatchObject({ code: 'invalid_args', fields });
    await expect(api.callSetTaskState!({ task_id: 1, state: 'later' }, c)).rejects.toMatchObject({ code: 'invalid_args', fields });
  });

  it('refuses an integer a number cannot hold instead of rounding it', async () => {
    const c = client();
    const err = await api.fetchOrders!({ user_id: 1, status: 'open', page: 9007199254740993 }, c).catch((e: unknown) => e);
    // 9007199254740993 is sent as 9007199254740992 (the number it is in
    // JavaScript), which the fixture echoes exactly: that fits.
    expect(err).not.toBeInstanceOf(Error);
    const q = await fetch(`${origin}/api/mizan/ctx/orders/?user_id=1&status=open&page=9223372036854775807`);
    expect(await q.text()).toContain('"page":9223372036854775807');
    const t = httpTransport({ baseUrl: origin });
    const e2 = await t.fetchContext('orders', { user_id: 1, status: 'open', page: '9223372036854775807' }).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(MizanError);
    expect(e2).toMatchObject({ code: 'bad_response', message: 'unsafe integer 9223372036854775807' });
  });
});
