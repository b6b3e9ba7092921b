"""Login failure counters (rate limiting across API workers) and outbox autovacuum tuning.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The outbox is a queue: rows are inserted, updated once (published) and purged. Vacuum it early
# and often so dead tuples never pile up behind the relay's index scans.
OUTBOX_STORAGE = {
    "autovacuum_vacuum_scale_factor": "0.01",
    "autovacuum_vacuum_threshold": "1000",
    "autovacuum_analyze_scale_factor": "0.02",
    "autovacuum_vacuum_insert_scale_factor": "0.05",
    "fillfactor": "80",
}


def upgrade() -> None:
    op.create_table(
        "login_attempts",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_attempts")),
    )
    settings = ", ".join(f"{k} = {v}" for k, v in OUTBOX_STORAGE.items())
    op.execute(f"ALTER TABLE outbox SET ({settings})")


def downgrade() -> None:
    op.execute(f"ALTER TABLE outbox RESET ({', '.join(OUTBOX_STORAGE)})")
    op.drop_table("login_attempts")
