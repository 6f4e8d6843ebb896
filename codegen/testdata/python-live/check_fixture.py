"""Runs the python target's client, generated from the fixture's IR, against
a live fixture server (docs/spec.md §7): every fixture function and context,
every Task case, errors with fields, idempotency keys and bearer tokens.

    python3 check_fixture.py http://127.0.0.1:PORT

The generated module must be importable as fixtureclient (python-check.sh
puts it there). It exits 1 after printing every failed check.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from datetime import datetime, timezone
from typing import Any, Callable, cast

from fixtureclient import (
    CONTACT_FORM_SCHEMA,
    ORDER_LINES_FORM_SCHEMA,
    PREFIX,
    Client,
    MizanError,
    OrderLine,
    Target,
    Task,
    TaskState,
)

failures: list[str] = []
checks = 0


def check(ok: bool, what: str) -> None:
    global checks
    checks += 1
    if not ok:
        failures.append(what)
        print("FAIL:", what)


def equal(got: Any, want: Any, what: str) -> None:
    check(got == want, f"{what}: got {got!r}, want {want!r}")


def fails(f: Callable[[], Any], code: str, status: int, what: str) -> MizanError | None:
    try:
        f()
    except MizanError as e:
        equal((e.code, e.status), (code, status), what)
        check(e.message != "", f"{what}: a message")
        return e
    check(False, f"{what}: no error, want {code}")
    return None


def login(base: str, user: str) -> str:
    body = json.dumps({"username": user, "password": user + "-pw"}).encode()
    req = urllib.request.Request(base + PREFIX + "auth/token/", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        access = json.loads(resp.read())["access"]
    assert isinstance(access, str)
    return access


UTC = timezone.utc


def want_task(i: int) -> Task:
    """The fixture's task i as it starts (docs/spec.md §7)."""
    rows: dict[int, tuple[int, str, TaskState, list[str], dict[str, str]]] = {
        1: (1, "Write spec", TaskState.TODO, ["docs"], {"owner": "ada"}),
        2: (1, "Build core", TaskState.DOING, [], {}),
        3: (2, "Ship", TaskState.TODO, ["release"], {"owner": "lin"}),
        4: (2, "Celebrate", TaskState.DONE, [], {}),
    }
    project, title, state, tags, meta = rows[i]
    return Task(id=i, project_id=project, title=title, state=state, tags=tags, meta=meta,
                big_id=9007199254740993 + i - 1, created_at=datetime(2026, 1, i, 9, 0, tzinfo=UTC),
                due=datetime(2026, 2, 1, tzinfo=UTC) if i == 1 else None)


def offline() -> None:
    """Decoding without a server: times, wide and string integers, bad values."""
    row: dict[str, Any] = {"id": 1, "project_id": 1, "title": "t", "state": "doing", "tags": [], "meta": {},
                           "big_id": "-18446744073709551617", "created_at": "2026-01-01T09:00:00.123456789+02:00",
                           "due": None}
    t = Task.from_json(row)
    equal(t.big_id, -18446744073709551617, "a string integer beyond 64 bits, exactly")
    equal(t.created_at, datetime(2026, 1, 1, 7, 0, 0, 123456, tzinfo=UTC), "nanoseconds and an offset")
    equal(t.to_json()["created_at"], "2026-01-01T09:00:00.123456+02:00", "the time goes back in RFC 3339")
    equal(Task.from_json({**row, "id": 2**70}).id, 2**70, "a wide untagged integer, exactly")
    for key, bad in (("state", "bogus"), ("big_id", 5), ("big_id", "1e3"), ("created_at", "2026-01-01 09:00"),
                     ("created_at", "2026-01-01T09:00:00"), ("id", True), ("id", 1.5), ("tags", None), ("meta", [])):
        try:
            Task.from_json({**row, key: bad})
            check(False, f"{key}={bad!r} is refused")
        except ValueError:
            pass
    try:
        Task.from_json({k: v for k, v in row.items() if k != "due"})
        check(False, "a missing field is refused")
    except ValueError as e:
        check("due" in str(e), f"the error names the missing field: {e}")
    try:
        _ = Task(id=1, project_id=1, title="t", state=TaskState.TODO, tags=[], meta={}, big_id=1,
                 created_at=datetime(2026, 1, 1), due=None).to_json()
        check(False, "a naive datetime is refused")
    except ValueError:
        pass


def main(base: str) -> None:
    offline()
    anon = Client(base)
    ada = Client(base, headers={"X-Test-User": "1", "X-Test-Staff": "1"})

    # Every Task case, through task_detail, task_list and fetch_task.
    for i in (1, 2, 3, 4):
        t = anon.task_detail(task_id=i)
        equal(t, want_task(i), f"task {i}")
        check(isinstance(t.state, TaskState), f"task {i}: state is a TaskState")
        check(t.created_at.tzinfo is not None, f"task {i}: created_at is aware")
        equal(Task.from_json(json.loads(json.dumps(t.to_json()))), t, f"task {i}: to_json round trip")
    equal(anon.task_detail(task_id=1).to_json()["big_id"], "9007199254740993", "big_id goes back as a string")
    equal(anon.fetch_task(task_id=3).task_detail.title, "Ship", "fetch_task")
    equal(anon.task_list(project_id=1), [want_task(1), want_task(2)], "task_list project 1")
    equal(anon.task_list(project_id=2, state=TaskState.DONE), [want_task(4)], "task_list filtered by state")
    equal(anon.fetch_tasks(project_id=2).task_list, [want_task(3), want_task(4)], "fetch_tasks")
    fails(lambda: anon.task_list(project_id=99), "not_found", 404, "task_list of an unknown project")
    fails(lambda: anon.task_detail(task_id=99), "not_found", 404, "task_detail of an unknown task")

    # The other contexts.
    equal(anon.current_user(), None, "current_user, anonymous")
    cu = ada.fetch_global().current_user
    equal(cu.id if cu else None, 1, "current_user of ada")
    prof = anon.user_profile(user_id=1)
    equal((prof.id, prof.name, prof.email), (1, "Ada", "ada@example.com"), "user_profile 1")
    user = anon.fetch_user(user_id=2)
    equal(len(user.user_orders), 2, "user_orders of user 2")
    equal(user.user_profile.id, 2, "fetch_user profile")
    fails(lambda: anon.user_profile(user_id=99), "not_found", 404, "user_profile of an unknown user")
    page = anon.order_page(user_id=1, page=2, status="paid")
    equal(page.page, 2, "order_page echoes its page")
    equal(anon.fetch_orders(user_id=1, page=1, status="paid").order_page.page, 1, "fetch_orders")
    equal(anon.plan().plan, "free", "plan")
    equal(anon.fetch_subscription().plan.plan, "free", "fetch_subscription")
    equal(anon.count().count, 0, "count starts at 0")
    equal(anon.fetch_messages().message_count.count, 0, "no messages at first")

    # Mutations and their targets.
    r1 = anon.update_profile(user_id=1, name="Ryth")
    equal((r1.result.ok, r1.targets), (True, [Target(context="user", params={"user_id": 1})]), "update_profile")
    equal(anon.user_profile(user_id=1).name, "Ryth", "update_profile changed the name")
    r2 = anon.update_name(user_id=1, name="Ada")
    equal(r2.targets, [Target(context="user", function="user_profile", params={"user_id": 1})], "update_name")
    r3 = anon.reset_all()
    equal(r3.targets, [Target(context="user", params={}), Target(context="orders", params={})], "reset_all")
    r4 = anon.archive_orders(user_id=1, status="paid")
    equal(r4.targets, [Target(context="orders", params={"status": "paid", "user_id": 1})], "archive_orders")
    r5 = anon.add_task(project_id=1, title="Python client", state=TaskState.DOING)
    equal(r5.targets, [Target(context="tasks", params={"project_id": 1})], "add_task targets")
    new = anon.task_detail(task_id=r5.result.id)
    equal((new.title, new.state, new.tags, new.meta, new.due), ("Python client", TaskState.DOING, [], {}, None), "the added task")
    r5b = anon.add_task(project_id=2, title="No state")
    equal(anon.task_detail(task_id=r5b.result.id).project_id, 2, "add_task without its optional state")
    r6 = anon.set_task_state(task_id=2, state=TaskState.DONE)
    equal(r6.targets, [Target(context="task", params={"task_id": 2}), Target(context="tasks", params={"project_id": 1})],
          "set_task_state targets")
    equal(anon.task_detail(task_id=2).state, TaskState.DONE, "set_task_state changed the state")
    fails(lambda: anon.set_task_state(task_id=99, state=TaskState.DONE), "not_found", 404, "set_task_state of an unknown task")
    r7 = anon.rename_task(task_id=3, title="Ship it")
    equal(r7.targets, [Target(context="task", params={})], "rename_task is broad")
    r8 = anon.contact(name="Ada", email="ada@example.com", age=36, topic="support", message="Hello from Python")
    equal((r8.result.ok, r8.targets), (True, [Target(context="messages", params={})]), "contact")
    equal(anon.message_count().count, 1, "contact stored a message")
    r9 = anon.order_lines(customer="Ada", lines=[OrderLine(sku="ABC123", qty=2), OrderLine(sku="XYZ789", qty=1)])
    equal((r9.result.lines, r9.targets), (2, [Target(context="orders", params={})]), "order_lines")

    # Forms: the schemas and the validators (standalone reads: no targets).
    s = anon.contact_schema()
    equal((s.result.name, s.result.route, [f.name for f in s.result.fields], s.targets),
          ("contact", "/contact/", ["name", "email", "age", "topic", "message"], []), "contact_schema")
    equal(json.loads(CONTACT_FORM_SCHEMA), json.loads(json.dumps(s.result.to_json())), "CONTACT_FORM_SCHEMA is what contact_schema answers")
    equal(json.loads(ORDER_LINES_FORM_SCHEMA), anon.order_lines_schema().result.to_json(), "ORDER_LINES_FORM_SCHEMA")
    lines = anon.order_lines_schema().result.fields[1]
    equal((lines.type, lines.min, [f.name for f in lines.fields or []]), ("formset", 1.0, ["sku", "qty"]), "the formset's schema")
    v = anon.contact_validate(email="not-an-email").result
    check(not v.valid and "email" in v.errors, f"contact_validate flags the email: {v}")
    v2 = anon.order_lines_validate(customer="Ada", lines=[OrderLine(sku="ABC123", qty=1)]).result
    equal((v2.valid, v2.errors), (True, {}), "order_lines_validate of valid values")

    # Errors with fields.
    e = fails(lambda: anon.contact(name="Ada", email="nope", topic="support", message="Hello there!"),
              "invalid_args", 400, "contact with a bad email")
    check(e is not None and "email" in e.fields, f"the error names the email field: {e and e.fields}")
    e = fails(lambda: anon.set_task_state(task_id=1, state=cast(TaskState, "bogus")), "invalid_args", 400,
              "a value outside the enum")
    check(e is not None and "state" in e.fields, f"the error names the state field: {e and e.fields}")
    e = fails(lambda: anon.add_task(project_id=1, title="x" * 201), "invalid_args", 400, "a title too long")
    check(e is not None and "title" in e.fields, f"the error names the title field: {e and e.fields}")
    fails(lambda: anon.fail(), "conflict", 409, "fail")
    fails(lambda: anon.panic_for_tests(), "internal", 500, "panic_for_tests")
    fails(lambda: anon.admin_action(), "unauthorized", 401, "admin_action, anonymous")
    fails(lambda: Client(base, headers={"X-Test-User": "2"}).admin_action(), "forbidden", 403, "admin_action, not staff")
    equal(ada.admin_action().result.ok, True, "admin_action, staff")
    fails(lambda: Client("http://127.0.0.1:1").plan(), "network", 0, "no server")

    # Bearer tokens.
    fails(lambda: anon.secret(), "unauthorized", 401, "secret, anonymous")
    grace = Client(base, token=login(base, "grace"))
    lin = Client(base)
    tokens = lin.login("lin", "lin-pw")
    check(tokens.access != "" and tokens.refresh != "" and lin.token == tokens.access, "login sets the bearer token")
    cu = lin.current_user()
    equal(cu.id if cu else None, 3, "current_user after login")
    fails(lambda: Client(base).login("lin", "wrong"), "unauthorized", 401, "login with a wrong password")
    equal(grace.secret().result.secret, 42, "secret with a bearer token")
    cu = grace.current_user()
    equal(cu.id if cu else None, 2, "current_user with a bearer token")
    r10 = grace.update_my_name(name="Grace H.")
    equal(r10.targets, [Target(context="global", params={}), Target(context="user", params={"user_id": 2})], "update_my_name")
    equal(anon.user_profile(user_id=2).name, "Grace H.", "update_my_name changed the caller's name")
    fails(lambda: Client(base, token="not-a-token").secret(), "unauthorized", 401, "a bad bearer token")

    # Idempotency keys (docs/spec.md §12).
    before = anon.count().count
    b1 = anon.bump(idempotency_key="py-bump-1")
    equal((b1.result.count, b1.replayed, b1.targets), (before + 1, False, [Target(context="counter", params={})]), "bump")
    b2 = anon.bump(idempotency_key="py-bump-1")
    equal((b2.result.count, b2.replayed, b2.targets), (before + 1, True, b1.targets), "bump replayed")
    equal(anon.count().count, before + 1, "the replay did not run bump")
    equal(anon.bump().result.count, before + 2, "bump without a key runs")
    fails(lambda: anon.reset_all(idempotency_key="py-bump-1"), "idempotency_mismatch", 422, "a key reused for another function")

    print(f"python client: {checks} checks, {len(failures)} failed")
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/"))
