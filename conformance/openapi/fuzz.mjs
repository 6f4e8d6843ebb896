// Schema-driven fuzzing of a running Mizan fixture from its OpenAPI
// document (docs/openapi.md): fast-check arbitraries built from the
// document's schemas (with openapi-sampler's example of each request body
// among the valid ones) give valid and deliberately invalid requests, sent
// anonymously and signed in as ada with a bearer token; ajv checks every
// answer against the document's response for its status.
//
//   node fuzz.mjs DOCUMENT BASE_URL
//
// MIZAN_FUZZ_RUNS (default 3000) requests; MIZAN_FUZZ_SEED (default 19)
// seeds them, and is printed on failure to replay the run.
// A failure is a 5xx, a status the operation does not list, a body that
// is not JSON or not what the document says for the status.

import { readFileSync } from "node:fs";
import fc from "fast-check";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import OpenAPISampler from "openapi-sampler";

const addFormats = addFormatsModule.default ?? addFormatsModule;

const [docPath, baseURL] = process.argv.slice(2);
if (!docPath || !baseURL) {
  console.error("usage: node fuzz.mjs DOCUMENT BASE_URL");
  process.exit(2);
}
const runs = Number(process.env.MIZAN_FUZZ_RUNS ?? 3000);
const seed = Number(process.env.MIZAN_FUZZ_SEED ?? 19);
const doc = JSON.parse(readFileSync(docPath, "utf8"));
const docID = "https://mizan.invalid/openapi.json";

// Functions whose 5xx is their purpose: each is called once, outside the
// random runs, and must answer the documented 500 envelope.
const deliberate500 = new Map([
  ["panic_for_tests", "the fixture's function that panics, for the tests of panic recovery (docs/spec.md §7)"],
]);

const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
addFormats(ajv);
ajv.addSchema({ ...doc, $id: docID });

const pointer = (parts) => "#/" + parts.map((p) => String(p).replaceAll("~", "~0").replaceAll("/", "~1")).join("/");

function resolve(node) {
  let n = node;
  for (let i = 0; n && n.$ref && i < 20; i++) {
    const parts = n.$ref.replace(/^#\//, "").split("/").map((p) => p.replaceAll("~1", "/").replaceAll("~0", "~"));
    n = parts.reduce((o, k) => o?.[k], doc);
  }
  return n;
}

// The operations of the document.
const ops = [];
for (const [path, item] of Object.entries(doc.paths)) {
  for (const [method, op] of Object.entries(item)) {
    const body = op.requestBody?.content?.["application/json"]?.schema;
    const validators = {};
    for (const [status, r] of Object.entries(op.responses)) {
      const res = resolve(r);
      const where = r.$ref ? r.$ref.replace(/^#\//, "").split("/").map((p) => p.replaceAll("~1", "/")) : ["paths", path, method, "responses", status];
      if (res.content?.["application/json"]) {
        validators[status] = ajv.compile({ $ref: docID + pointer([...where, "content", "application/json", "schema"]) });
      }
    }
    ops.push({ path, method: method.toUpperCase(), op, body, bodyRequired: !!op.requestBody?.required, validators });
  }
}

// ---- arbitraries from schemas ----

const SAFE = Number.MAX_SAFE_INTEGER;
// Strings that have broken parsers: empty, control and non-ASCII
// characters, integers out of every range, numbers in other notations.
const nasty = fc.constantFrom("", " ", "\u0000", "\t", "é", "😀", "\ud800", "<script>", "%", "%zz", "+", "null", "true", "-0", "01", "1e3", "0x10", "1.5",
  "9223372036854775807", "9223372036854775808", "-9223372036854775809", "18446744073709551616", "9".repeat(400), "a".repeat(3000));
const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 12 });

function valid(schema, depth = 0) {
  if (schema === true || schema === undefined) return fc.jsonValue({ maxDepth: 2 });
  if (schema.$ref) {
    const target = resolve(schema);
    return fc.constant(null).chain(() => valid(target, depth + 1));
  }
  if (schema.enum) return fc.constantFrom(...schema.enum);
  if (schema.anyOf || schema.oneOf) return fc.oneof(...(schema.anyOf ?? schema.oneOf).map((s) => valid(s, depth + 1)));
  const type = schema.type;
  if (Array.isArray(type)) return fc.oneof(...type.map((t) => valid({ ...schema, type: t }, depth)));
  switch (type) {
    case "null":
      return fc.constant(null);
    case "boolean":
      return fc.boolean();
    case "integer": {
      const min = Math.max(-SAFE, Number(schema.minimum ?? -SAFE));
      const max = Math.min(SAFE, Number(schema.maximum ?? SAFE));
      return fc.oneof(
        { weight: 6, arbitrary: fc.integer({ min: Math.max(min, 0), max: Math.min(max, Math.max(min, 0) + 5) }) },
        { weight: 1, arbitrary: fc.integer({ min, max }) },
      );
    }
    case "number":
      return fc.oneof(fc.integer({ min: -100, max: 100 }), fc.double({ noNaN: true, noDefaultInfinity: true }));
    case "string": {
      if (schema.format === "date-time") {
        return fc.date({ min: new Date("1970-01-01T00:00:00Z"), max: new Date("2100-01-01T00:00:00Z"), noInvalidDate: true }).map((d) => d.toISOString());
      }
      if (schema.format === "email") return fc.oneof(fc.emailAddress(), fc.constant("ada@example.com"));
      if (schema.pattern === "^-?[0-9]+$") return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String);
      if (schema.pattern === "^[0-9]+$") return fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String);
      if (schema.pattern === "^[ -~]+$") return printable;
      return fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom("a", "Ada", "todo", "open", "ada@example.com", "hello world, long enough") },
        { weight: 2, arbitrary: fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 40, 40) }) },
        { weight: 1, arbitrary: nasty },
      );
    }
    case "array": {
      if (depth > 4) return fc.constant([]);
      const maxLength = Math.min(schema.maxItems ?? 3, 3);
      const minLength = Math.min(schema.minItems ?? 0, maxLength);
      return fc.array(valid(schema.items, depth + 1), { minLength, maxLength });
    }
    case "object": {
      const props = schema.properties ?? {};
      const rec = fc.record(
        Object.fromEntries(Object.entries(props).map(([k, s]) => [k, valid(s, depth + 1)])),
        { requiredKeys: schema.required ?? [] },
      );
      if (schema.additionalProperties && typeof schema.additionalProperties === "object" && depth <= 4) {
        return fc.tuple(rec, fc.dictionary(fc.string({ maxLength: 8 }), valid(schema.additionalProperties, depth + 1), { maxKeys: 3 }))
          .map(([a, b]) => ({ ...b, ...a }));
      }
      return rec;
    }
  }
  return fc.jsonValue({ maxDepth: 2 });
}

// A value that breaks schema (an object loses a required member, gains an
// unknown one, or has a member of the wrong type), or any JSON at all.
function invalid(schema) {
  const s = resolve(schema);
  const wrong = fc.oneof(nasty, fc.constant(9223372036854775808), fc.constant(-1e300), fc.constant("not-a-number"), fc.constant(1.5), fc.constant(-1), fc.constant(true), fc.constant(null), fc.constant([]), fc.constant({}), fc.constant(2 ** 70));
  const mutations = [fc.jsonValue({ maxDepth: 3 })];
  if (s?.properties) {
    const keys = Object.keys(s.properties);
    mutations.push(valid(s).map((v) => ({ ...v, zz_unknown: 1 })));
    if (keys.length > 0) {
      mutations.push(fc.tuple(valid(s), fc.constantFrom(...keys), wrong).map(([v, k, w]) => ({ ...v, [k]: w })));
      mutations.push(fc.tuple(valid(s), fc.constantFrom(...keys)).map(([v, k]) => {
        const o = { ...v };
        delete o[k];
        return o;
      }));
    }
  }
  return fc.oneof(...mutations);
}

// One request of an operation.
function request(o) {
  const params = (o.op.parameters ?? []).map(resolve);
  const query = params.filter((p) => p.in === "query");
  const queryArb = fc.oneof(
    { weight: 4, arbitrary: fc.record(Object.fromEntries(query.map((p) => [p.name, valid(p.schema).map((v) => (v === null ? "" : String(v)))])), { requiredKeys: query.filter((p) => p.required).map((p) => p.name) }) },
    { weight: 2, arbitrary: fc.dictionary(fc.constantFrom(...query.map((p) => p.name), "zz", "page"), fc.oneof(fc.string({ maxLength: 6 }), nasty), { maxKeys: 3 }) },
  );
  let bodyArb = fc.constant(undefined);
  if (o.body) {
    let sample;
    try {
      sample = OpenAPISampler.sample(o.body, {}, doc);
    } catch {
      sample = undefined;
    }
    const choices = [
      { weight: 5, arbitrary: valid(o.body).map((v) => JSON.stringify(v)) },
      { weight: 3, arbitrary: invalid(o.body).map((v) => JSON.stringify(v)) },
      { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 20 }), nasty, fc.constant("{".repeat(10000)), fc.constant("[".repeat(100000)), fc.constant(`{"x":"${"y".repeat(1 << 20)}"}`)) },
    ];
    if (sample !== undefined) choices.push({ weight: 1, arbitrary: fc.constant(JSON.stringify(sample)) });
    if (!o.bodyRequired) choices.push({ weight: 1, arbitrary: fc.constant("") });
    bodyArb = fc.oneof(...choices);
  }
  return fc.record({
    query: query.length ? queryArb : fc.constant({}),
    body: bodyArb,
    auth: fc.oneof({ weight: 4, arbitrary: fc.constant("anonymous") }, { weight: 4, arbitrary: fc.constant("bearer") }, { weight: 1, arbitrary: fc.constant("bad-bearer") }),
    ctype: fc.oneof({ weight: 12, arbitrary: fc.constant("application/json") }, { weight: 1, arbitrary: fc.constant("text/plain") }),
    idem: o.op.parameters?.some((p) => p.name === "Idempotency-Key") ? fc.option(printable, { freq: 4 }) : fc.constant(null),
  }).map((r) => ({ o, ...r }));
}

// ---- sending and checking ----

async function signIn() {
  const res = await fetch(new URL("/api/mizan/auth/token/", baseURL), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: "ada", password: "ada-pw" }),
  });
  if (res.status !== 200) throw new Error(`signing in as ada: ${res.status} ${await res.text()}`);
  return (await res.json()).access;
}

let token;
const tally = new Map();

async function send(r) {
  const url = new URL(r.o.path, baseURL);
  for (const [k, v] of Object.entries(r.query)) url.searchParams.set(k, v);
  const headers = {};
  if (r.auth === "bearer") headers.Authorization = `Bearer ${token}`;
  if (r.auth === "bad-bearer") headers.Authorization = "Bearer not.a.token";
  if (r.idem) headers["Idempotency-Key"] = r.idem;
  const init = { method: r.o.method, headers };
  if (r.o.method === "POST") {
    headers["Content-Type"] = r.ctype;
    if (r.body !== undefined) init.body = r.body;
  }
  const res = await fetch(url, init);
  const text = await res.text();
  return { url: String(url), status: res.status, type: res.headers.get("content-type") ?? "", invalidate: res.headers.get("x-mizan-invalidate"), text };
}

function check(r, got) {
  const what = `${r.o.method} ${got.url} (${r.auth}${r.idem ? ", key " + JSON.stringify(r.idem) : ""}) body ${JSON.stringify(r.body)}: ${got.status} ${got.text.slice(0, 300)}`;
  const key = `${r.o.op.operationId} ${got.status}`;
  tally.set(key, (tally.get(key) ?? 0) + 1);
  if (got.status >= 500) throw new Error(`a 5xx: ${what}`);
  const status = String(got.status);
  if (!(status in r.o.op.responses)) throw new Error(`status ${status} is not documented for ${r.o.op.operationId}: ${what}`);
  if (!got.type.startsWith("application/json")) throw new Error(`not JSON (${got.type}): ${what}`);
  let body;
  try {
    body = JSON.parse(got.text);
  } catch (e) {
    throw new Error(`body does not parse (${e.message}): ${what}`);
  }
  const v = r.o.validators[status];
  if (!v) throw new Error(`no schema for ${status}: ${what}`);
  if (!v(body)) throw new Error(`body does not match the document for ${status}: ${ajv.errorsText(v.errors)}: ${what}`);
  // docs/spec.md §3: the header names the body's targets' contexts, and is
  // absent when there are none.
  if (status === "200" && Array.isArray(body.invalidate)) {
    const contexts = [...new Set(body.invalidate.map((t) => (typeof t === "string" ? t : t.context)))].sort();
    const header = got.invalidate === null ? [] : [...new Set(got.invalidate.split(",").map((e) => e.trim().split(";")[0]))].sort();
    if (JSON.stringify(contexts) !== JSON.stringify(header)) {
      throw new Error(`X-Mizan-Invalidate ${JSON.stringify(got.invalidate)} does not name the contexts of the body's targets ${JSON.stringify(contexts)}: ${what}`);
    }
  }
}

async function main() {
  token = await signIn();
  console.log(`fuzz: ${ops.length} operations, ${runs} requests, MIZAN_FUZZ_SEED=${seed}`);
  for (const [fn, why] of deliberate500) {
    const o = ops.find((x) => x.op.operationId === fn);
    if (!o) continue;
    const got = await send({ o, query: {}, body: "{}", auth: "anonymous", ctype: "application/json", idem: null });
    const v = o.validators["500"];
    if (got.status !== 500 || !v || !v(JSON.parse(got.text))) {
      throw new Error(`${fn} (${why}) should answer the documented 500 envelope: ${got.status} ${got.text}`);
    }
  }
  const random = ops.filter((o) => !deliberate500.has(o.op.operationId));
  const arb = fc.constantFrom(...random).chain(request);
  const start = Date.now();
  try {
    await fc.assert(fc.asyncProperty(arb, async (r) => check(r, await send(r))), { numRuns: runs, seed, endOnFailure: true });
  } catch (e) {
    console.error(e.message);
    console.error(`fuzz: FAILED; replay with MIZAN_FUZZ_SEED=${seed}`);
    process.exit(1);
  }
  const byStatus = {};
  for (const [k, n] of tally) {
    const s = k.split(" ")[1];
    byStatus[s] = (byStatus[s] ?? 0) + n;
  }
  const covered = new Set([...tally.keys()].map((k) => k.split(" ")[0]));
  console.log(`fuzz: ${runs} requests in ${((Date.now() - start) / 1000).toFixed(1)}s, ${covered.size}/${random.length} operations, by status ${JSON.stringify(byStatus)}, MIZAN_FUZZ_SEED=${seed}: no failure`);
  const missing = random.filter((o) => !covered.has(o.op.operationId)).map((o) => o.op.operationId);
  if (missing.length > 0) {
    console.error(`fuzz: operations never exercised: ${missing.join(", ")}`);
    process.exit(1);
  }
  const ok = [...tally.keys()].filter((k) => k.endsWith(" 200")).length;
  if (ok < random.length / 2) {
    console.error(`fuzz: only ${ok} operations ever answered 200: the generated requests are too rarely valid`);
    process.exit(1);
  }
}

main().catch((e) => {
  console.error(e);
  console.error(`fuzz: FAILED; replay with MIZAN_FUZZ_SEED=${seed}`);
  process.exit(1);
});
