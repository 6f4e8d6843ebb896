// A small program over the client openapi-typescript generates from the
// fixture's OpenAPI document (run.sh writes it to api.ts next to this
// file): it fetches a context and calls functions with the types the
// document gives, and the @ts-expect-error lines must stay errors. It is
// type-checked only (tsc --noEmit --strict).

import type { components, operations, paths } from "./api.js";

type Schemas = components["schemas"];
type JSONBody<R> = R extends { content: { "application/json": infer B } } ? B : never;

/** The arguments of a callable function, the body of POST call/<fn>/. */
type Args<Op extends keyof operations> = operations[Op] extends {
  requestBody?: { content: { "application/json": infer B } };
}
  ? B
  : never;

/** The successful answer of an operation. */
type OK<Op extends keyof operations> = operations[Op] extends { responses: { 200: infer R } } ? JSONBody<R> : never;

/** The query of a context fetch. */
type Query<Op extends keyof operations> = operations[Op] extends { parameters: { query: infer Q } } ? Q : never;

type ErrorEnvelope = Schemas["mizan.Error"];

async function call<Op extends keyof operations>(base: string, fn: Op, args: Args<Op>, token?: string): Promise<OK<Op>> {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (token !== undefined) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(`${base}/api/mizan/call/${fn}/`, { method: "POST", headers, body: JSON.stringify(args) });
  const body: unknown = await res.json();
  if (!res.ok) throw new Error((body as ErrorEnvelope).error.message);
  return body as OK<Op>;
}

async function fetchContext<Op extends keyof operations>(base: string, path: keyof paths, query: Query<Op>): Promise<OK<Op>> {
  const url = new URL(path, base);
  for (const [k, v] of Object.entries(query as Record<string, string | number | boolean | undefined>)) {
    if (v !== undefined) url.searchParams.set(k, String(v));
  }
  const res = await fetch(url);
  return (await res.json()) as OK<Op>;
}

export async function demo(base: string, token: string): Promise<string> {
  // A context: the bundle of every function of context tasks.
  const bundle = await fetchContext<"fetch_tasks">(base, "/api/mizan/ctx/tasks/", { project_id: 1, state: "todo" });
  const tasks: Schemas["Task"][] = bundle.task_list;
  const first = tasks[0];
  const state: "todo" | "doing" | "done" | undefined = first?.state;
  const bigID: string | undefined = first?.big_id; // json ",string": exact beyond 2^53
  const due: string | null | undefined = first?.due;

  // A context with a nullable result.
  const global = await fetchContext<"fetch_global">(base, "/api/mizan/ctx/global/", {} as Query<"fetch_global">);
  const me: Schemas["CallerResult"] | null = global.current_user;

  // Functions.
  const added = await call(base, "add_task", { project_id: 1, title: "Fuzz", state: "doing" });
  const id: number = added.result.id;
  const set = await call(base, "set_task_state", { task_id: id, state: "done" });
  const ok: boolean = set.result.ok;
  const targets: Schemas["mizan.Target"][] = set.invalidate;
  const mine = await call(base, "update_my_name", { name: "Ada" }, token);

  // @ts-expect-error state is an enum
  await call(base, "set_task_state", { task_id: 1, state: "finished" });
  // @ts-expect-error task_id is a number
  await call(base, "set_task_state", { task_id: "1", state: "done" });
  // @ts-expect-error title is required
  await call(base, "add_task", { project_id: 1 });
  // @ts-expect-error no such argument
  await call(base, "rename_task", { task_id: 1, title: "x", extra: true });
  // @ts-expect-error project_id is required
  await fetchContext<"fetch_tasks">(base, "/api/mizan/ctx/tasks/", { state: "todo" });

  return [state, bigID, due, me === null ? "anonymous" : "signed in", id, ok, targets.length, mine.result.ok].join(" ");
}
