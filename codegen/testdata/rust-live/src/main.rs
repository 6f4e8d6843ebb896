//! Runs the generated Rust client of the fixture (codegen/testdata/fixture/rust)
//! against a fresh fixture app: every fixture function and context, every
//! Task case, errors with fields, bearer tokens and idempotency keys.
//!
//! Usage: rust-live http://127.0.0.1:PORT [target-match.json]
//! (codegen/testdata/rust-check.sh).

use fixtureclient::*;
use serde_json::json;
use std::collections::BTreeMap;

struct Checks {
    passed: u32,
    failed: u32,
}

impl Checks {
    fn check(&mut self, what: &str, ok: bool, detail: String) {
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
            eprintln!("FAIL {}: {}", what, detail);
        }
    }

    fn eq<T: PartialEq + std::fmt::Debug>(&mut self, what: &str, got: T, want: T) {
        let detail = format!("got {:?}, want {:?}", got, want);
        self.check(what, got == want, detail);
    }

    /// Checks that r failed with status and code, and returns the error.
    fn fails<T: std::fmt::Debug>(&mut self, what: &str, r: Result<T, MizanError>, status: u16, code: &str) -> Option<MizanError> {
        match r {
            Err(e) => {
                let detail = format!("got {:?}, want {} {}", e, status, code);
                self.check(what, e.status == status && e.code == code && !e.message.is_empty(), detail);
                Some(e)
            }
            Ok(v) => {
                self.check(what, false, format!("succeeded with {:?}, want {} {}", v, status, code));
                None
            }
        }
    }

    /// Returns the value of r, or records the failure.
    fn ok<T>(&mut self, what: &str, r: Result<T, MizanError>) -> Option<T> {
        match r {
            Ok(v) => {
                self.passed += 1;
                Some(v)
            }
            Err(e) => {
                self.check(what, false, format!("failed: {}", e));
                None
            }
        }
    }
}

fn target(context: &str, function: Option<&str>, params: serde_json::Value) -> Target {
    let params: BTreeMap<String, serde_json::Value> = serde_json::from_value(params).unwrap();
    Target { context: context.to_string(), function: function.map(|f| f.to_string()), params }
}

fn login(base: &str, user: &str) -> String {
    let resp = ureq::post(&format!("{}/api/mizan/auth/token/", base))
        .set("Content-Type", "application/json")
        .send_string(&json!({"username": user, "password": format!("{}-pw", user)}).to_string())
        .expect("auth/token/");
    let v: serde_json::Value = serde_json::from_str(&resp.into_string().unwrap()).unwrap();
    v["access"].as_str().expect("an access token").to_string()
}

fn main() {
    let base = std::env::args().nth(1).expect("usage: rust-live BASE_URL");
    let mut c = Checks { passed: 0, failed: 0 };
    let anon = Client::new(&format!("{}/", base));
    let ada = Client::new(&base).with_token(&login(&base, "ada"));
    let grace = Client::new(&base).with_token(&login(&base, "grace"));

    // global: current_user is null for an anonymous caller, the caller's id
    // with a bearer token.
    if let Some(b) = c.ok("fetch_global", anon.fetch_global()) {
        c.eq("anonymous current_user", b.current_user, None);
    }
    if let Some(u) = c.ok("current_user (ada)", ada.current_user()) {
        let id = u.map(|u| u.id);
        c.check("current_user (ada) is 1", id == Some(json!(1)) || id == Some(json!("1")), format!("{:?}", id));
    }

    // user: the bundle and each of its functions.
    let user1 = UserParams { user_id: 1 };
    if let Some(b) = c.ok("fetch_user", anon.fetch_user(&user1)) {
        c.eq("user_profile", b.user_profile, ProfileResult { id: 1, name: "Ada".into(), email: "ada@example.com".into() });
        c.eq("user_orders count", b.user_orders.len(), 2);
    }
    if let Some(p) = c.ok("user_profile", anon.user_profile(&user1)) {
        c.eq("user_profile name", p.name, "Ada".to_string());
    }
    if let Some(o) = c.ok("user_orders", anon.user_orders(&UserParams { user_id: 2 })) {
        c.eq("user_orders of 2", o.len(), 2);
    }
    c.fails("user_profile of an unknown user", anon.fetch_user(&UserParams { user_id: 999 }), 404, MizanError::NOT_FOUND);

    // orders, subscription.
    let orders = OrdersParams { page: 2, status: "paid".into(), user_id: 1 };
    if let Some(b) = c.ok("fetch_orders", anon.fetch_orders(&orders)) {
        c.eq("order_page page", b.order_page.page, 2);
    }
    if let Some(p) = c.ok("order_page", anon.order_page(&orders)) {
        c.eq("order_page page", p.page, 2);
    }
    if let Some(b) = c.ok("fetch_subscription", anon.fetch_subscription()) {
        c.eq("plan", b.plan.plan, "free".to_string());
    }
    if let Some(p) = c.ok("plan", anon.plan()) {
        c.eq("plan", p.plan, "free".to_string());
    }

    // Mutations and their targets (docs/spec.md §3).
    if let Some(r) = c.ok("update_profile", anon.update_profile(&UpdateProfileArgs { user_id: 1, name: "Ryth".into() })) {
        c.eq("update_profile result", r.result, OkResult { ok: true });
        c.eq("update_profile targets", r.invalidate, vec![target("user", None, json!({"user_id": 1}))]);
        c.eq("update_profile replayed", r.replayed, false);
    }
    if let Some(p) = c.ok("user_profile after update", anon.user_profile(&user1)) {
        c.eq("the new name", p.name, "Ryth".to_string());
    }
    if let Some(r) = c.ok("update_name", anon.update_name(&UpdateNameArgs { user_id: 2, name: "Gracie".into() })) {
        c.eq("update_name targets", r.invalidate, vec![target("user", Some("user_profile"), json!({"user_id": 2}))]);
    }
    if let Some(r) = c.ok("archive_orders", anon.archive_orders(&ArchiveOrdersArgs { user_id: 1, status: "paid".into() })) {
        c.eq("archive_orders targets", r.invalidate, vec![target("orders", None, json!({"status": "paid", "user_id": 1}))]);
    }
    if let Some(r) = c.ok("reset_all", anon.reset_all()) {
        c.eq("reset_all targets", r.invalidate, vec![target("user", None, json!({})), target("orders", None, json!({}))]);
    }
    if let Some(p) = c.ok("user_profile after reset_all", anon.user_profile(&user1)) {
        c.eq("the name after reset_all", p.name, "Ada".to_string());
    }

    // Auth: bearer tokens, guards and the app's own errors.
    c.fails("secret without a token", anon.secret(), 401, MizanError::UNAUTHORIZED);
    if let Some(r) = c.ok("secret with a token", grace.secret()) {
        c.eq("secret", r.result.secret, 42);
    }
    c.fails("admin_action as grace", grace.admin_action(), 403, MizanError::FORBIDDEN);
    if let Some(r) = c.ok("admin_action as ada (staff)", ada.admin_action()) {
        c.eq("admin_action", r.result.ok, true);
    }
    c.fails("fail", anon.fail(), 409, "conflict");
    c.fails("panic_for_tests", anon.panic_for_tests(), 500, MizanError::INTERNAL);
    c.fails("a bad token", Client::new(&base).with_token("nope").secret(), 401, MizanError::UNAUTHORIZED);

    // Tasks (docs/spec.md §7): nil collections, the string-encoded big_id,
    // times, due null and set, the enum and its filter.
    if let Some(ts) = c.ok("task_list of project 1", anon.task_list(&TasksParams { project_id: 1, ..Default::default() })) {
        c.eq("task_list ids", ts.iter().map(|t| t.id).collect::<Vec<_>>(), vec![1, 2]);
        if ts.len() == 2 {
            let t1 = &ts[0];
            c.eq("task 1", t1.clone(), Task {
                id: 1,
                project_id: 1,
                title: "Write spec".into(),
                state: TaskState::Todo,
                tags: vec!["docs".into()],
                meta: [("owner".to_string(), "ada".to_string())].into_iter().collect(),
                big_id: 9007199254740993,
                created_at: "2026-01-01T09:00:00Z".into(),
                due: Some("2026-02-01T00:00:00Z".into()),
            });
            let t2 = &ts[1];
            c.eq("task 2 state", t2.state, TaskState::Doing);
            c.eq("task 2 tags (nil in Go)", t2.tags.clone(), Vec::<String>::new());
            c.eq("task 2 meta (nil in Go)", t2.meta.clone(), BTreeMap::new());
            c.eq("task 2 big_id", t2.big_id, 9007199254740994);
            c.eq("task 2 created_at", t2.created_at.clone(), "2026-01-02T09:00:00Z".to_string());
            c.eq("task 2 due", t2.due.clone(), None);
            // The string-encoded integer goes back out as a string.
            let v = serde_json::to_value(t1).unwrap();
            c.eq("big_id encodes as a string", v["big_id"].clone(), json!("9007199254740993"));
            c.eq("state encodes as its value", v["state"].clone(), json!("todo"));
        }
    }
    if let Some(b) = c.ok("fetch_tasks with the state filter", anon.fetch_tasks(&TasksParams { project_id: 2, state: Some(TaskState::Done) })) {
        c.eq("done tasks of project 2", b.task_list.iter().map(|t| (t.id, t.title.clone())).collect::<Vec<_>>(), vec![(4, "Celebrate".to_string())]);
    }
    if let Some(t) = c.ok("task_detail 3", anon.task_detail(&TaskParams { task_id: 3 })) {
        c.eq("task 3", (t.title.clone(), t.project_id, t.state, t.tags.clone(), t.big_id), ("Ship".to_string(), 2, TaskState::Todo, vec!["release".to_string()], 9007199254740995));
    }
    if let Some(b) = c.ok("fetch_task 4", anon.fetch_task(&TaskParams { task_id: 4 })) {
        c.eq("task 4 state", b.task_detail.state, TaskState::Done);
        c.eq("task 4 meta", b.task_detail.meta.len(), 0);
    }
    c.fails("task_detail of an unknown task", anon.task_detail(&TaskParams { task_id: 99 }), 404, MizanError::NOT_FOUND);
    c.fails("task_list of an unknown project", anon.task_list(&TasksParams { project_id: 9, state: None }), 404, MizanError::NOT_FOUND);
    if let Some(r) = c.ok("add_task", anon.add_task(&AddTaskArgs { project_id: 1, title: "Test".into(), state: None })) {
        c.eq("add_task id", r.result.id, 5);
        c.eq("add_task targets", r.invalidate, vec![target("tasks", None, json!({"project_id": 1}))]);
    }
    if let Some(r) = c.ok("add_task with a state", anon.add_task(&AddTaskArgs { project_id: 2, title: "Review".into(), state: Some(TaskState::Doing) })) {
        if let Some(t) = c.ok("the new task", anon.task_detail(&TaskParams { task_id: r.result.id })) {
            c.eq("the new task", (t.title, t.state, t.tags.len(), t.due), ("Review".to_string(), TaskState::Doing, 0, None));
        }
    }
    let e = c.fails("add_task with a long title", anon.add_task(&AddTaskArgs { project_id: 1, title: "x".repeat(201), state: None }), 400, MizanError::INVALID_ARGS);
    if let Some(e) = e {
        c.check("invalid_args fields name title", e.fields.contains_key("title") && !e.fields["title"].is_empty(), format!("{:?}", e.fields));
    }
    // A value outside the enum, sent by name (the generated types cannot
    // hold one).
    let r: Result<CallResult<OkResult>, MizanError> = anon.call("set_task_state", &json!({"task_id": 1, "state": "nope"}));
    if let Some(e) = c.fails("set_task_state outside the enum", r, 400, MizanError::INVALID_ARGS) {
        c.check("the enum error names state", e.fields.get("state").map_or(false, |m| m.contains("todo")), format!("{:?}", e.fields));
    }
    if let Some(r) = c.ok("set_task_state", anon.set_task_state(&SetTaskStateArgs { task_id: 1, state: TaskState::Done })) {
        c.eq("set_task_state targets", r.invalidate, vec![target("task", None, json!({"task_id": 1})), target("tasks", None, json!({"project_id": 1}))]);
    }
    if let Some(t) = c.ok("task 1 after set_task_state", anon.task_detail(&TaskParams { task_id: 1 })) {
        c.eq("task 1 state", t.state, TaskState::Done);
    }
    c.fails("set_task_state of an unknown task", anon.set_task_state(&SetTaskStateArgs { task_id: 99, state: TaskState::Todo }), 404, MizanError::NOT_FOUND);
    if let Some(r) = c.ok("rename_task", anon.rename_task(&RenameTaskArgs { task_id: 2, title: "Build the core".into() })) {
        c.eq("rename_task targets (explicit empty scope)", r.invalidate, vec![target("task", None, json!({}))]);
    }
    c.fails("update_my_name without a token", anon.update_my_name(&UpdateMyNameArgs { name: "G".into() }), 401, MizanError::UNAUTHORIZED);
    if let Some(r) = c.ok("update_my_name", grace.update_my_name(&UpdateMyNameArgs { name: "Grace H".into() })) {
        c.eq("update_my_name targets", r.invalidate, vec![target("global", None, json!({})), target("user", None, json!({"user_id": 2}))]);
    }
    if let Some(p) = c.ok("user_profile of grace", anon.user_profile(&UserParams { user_id: 2 })) {
        c.eq("grace's new name", p.name, "Grace H".to_string());
    }

    // The counter and idempotency keys (docs/spec.md §12).
    if let Some(r) = c.ok("bump", anon.bump()) {
        c.eq("bump", (r.result.count, r.invalidate), (1, vec![target("counter", None, json!({}))]));
    }
    let keyed = anon.clone().with_idempotency_key("rust-live-1");
    if let Some(r) = c.ok("bump with a key", keyed.bump()) {
        c.eq("bump with a key", (r.result.count, r.replayed), (2, false));
    }
    if let Some(r) = c.ok("bump replayed", keyed.bump()) {
        c.eq("bump replayed", (r.result.count, r.replayed), (2, true));
        c.eq("replayed targets", r.invalidate, vec![target("counter", None, json!({}))]);
    }
    c.fails("the key with another function", keyed.reset_all(), 422, MizanError::IDEMPOTENCY_MISMATCH);
    if let Some(b) = c.ok("fetch_counter", anon.fetch_counter()) {
        c.eq("count", b.count.count, 2);
    }
    if let Some(n) = c.ok("count", anon.count()) {
        c.eq("count", n.count, 2);
    }

    // Forms (docs/spec.md §10).
    if let Some(s) = c.ok("contact_schema", anon.contact_schema()) {
        let embedded: FormDef = serde_json::from_str(CONTACT_FORM_SCHEMA).unwrap();
        c.eq("contact_schema is the embedded schema", s.clone(), embedded);
        c.eq("contact fields", s.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), vec!["name", "email", "age", "topic", "message"]);
        c.eq("the age field is optional", (s.fields[2].required, s.fields[2].min, s.fields[2].max), (false, Some(18.0), Some(130.0)));
    }
    if let Some(s) = c.ok("order_lines_schema", anon.order_lines_schema()) {
        let embedded: FormDef = serde_json::from_str(ORDER_LINES_FORM_SCHEMA).unwrap();
        c.eq("order_lines_schema is the embedded schema", s, embedded);
    }
    let bad = ContactArgs { name: "Ada".into(), email: "not-an-email".into(), age: Some(12), topic: "sales".into(), message: "short".into() };
    if let Some(e) = c.fails("contact with bad fields", anon.contact(&bad), 400, MizanError::INVALID_ARGS) {
        c.eq("contact error fields", e.fields.keys().cloned().collect::<Vec<_>>(), vec!["age".to_string(), "email".to_string(), "message".to_string()]);
    }
    let v = ContactValidateArgs { email: Some("nope".into()), ..Default::default() };
    if let Some(r) = c.ok("contact_validate", anon.contact_validate(&v)) {
        c.check("contact_validate", !r.valid && r.errors.contains_key("email"), format!("{:?}", r));
    }
    let good = ContactArgs { name: "Ada".into(), email: "ada@example.com".into(), age: None, topic: "support".into(), message: "Hello there, Mizan.".into() };
    if let Some(r) = c.ok("contact", anon.contact(&good)) {
        c.eq("contact", (r.result.ok, r.invalidate), (true, vec![target("messages", None, json!({}))]));
    }
    if let Some(b) = c.ok("fetch_messages", anon.fetch_messages()) {
        c.eq("message_count", b.message_count.count, 1);
    }
    if let Some(n) = c.ok("message_count", anon.message_count()) {
        c.eq("message_count", n.count, 1);
    }
    let lines = vec![OrderLine { sku: "ABC123".into(), qty: 2 }, OrderLine { sku: "XYZ789".into(), qty: 1 }];
    if let Some(r) = c.ok("order_lines", anon.order_lines(&OrderLinesArgs { customer: "Ada".into(), lines: lines.clone() })) {
        c.eq("order_lines", (r.result.ok, r.result.lines), (true, 2));
        c.eq("order_lines targets", r.invalidate, vec![target("orders", None, json!({}))]);
    }
    let bad_lines = OrderLinesArgs { customer: "Ada".into(), lines: vec![OrderLine { sku: "AB".into(), qty: 0 }] };
    if let Some(e) = c.fails("order_lines with a bad row", anon.order_lines(&bad_lines), 400, MizanError::INVALID_ARGS) {
        c.check("order_lines fields name the row", e.fields.keys().any(|k| k.contains("sku")), format!("{:?}", e.fields));
    }
    if let Some(r) = c.ok("order_lines_validate", anon.order_lines_validate(&OrderLinesValidateArgs { customer: Some("Ada".into()), lines: Some(lines) })) {
        c.check("order_lines_validate", r.valid && r.errors.is_empty(), format!("{:?}", r));
    }

    // Failures that are not the app's.
    let r: Result<CallResult<serde_json::Value>, MizanError> = anon.call("no_such_function", &json!({}));
    c.fails("an unknown function", r, 404, MizanError::NOT_FOUND);
    c.fails("an unknown context", anon.fetch_context::<serde_json::Value>("no_such_context", &[]), 404, MizanError::NOT_FOUND);
    c.fails("a wrong prefix", anon.clone().with_prefix("elsewhere").plan(), 404, MizanError::NOT_FOUND);
    c.fails("no server", Client::new("http://127.0.0.1:1").plan(), 0, MizanError::TRANSPORT);
    c.fails("a result of another type", anon.fetch_context::<UserBundle>("subscription", &[]), 200, MizanError::BAD_RESPONSE);

    // The matching vectors (docs/spec.md §3), through Target's decoding
    // of every body form and Target::matches.
    if let Some(path) = std::env::args().nth(2) {
        let text = std::fs::read_to_string(&path).expect("the target-match vectors");
        let vectors: serde_json::Value = serde_json::from_str(&text).unwrap();
        let cases = vectors["cases"].as_array().expect("cases");
        c.check("target-match vectors", cases.len() >= 20, format!("{} cases", cases.len()));
        for case in cases {
            let name = case["name"].as_str().unwrap_or("?");
            let t: Target = match serde_json::from_value(case["target"].clone()) {
                Ok(t) => t,
                Err(e) => {
                    c.check(name, false, format!("decoding the target: {}", e));
                    continue;
                }
            };
            let ctx = case["instance"]["context"].as_str().unwrap();
            let params: BTreeMap<String, String> = serde_json::from_value(case["instance"]["params"].clone()).unwrap();
            let want = case["matches"].as_bool().unwrap();
            c.eq(name, t.matches(ctx, &params), want);
            if want {
                let refetch = match &t.function {
                    Some(f) => format!("function:{}", f),
                    None => "instance".to_string(),
                };
                c.eq(name, refetch.as_str(), case["refetch"].as_str().unwrap());
            }
        }
    }

    println!("rust-live: {} checks passed, {} failed", c.passed, c.failed);
    if c.failed > 0 {
        std::process::exit(1);
    }
}
