"""The event journey: where Kafka put each record, the Message-ID each email got, and a log
of what operators did to parked rows and dead letters.

Revision ID: 0008
Revises: 0007

`outbox.kafka_partition` / `kafka_offset` are written by the relay in the statement that marks
a row published, from the broker's acknowledgement. `processed_events.message_id` is written by
the mailer in its dedupe claim; both services' table-level grants (0003) cover the new
columns. `operator_actions` records who replayed or discarded what, and when. It has no grants:
the operator commands (`python -m relay trace|parked`, `python -m mailer dlq`) read across the
services' tables, so they run as the schema owner, and no service role gains anything.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable columns without a default: adding them rewrites no rows.
    op.add_column("outbox", sa.Column("kafka_partition", sa.Integer(), nullable=True))
    op.add_column("outbox", sa.Column("kafka_offset", sa.BigInteger(), nullable=True))
    op.add_column("processed_events", sa.Column("message_id", sa.Text(), nullable=True))
    op.create_table(
        "operator_actions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("tool", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_actions")),
    )
    op.create_index(
        op.f("ix_operator_actions_target"), "operator_actions", ["target"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_operator_actions_target"), table_name="operator_actions")
    op.drop_table("operator_actions")
    op.drop_column("processed_events", "message_id")
    op.drop_column("outbox", "kafka_offset")
    op.drop_column("outbox", "kafka_partition")
