"""NOTIFY the relay from a statement-level trigger on the outbox, not from every writer.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26

Every INSERT statement on `outbox` wakes the relay once, at commit (NOTIFY is transactional),
so writers save the `SELECT pg_notify(...)` round trip. See docs/decisions/0007.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The channel is app.outbox.OUTBOX_CHANNEL, spelled out: a migration must not change with the code.
CREATE_FUNCTION = """
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('outbox', '');
    RETURN NULL;
END
$$
"""
CREATE_TRIGGER = """
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify()
"""


def upgrade() -> None:
    op.execute(CREATE_FUNCTION)
    op.execute(CREATE_TRIGGER)


def downgrade() -> None:
    op.execute("DROP TRIGGER outbox_notify ON outbox")
    op.execute("DROP FUNCTION outbox_notify()")
