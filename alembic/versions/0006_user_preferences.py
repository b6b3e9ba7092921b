"""Digest preferences on users: the zone whose midnight ends their day, and digest on/off.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

Existing users keep the digest they had: on, at midnight of the zone the scheduler used for
everybody (DIGEST_TIMEZONE in the migration's environment, UTC when unset). The columns need no
grants of their own: the API (SELECT, UPDATE) and the scheduler (SELECT) hold table-level grants
on `users` since 0003, which cover new columns; the relay and the mailer still see none of it.
The partial index serves the scheduler's "users of these zones who want a digest" pages.
"""

import os
import zoneinfo
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "users", sa.Column("timezone", sa.Text(), nullable=False, server_default=sa.text("'UTC'"))
    )
    op.add_column(
        "users",
        sa.Column("digest_enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    # Adding a column with a constant default rewrites no rows; the UPDATE does, so only pay it
    # when the deployment's digests ran in another zone than the default.
    zone = os.environ.get("DIGEST_TIMEZONE", "UTC") or "UTC"
    if zone != "UTC":
        zoneinfo.ZoneInfo(zone)  # an unknown zone fails the migration, not the night's digest
        op.execute(sa.text("UPDATE users SET timezone = :zone").bindparams(zone=zone))
    op.create_index(
        "ix_users_timezone_id",
        "users",
        ["timezone", "id"],
        postgresql_where=sa.text("digest_enabled"),
    )


def downgrade() -> None:
    op.drop_index("ix_users_timezone_id", table_name="users")
    op.drop_column("users", "digest_enabled")
    op.drop_column("users", "timezone")
