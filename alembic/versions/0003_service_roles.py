"""Least-privilege roles: one PostgreSQL role per service, granted only what its job needs.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26

The roles are created NOLOGIN when missing; whoever deploys gives them LOGIN and a password
(compose/postgres/service-roles.psql, scripts/dev.sh). See docs/decisions/0006.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

API, SCHEDULER, RELAY, MAILER = "todo_api", "todo_scheduler", "todo_relay", "todo_mailer"
ROLES = (API, SCHEDULER, RELAY, MAILER)

# Exactly what each service does, nothing more. The outbox id is an identity column, whose
# sequence needs no grant of its own. SELECT ... FOR UPDATE needs UPDATE, which the relay has.
GRANTS: dict[str, tuple[str, ...]] = {
    API: (
        "SELECT, INSERT, UPDATE, DELETE ON users, tasks, login_attempts",
        "INSERT ON outbox",
    ),
    # The scheduler inserts digests with a target-less ON CONFLICT DO NOTHING: the form
    # `ON CONFLICT (event_id)` would need SELECT on outbox.event_id as well.
    SCHEDULER: ("SELECT ON users, tasks", "INSERT ON outbox"),
    RELAY: ("SELECT, UPDATE, DELETE ON outbox",),
    MAILER: ("SELECT, INSERT ON processed_events",),
}
TABLES = "users, tasks, login_attempts, outbox, processed_events"

# Roles are cluster-wide while this migration runs once per database, possibly in several
# databases at once (parallel test sessions): a concurrent CREATE ROLE of the same name fails
# with duplicate_object, or unique_violation on pg_authid, and either means "it exists now".
CREATE_ROLE = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
        CREATE ROLE {role} NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$
"""


def upgrade() -> None:
    for role in ROLES:
        op.execute(CREATE_ROLE.format(role=role))
    for role, grants in GRANTS.items():
        for grant in grants:
            op.execute(f"GRANT {grant} TO {role}")


def downgrade() -> None:
    # The roles stay: they are shared by every database of the cluster and may own sessions.
    op.execute(f"REVOKE ALL ON {TABLES} FROM {', '.join(ROLES)}")
