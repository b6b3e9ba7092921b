"""Tighter service roles: no DELETE on users for the API, no TEMP tables, and per-role
statement timeouts and connection limits.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

TEMP belongs to PUBLIC on every new database; this database takes it back (no service makes
temporary tables). CONNECT to *other* databases is the business of their owners:
compose/postgres/service-roles.psql, run as the superuser, takes PUBLIC's CONNECT away from the
cluster's own `postgres` and `template1`. Role settings (`ALTER ROLE ... SET`, `CONNECTION LIMIT`)
are cluster-wide and need a superuser or CREATEROLE: applied here when the migrating role has
that (tests, a superuser-run upgrade), and by service-roles.psql on every deployment, which
runs as the superuser. See docs/decisions/0006.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

API, SCHEDULER, RELAY, MAILER = "todo_api", "todo_scheduler", "todo_relay", "todo_mailer"
ROLES = (API, SCHEDULER, RELAY, MAILER)

# A request waits at most this long on a statement or a lock (a locked table was a 30-40 s hang;
# now it is a 503). The scheduler's set-based digest of 100,000 users takes ~9 s, the relay's
# batches and the mailer's claims well under a second. The same values are in
# compose/postgres/service-roles.psql; tests/integration/roles compares the two.
ROLE_SETTINGS: dict[str, dict[str, str]] = {
    API: {
        "statement_timeout": "5s",
        "lock_timeout": "3s",
        "idle_in_transaction_session_timeout": "30s",
    },
    SCHEDULER: {"statement_timeout": "10min"},
    RELAY: {"statement_timeout": "60s"},
    MAILER: {"statement_timeout": "60s"},
}
# An API worker has two pools of DB_POOL_SIZE (16) each; room for a few workers and a restart.
CONNECTION_LIMITS = {API: 100, SCHEDULER: 10, RELAY: 20, MAILER: 40}

CAN_ALTER_ROLES = "SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user"


def _alter_roles(*, reset: bool) -> None:
    if not op.get_bind().exec_driver_sql(CAN_ALTER_ROLES).scalar():
        return
    for role, settings in ROLE_SETTINGS.items():
        for name, value in settings.items():
            op.execute(f"ALTER ROLE {role} RESET {name}" if reset else
                       f"ALTER ROLE {role} SET {name} = '{value}'")  # fmt: skip
    for role, limit in CONNECTION_LIMITS.items():
        op.execute(f"ALTER ROLE {role} CONNECTION LIMIT {-1 if reset else limit}")


def upgrade() -> None:
    # No endpoint deletes an account; an account's tasks go with it by ON DELETE CASCADE.
    op.execute(f"REVOKE DELETE ON users FROM {API}")
    op.execute(
        "DO $$ BEGIN EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', "
        "current_database()); END $$"
    )
    _alter_roles(reset=False)


def downgrade() -> None:
    _alter_roles(reset=True)
    op.execute(
        "DO $$ BEGIN EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO PUBLIC', "
        "current_database()); END $$"
    )
    op.execute(f"GRANT DELETE ON users TO {API}")
