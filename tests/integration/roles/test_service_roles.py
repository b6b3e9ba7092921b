"""Each service's PostgreSQL role can do its job with the service's own code, and nothing more."""

from __future__ import annotations

import importlib.util
import uuid
from datetime import date, timedelta
from types import ModuleType

import pytest
from sqlalchemy import exc, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.db import PreparedStatements, SqlAlchemyUnitOfWork, make_session_factory
from app.ratelimit import LoginRateLimiter, RegistrationRateLimiter
from app.security import Passwords
from app.tasks import create_task, delete_task, get_owned_task, list_tasks, update_task
from app.users import InvalidCredentialsError, authenticate, register_user
from mailer.dedupe import PostgresDedupeStore
from relay.purge import purge_published
from relay.store import (
    BACKLOG,
    CLAIM_ANY,
    MARK_PUBLISHED,
    RECORD_FAILURE,
    PostgresOutboxStore,
    mark_parameters,
)
from scheduler.digest import DigestOptions, run_digest
from tests.support import ROOT

pytestmark = pytest.mark.integration

# Decision 0006: API: users, tasks, insert into outbox (plus its login counters); scheduler: read
# users/tasks, insert into outbox; relay: outbox only; mailer: processed_events only.
EXPECTED_GRANTS = {
    "todo_api": {
        # No DELETE on users: no endpoint deletes an account (migration 0005).
        "users": {"SELECT", "INSERT", "UPDATE"},
        "tasks": {"SELECT", "INSERT", "UPDATE", "DELETE"},
        "login_attempts": {"SELECT", "INSERT", "UPDATE", "DELETE"},
        "outbox": {"INSERT"},
    },
    "todo_scheduler": {"users": {"SELECT"}, "tasks": {"SELECT"}, "outbox": {"INSERT"}},
    "todo_relay": {
        "outbox": {"SELECT", "UPDATE", "DELETE"},
        # The relays' own bookkeeping (migration 0007): memberships and partition leases.
        "relay_members": {"SELECT", "INSERT", "UPDATE", "DELETE"},
        "relay_leases": {"SELECT", "INSERT", "UPDATE", "DELETE"},
    },
    "todo_mailer": {"processed_events": {"SELECT", "INSERT"}},
}

# No column-level grants: the API's outbox insert reads nothing back (no RETURNING).
EXPECTED_COLUMN_GRANTS: set[tuple[str, str, str, str]] = set()
_TABLE_GRANTS = """
SELECT grantee, table_name, privilege_type FROM information_schema.role_table_grants
WHERE grantee = ANY(:roles)
"""
_COLUMN_GRANTS = """
SELECT r.rolname, c.relname, a.attname, acl.privilege_type
FROM pg_attribute AS a
JOIN pg_class AS c ON c.oid = a.attrelid
CROSS JOIN LATERAL aclexplode(a.attacl) AS acl
JOIN pg_roles AS r ON r.oid = acl.grantee
WHERE r.rolname = ANY(:roles)
"""

_OUTBOX_ROW = (
    "INSERT INTO outbox (event_id, topic, key, type, payload, occurred_at) "
    "VALUES (gen_random_uuid(), 'events', 'k', 'task.created', '{}', now())"
)
REFUSED = {
    "todo_api": {
        "read processed_events": "SELECT count(*) FROM processed_events",
        "read the outbox": "SELECT payload FROM outbox",
        "mark events published": "UPDATE outbox SET published_at = now()",
        "delete outbox rows": "DELETE FROM outbox",
        "truncate users": "TRUNCATE users CASCADE",
        "delete users": "DELETE FROM users",
        "create a table": "CREATE TABLE api_scratch (id int)",
        "create a temporary table": "CREATE TEMP TABLE api_scratch (id int)",
        "rewrite the migration history": "UPDATE alembic_version SET version_num = 'x'",
    },
    "todo_scheduler": {
        "update tasks": "UPDATE tasks SET done = true",
        "delete tasks": "DELETE FROM tasks",
        "insert users": "INSERT INTO users (email) VALUES ('x')",
        "read the outbox": "SELECT event_id FROM outbox",
        "delete outbox rows": "DELETE FROM outbox",
        "read processed_events": "SELECT count(*) FROM processed_events",
        "read login counters": "SELECT count(*) FROM login_attempts",
    },
    "todo_relay": {
        "read tasks": "SELECT count(*) FROM tasks",
        "delete tasks": "DELETE FROM tasks",
        "read users": "SELECT email FROM users",
        "insert outbox rows": _OUTBOX_ROW,
        "read processed_events": "SELECT count(*) FROM processed_events",
        "read the operator audit": "SELECT count(*) FROM operator_actions",
        "create a table": "CREATE TABLE relay_scratch (id int)",
        "create a temporary table": "CREATE TEMP TABLE relay_scratch (id int)",
    },
    "todo_mailer": {
        "read users": "SELECT email FROM users",
        "read tasks": "SELECT title FROM tasks",
        "read the outbox": "SELECT payload FROM outbox",
        "forget processed events": "DELETE FROM processed_events",
        "rewrite processed events": "UPDATE processed_events SET processed_at = now()",
        "forge an operator action": (
            "INSERT INTO operator_actions (actor, tool, action, target) VALUES ('a', 'b', 'c', 'd')"
        ),
        "create a table": "CREATE TABLE mailer_scratch (id int)",
    },
}


def _migration(name: str) -> ModuleType:
    path = ROOT / "alembic" / "versions" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ROLE_LIMITS = _migration("0005_role_limits")
_ROLE_SETTINGS = """
SELECT r.rolname, r.rolconnlimit, coalesce(s.setconfig, '{}') AS config
FROM pg_roles AS r
LEFT JOIN pg_db_role_setting AS s ON s.setrole = r.oid AND s.setdatabase = 0
WHERE r.rolname = ANY(:roles)
"""


async def _insufficient_privilege(engine: AsyncEngine, statement: str) -> bool:
    try:
        async with engine.begin() as conn:
            await conn.execute(text(statement))
    except exc.ProgrammingError as error:
        return getattr(error.orig, "sqlstate", None) == "42501"
    return False


async def _seed_user_with_tasks(db: AsyncEngine, *, titles: dict[str, bool]) -> uuid.UUID:
    user_id = uuid.uuid4()
    async with db.begin() as conn:
        await conn.execute(
            text("INSERT INTO users (id, email, password_hash) VALUES (:id, :email, 'x')"),
            {"id": user_id, "email": f"{user_id}@example.com"},
        )
        for title, done in titles.items():
            await conn.execute(
                text("INSERT INTO tasks (id, user_id, title, done) VALUES (:id, :u, :t, :d)"),
                {"id": uuid.uuid4(), "u": user_id, "t": title, "d": done},
            )
    return user_id


async def test_each_role_holds_exactly_its_grants_and_no_attributes(db: AsyncEngine) -> None:
    async with db.connect() as conn:
        rows = await conn.execute(text(_TABLE_GRANTS), {"roles": list(EXPECTED_GRANTS)})
        columns = await conn.execute(text(_COLUMN_GRANTS), {"roles": list(EXPECTED_GRANTS)})
        attributes = await conn.execute(
            text(
                "SELECT rolname FROM pg_roles WHERE rolname = ANY(:roles) AND "
                "(rolsuper OR rolcreaterole OR rolcreatedb OR rolbypassrls OR rolreplication)"
            ),
            {"roles": list(EXPECTED_GRANTS)},
        )
        privileged = attributes.scalars().all()
    actual: dict[str, dict[str, set[str]]] = {role: {} for role in EXPECTED_GRANTS}
    for grantee, table, privilege in rows:
        actual[grantee].setdefault(table, set()).add(privilege)
    assert actual == EXPECTED_GRANTS
    assert {tuple(row) for row in columns} == EXPECTED_COLUMN_GRANTS
    assert privileged == []


async def test_each_role_has_its_statement_timeout_and_connection_limit(db: AsyncEngine) -> None:
    async with db.connect() as conn:
        rows = (await conn.execute(text(_ROLE_SETTINGS), {"roles": list(EXPECTED_GRANTS)})).all()
    actual = {
        role: (limit, dict(item.split("=", 1) for item in config)) for role, limit, config in rows
    }

    assert actual == {
        role: (ROLE_LIMITS.CONNECTION_LIMITS[role], ROLE_LIMITS.ROLE_SETTINGS[role])
        for role in EXPECTED_GRANTS
    }
    assert actual["todo_api"][1]["statement_timeout"] == "5s"


@pytest.mark.parametrize(
    ("role", "statement"),
    [
        pytest.param(role, statement, id=f"{role.removeprefix('todo_')} cannot {what}")
        for role, refused in REFUSED.items()
        for what, statement in refused.items()
    ],
)
async def test_a_role_is_refused_what_its_service_never_does(
    db: AsyncEngine, role_engines: dict[str, AsyncEngine], role: str, statement: str
) -> None:
    assert await _insufficient_privilege(role_engines[role], statement)


async def test_the_api_role_runs_accounts_and_tasks_through_the_domain_code(
    db: AsyncEngine, role_engines: dict[str, AsyncEngine]
) -> None:
    sessions = make_session_factory(role_engines["todo_api"])
    passwords = Passwords(memory_kib=8 * 1024, time_cost=1, parallelism=1)
    limiter = LoginRateLimiter(
        max_failures_per_email=5, max_failures_per_client=50, window=timedelta(minutes=5)
    )
    registrations = RegistrationRateLimiter(
        max_per_client=5, max_total=50, window=timedelta(minutes=5)
    )
    async with SqlAlchemyUnitOfWork(sessions) as uow:
        user = await register_user(
            uow=uow, passwords=passwords, limiter=registrations, email="role@example.com",
            password="correct horse", client="127.0.0.1",
        )  # fmt: skip
    async with SqlAlchemyUnitOfWork(sessions) as uow:
        with pytest.raises(InvalidCredentialsError):
            await authenticate(
                uow=uow, passwords=passwords, limiter=limiter, email=user.email,
                password="wrong password", client="127.0.0.1",
            )  # fmt: skip
    async with SqlAlchemyUnitOfWork(sessions) as uow:
        await authenticate(
            uow=uow, passwords=passwords, limiter=limiter, email=user.email,
            password="correct horse", client="127.0.0.1",
        )  # fmt: skip
    autocommit = role_engines["todo_api"].execution_options(isolation_level="AUTOCOMMIT")
    async with autocommit.connect() as conn:
        task = await create_task(conn, user_id=user.id, title="write the runbook")
    assert task is not None
    async with SqlAlchemyUnitOfWork(sessions) as uow:
        owned = await get_owned_task(
            session=uow.session, user_id=user.id, task_id=task.id, for_update=True
        )
        assert owned is not None
        await update_task(uow=uow, task=owned, title="write the runbook today", done=True)
    async with autocommit.connect() as conn:
        listed = await list_tasks(
            await PreparedStatements.on(conn), user_id=user.id, done=True, limit=10, offset=0
        )
    assert listed is not None
    tasks, counts = listed
    assert (counts.done, tasks[0]["title"]) == (1, "write the runbook today")
    async with SqlAlchemyUnitOfWork(sessions) as uow:
        owned = await get_owned_task(session=uow.session, user_id=user.id, task_id=task.id)
        assert owned is not None
        await delete_task(uow=uow, task=owned)

    async with db.connect() as conn:
        types = (await conn.execute(text("SELECT type FROM outbox ORDER BY id"))).scalars().all()
    assert types == [
        "user.registered", "task.created", "task.updated", "task.completed", "task.deleted",
    ]  # fmt: skip


async def test_the_scheduler_role_writes_each_digest_once_through_the_digest_job(
    db: AsyncEngine, role_engines: dict[str, AsyncEngine]
) -> None:
    await _seed_user_with_tasks(db, titles={"pay rent": False, "call mum": True})
    sessions = make_session_factory(role_engines["todo_scheduler"])
    day = date(2026, 11, 26)

    for _ in range(2):
        await run_digest(session_factory=sessions, day=day, options=DigestOptions())

    async with db.connect() as conn:
        payloads = (await conn.execute(text("SELECT payload FROM outbox"))).scalars().all()
    assert [p["stats"] for p in payloads] == [{"total": 2, "done": 1, "undone": 1}]


async def test_the_relay_role_claims_publishes_parks_and_purges_with_its_own_statements(
    db: AsyncEngine, role_engines: dict[str, AsyncEngine]
) -> None:
    async with db.begin() as conn:
        for _ in range(3):
            await conn.execute(text(_OUTBOX_ROW))
    relay = role_engines["todo_relay"]
    async with relay.begin() as conn:
        await conn.execute(text("LISTEN outbox"))
        assert await conn.scalar(text("SELECT pg_try_advisory_xact_lock(42)"))
        ids = [row.id for row in await conn.execute(CLAIM_ANY, {"batch": 10, "excluding": []})]
        await conn.execute(
            MARK_PUBLISHED, mark_parameters([(i, 0, n) for n, i in enumerate(ids[:2])])
        )
        failure = {"id": ids[2], "error": "message too large", "max_attempts": 1}
        parked = (await conn.execute(RECORD_FAILURE, failure)).one().parked
        backlog = (await conn.execute(BACKLOG)).one()
    purged = await purge_published(PostgresOutboxStore(relay), retention_seconds=-60, batch_size=10)
    assert (len(ids), parked, backlog.unpublished, purged) == (3, True, 0, 2)


async def test_the_mailer_role_claims_and_records_events_in_its_dedupe_table(
    db: AsyncEngine, role_engines: dict[str, AsyncEngine]
) -> None:
    store = PostgresDedupeStore(role_engines["todo_mailer"])
    event_id, other = uuid.uuid4(), uuid.uuid4()

    async with store.claim(event_id, message_id="<a@t>") as claim:
        assert claim is not None
        await claim.commit()
    async with store.claim(event_id, message_id="<a@t>") as duplicate:
        assert duplicate is None
    await store.record(other, message_id="<b@t>")

    async with db.connect() as conn:
        rows = await conn.execute(text("SELECT event_id, message_id FROM processed_events"))
        recorded = {row.event_id: row.message_id for row in rows}
    assert recorded == {event_id: "<a@t>", other: "<b@t>"}
